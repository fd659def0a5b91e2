"""Depth at 2D joints, as the PoseKit app samples it (``DepthSampler.swift``), vectorised over joints.

A depth map (h, w) float32 metres and an optional ARKit confidence map (h, w) uint8 (0 low, 1 medium, 2 high;
a missing map counts as 2) are sampled at normalised image positions ``(u, v)`` in 0..1, so the depth map may
have any resolution (LiDAR's 256x192 under a 1920x1440 colour image).

For each joint:

1. pixel ``(x, y) = (round((w-1) u), round((h-1) v))`` (rounding half away from zero, in float32 as the app);
2. if the depth there is valid (finite, > 0) and its level is at least the mode's minimum: that depth,
   confidence ``level / 2``;
3. else scan the ``(2r+1)^2`` window around it: skip invalid depth and levels below the minimum, keep only the
   samples at the highest level seen; the depth is the upper median (``sorted[count // 2]``), the confidence
   ``best level / 2``;
4. no sample at all: NaN depth, confidence 0.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from posekit.coords import Intrinsics, backproject

DepthMode = Literal["strict", "balanced", "lenient"]

DEPTH_MODES: dict[str, tuple[int, int]] = {"strict": (2, 2), "balanced": (1, 3), "lenient": (0, 3)}
"""Mode -> (minimum confidence level, search radius in depth pixels), as in the app."""

MISSING_CONFIDENCE_LEVEL = 2
"""Level of every pixel when there is no confidence map, or outside it (the app's ``?? 2``)."""


def _round_half_away(v: np.ndarray) -> np.ndarray:
    """Swift's ``Float.rounded()``: to nearest, ties away from zero (numpy's ``round`` ties to even)."""
    a = np.abs(v)
    r = np.floor(a)
    return np.copysign(r + (a - r >= 0.5), v)


def depth_pixels(uv: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The app's pixel of a normalised position in a map of ``size = (w, h)``.

    Args:
        uv: (..., 2) normalised positions (NaN allowed).

    Returns:
        ``(x, y)`` int64 arrays of shape (...); far-off or NaN positions land outside the map (-1 or beyond),
        never on a valid pixel by accident.
    """
    w, h = size
    u = np.asarray(uv[..., 0], dtype=np.float32)
    v = np.asarray(uv[..., 1], dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        fx = _round_half_away(np.float32(w - 1) * u)
        fy = _round_half_away(np.float32(h - 1) * v)
    # Positions beyond the map plus any search radius cannot hit a pixel; clamp before the int cast.
    far = 1 << 20
    fx = np.where(np.isfinite(fx), np.clip(fx, -far, far), -far)
    fy = np.where(np.isfinite(fy), np.clip(fy, -far, far), -far)
    return fx.astype(np.int64), fy.astype(np.int64)


def sample_depth(
    uv: np.ndarray,
    depth: np.ndarray,
    confidence: np.ndarray | None = None,
    mode: DepthMode = "balanced",
    where: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample depth at normalised positions, exactly as the app's ``DepthSampler``.

    Args:
        uv: (..., 2) normalised positions in 0..1 of the image (x right, y down).
        depth: (h, w) float metres; NaN, 0 and negative values are invalid.
        confidence: (h, w) uint8 levels 0..2 indexed at the same pixel as ``depth``, or None (all level 2).
        mode: ``"strict"`` (level >= 2, radius 2), ``"balanced"`` (>= 1, radius 3), ``"lenient"`` (>= 0, 3).
        where: (...) bool, sample only these joints (e.g. ``score >= min_score``); the others get NaN.

    Returns:
        ``(depth (...), confidence (...))``: float64 metres (NaN where no sample) and 0..1 confidences
        (``level / 2``; 0 where no sample).
    """
    if mode not in DEPTH_MODES:
        raise ValueError(f"depth mode: expected one of {tuple(DEPTH_MODES)}, got {mode!r}")
    uv = np.asarray(uv, dtype=np.float64)
    if uv.shape[-1:] != (2,):
        raise ValueError(f"sample_depth: expected uv of shape (..., 2), got {uv.shape}")
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f"sample_depth: expected a (h, w) depth map, got shape {depth.shape}")
    min_level, radius = DEPTH_MODES[mode]
    h, w = depth.shape
    out_shape = uv.shape[:-1]
    if h == 0 or w == 0:
        return np.full(out_shape, np.nan), np.zeros(out_shape)

    x, y = depth_pixels(uv.reshape(-1, 2), (w, h))  # (N,)
    offsets = np.arange(-radius, radius + 1)
    # Window (N, S) in the app's scan order (dy outer, dx inner); the centre is offset (0, 0).
    wy = (y[:, None, None] + offsets[None, :, None]).repeat(offsets.size, axis=2).reshape(x.size, -1)
    wx = (x[:, None, None] + offsets[None, None, :]).repeat(offsets.size, axis=1).reshape(x.size, -1)
    d, level = _lookup(depth, confidence, wx, wy)
    ok = np.isfinite(d) & (d > 0) & (level >= min_level)
    if where is not None:
        ok &= np.asarray(where, dtype=bool).reshape(-1, 1)

    centre = ok[:, ok.shape[1] // 2]
    best = np.where(ok, level, -1).max(axis=1)
    keep = ok & (level == best[:, None])
    count = keep.sum(axis=1)
    ranked = np.sort(np.where(keep, d, np.inf), axis=1)
    median = np.take_along_axis(ranked, (count // 2)[:, None], axis=1)[:, 0]

    c = ok.shape[1] // 2
    out_depth = np.where(centre, d[:, c], np.where(count > 0, median, np.nan))
    out_level = np.where(centre, level[:, c], np.where(count > 0, best, 0))
    return out_depth.reshape(out_shape), (out_level / 2.0).reshape(out_shape)


def _lookup(
    depth: np.ndarray, confidence: np.ndarray | None, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Depth (NaN outside the map) and confidence level (2 outside the confidence map or without one)."""
    h, w = depth.shape
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    d = np.where(inside, depth[np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)].astype(np.float64), np.nan)
    if confidence is None:
        return d, np.full(x.shape, MISSING_CONFIDENCE_LEVEL, dtype=np.int64)
    confidence = np.asarray(confidence)
    if confidence.ndim != 2:
        raise ValueError(f"sample_depth: expected a (h, w) confidence map, got shape {confidence.shape}")
    ch, cw = confidence.shape
    c_inside = (x >= 0) & (x < cw) & (y >= 0) & (y < ch)
    if ch == 0 or cw == 0:
        return d, np.full(x.shape, MISSING_CONFIDENCE_LEVEL, dtype=np.int64)
    level = confidence[np.clip(y, 0, ch - 1), np.clip(x, 0, cw - 1)].astype(np.int64)
    return d, np.where(c_inside, level, MISSING_CONFIDENCE_LEVEL)


def lift_keypoints(
    uv: np.ndarray,
    depth: np.ndarray,
    confidence: np.ndarray | None,
    intrinsics: Intrinsics,
    image_size: tuple[int, int],
    mode: DepthMode = "balanced",
    where: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample depth at normalised joints and back-project them, as the app's ``computeCamera3D``.

    Args:
        uv: (..., 2) normalised positions of the joints in the image of ``image_size``.
        depth, confidence, mode, where: as in :func:`sample_depth`.
        intrinsics: ``(fx, fy, cx, cy)`` in pixels of the image of ``image_size = (W, H)``.

    Returns:
        ``(points (..., 3), depth_confidence (...))``: camera-frame metres (x right, y down, z forward; NaN
        without a depth sample) and 0..1 confidences.
    """
    z, conf = sample_depth(uv, depth, confidence, mode, where)
    pixels = np.asarray(uv, dtype=np.float64) * np.array(image_size, dtype=np.float64)
    return backproject(pixels, z, intrinsics), conf
