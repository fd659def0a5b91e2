"""Decoding the PoseKit network's four outputs into one pose per input (upstream ``pkmodelDecode``, 'output').

Per input b (vectorised over the batch and the joints; G = 48 grid cells, threshold ``hm_th = 0.1``):

1. heatmaps below ``hm_th`` are set to 0;
2. the centre cell ``(cx, cy)`` is the (first, row-major) argmax of ``centers * W`` with
   ``W[y, x] = 1 / (sqrt((x - 24)^2 + (y - 24)^2) + 1.8)`` (upstream ``center_weight_origin.npy``);
3. joint n's regressed cell is ``rx = int(regs[2n, cy, cx] + 0.5) + cx``, ``ry = int(regs[2n+1, cy, cx] + 0.5)
   + cy``, ``int`` truncating toward zero (numpy ``astype(int32)``);
4. its peak ``(px, py)`` is the argmax of ``heatmaps[n] / (sqrt((x - rx)^2 + (y - ry)^2) + 1.8)``;
5. ``score = heatmaps[n, py, px]``, ``x = (px + offsets[2n, py, px]) / G``, ``y = (py + offsets[2n+1, py, px])
   / G``: 0..1 of the 192x192 input. A joint with ``score < hm_th`` is invalid: its score is set to 0 and it
   keeps its decoded position (the library's convention for missing 2D keypoints).

The weighting steps run in float64 (as upstream numpy does), float32 on devices without float64 (MPS). The
centre weighting uses the float64 table (upstream stores the same table as float32).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import torch

from posekit.skeletons import derive_pelvis_neck

HM_THRESHOLD = 0.1
CENTER_BIAS = 1.8  # added to every distance of the weighting, as upstream
REG_LIMIT = 1.0e6  # regs are clamped to +-this before the integer cast (upstream's int32 overflows instead)


class PoseKitDecoding(NamedTuple):
    """Decoded joints of B inputs, tensors on the device of the network outputs.

    Attributes:
        keypoints: (B, K, 2) float32, x and y in 0..1 of the network input (multiply by 192 for its pixels).
        scores: (B, K) float32, the thresholded heatmap value at the peak; 0 for invalid joints.
        center: (B, 2) int64, the chosen centre cell ``(cx, cy)`` of the 48x48 grid.
        center_score: (B,) float32, ``centers`` at that cell (before weighting): the person confidence.
    """

    keypoints: torch.Tensor
    scores: torch.Tensor
    center: torch.Tensor
    center_score: torch.Tensor


def _exact_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


def center_weight(
    grid: int = 48, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """(grid, grid) ``W[y, x] = 1 / (sqrt((x - grid/2)^2 + (y - grid/2)^2) + 1.8)``."""
    r = torch.arange(grid, device=device, dtype=dtype) - grid // 2
    return 1.0 / (torch.sqrt(r[None, :] ** 2 + r[:, None] ** 2) + CENTER_BIAS)


def _check_outputs(heatmaps: torch.Tensor, centers: torch.Tensor, regs: torch.Tensor, offsets: torch.Tensor) -> None:
    if heatmaps.ndim != 4 or heatmaps.shape[-1] != heatmaps.shape[-2]:
        raise ValueError(f"heatmaps: expected shape (B, K, G, G), got {tuple(heatmaps.shape)}")
    b, k, g, _ = heatmaps.shape
    expected = {"centers": (b, 1, g, g), "regs": (b, 2 * k, g, g), "offsets": (b, 2 * k, g, g)}
    for name, t in (("centers", centers), ("regs", regs), ("offsets", offsets)):
        if tuple(t.shape) != expected[name]:
            raise ValueError(
                f"{name}: expected shape {expected[name]} to go with heatmaps {tuple(heatmaps.shape)}, "
                f"got {tuple(t.shape)}"
            )


@torch.no_grad()
def decode(
    heatmaps: torch.Tensor,
    centers: torch.Tensor,
    regs: torch.Tensor,
    offsets: torch.Tensor,
    threshold: float = HM_THRESHOLD,
) -> PoseKitDecoding:
    """Decode network outputs; see the module docstring for the exact steps.

    CPU tensors are decoded with numpy (single-threaded: for 48x48 maps, torch's intra-op threads cost more
    than they save), other devices with torch where the tensors are. Both give the same results.

    Args:
        heatmaps: (B, K, G, G) in 0..1.
        centers: (B, 1, G, G) in 0..1.
        regs: (B, 2K, G, G) joint positions relative to the centre cell, in cells (x, y interleaved).
        offsets: (B, 2K, G, G) sub-cell refinements, in cells (x, y interleaved).
        threshold: heatmap threshold ``hm_th``.

    Returns:
        :class:`PoseKitDecoding` on the outputs' device.
    """
    _check_outputs(heatmaps, centers, regs, offsets)
    if heatmaps.device.type == "cpu":
        arrays = (t.detach().float().numpy() for t in (heatmaps, centers, regs, offsets))
        return PoseKitDecoding(*(torch.from_numpy(a) for a in decode_numpy(*arrays, threshold=threshold)))
    return decode_torch(heatmaps, centers, regs, offsets, threshold)


@functools.lru_cache(maxsize=4)
def _center_weight_np(grid: int) -> np.ndarray:
    r = np.arange(grid, dtype=np.float64) - grid // 2
    w = 1.0 / (np.sqrt(r[None, :] ** 2 + r[:, None] ** 2) + CENTER_BIAS)
    w.flags.writeable = False
    return w


def decode_numpy(
    heatmaps: np.ndarray,
    centers: np.ndarray,
    regs: np.ndarray,
    offsets: np.ndarray,
    threshold: float = HM_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`decode` on float32 numpy arrays; returns ``(keypoints, scores, center, center_score)``."""
    b, k, g, _ = heatmaps.shape
    batch = np.arange(b)
    hm = np.where(heatmaps >= threshold, heatmaps, np.float32(0))

    center_index = (centers[:, 0] * _center_weight_np(g)).reshape(b, g * g).argmax(axis=1)
    cy, cx = np.divmod(center_index, g)

    reg = regs[batch, :, cy, cx].astype(np.float64).clip(-REG_LIMIT, REG_LIMIT).reshape(b, k, 2)
    rx = np.trunc(reg[..., 0] + 0.5).astype(np.int64) + cx[:, None]  # (B, K)
    ry = np.trunc(reg[..., 1] + 0.5).astype(np.int64) + cy[:, None]

    cells = np.arange(g, dtype=np.float64)
    dx2 = (cells - rx[..., None]) ** 2  # (B, K, G) over x
    dy2 = (cells - ry[..., None]) ** 2  # (B, K, G) over y
    distance = np.sqrt(dy2[..., :, None] + dx2[..., None, :]) + CENTER_BIAS  # (B, K, G, G)
    peak_index = (hm / distance).reshape(b, k, g * g).argmax(axis=2)  # (B, K), float64 as upstream
    py, px = np.divmod(peak_index, g)

    scores = np.take_along_axis(hm.reshape(b, k, g * g), peak_index[..., None], axis=2)[..., 0]
    sub = np.take_along_axis(offsets.reshape(b, k, 2, g * g), peak_index[:, :, None, None], axis=3)[..., 0]
    keypoints = (np.stack([px, py], axis=-1) + sub.astype(np.float64)) / g
    scores = np.where(scores >= threshold, scores, np.float32(0))
    return (
        keypoints.astype(np.float32),
        scores.astype(np.float32),
        np.stack([cx, cy], axis=-1).astype(np.int64),
        centers[batch, 0, cy, cx].astype(np.float32),
    )


def decode_torch(
    heatmaps: torch.Tensor,
    centers: torch.Tensor,
    regs: torch.Tensor,
    offsets: torch.Tensor,
    threshold: float = HM_THRESHOLD,
) -> PoseKitDecoding:
    """:func:`decode` with torch ops on the tensors' device (CUDA, MPS; CPU works too)."""
    b, k, g, _ = heatmaps.shape
    device = heatmaps.device
    exact = _exact_dtype(device)
    batch = torch.arange(b, device=device)

    hm = heatmaps.float()
    hm = torch.where(hm >= threshold, hm, torch.zeros_like(hm))

    weighted_centers = centers[:, 0].to(exact) * center_weight(g, device, exact)
    center_index = weighted_centers.reshape(b, g * g).argmax(dim=1)  # first maximum, row-major
    cy, cx = center_index // g, center_index % g

    reg = regs[batch, :, cy, cx].to(exact).clamp(-REG_LIMIT, REG_LIMIT).reshape(b, k, 2)
    rx = torch.trunc(reg[..., 0] + 0.5).long() + cx[:, None]  # (B, K)
    ry = torch.trunc(reg[..., 1] + 0.5).long() + cy[:, None]

    cells = torch.arange(g, device=device, dtype=exact)
    dx2 = (cells[None, None, :] - rx[..., None].to(exact)) ** 2  # (B, K, G) over x
    dy2 = (cells[None, None, :] - ry[..., None].to(exact)) ** 2  # (B, K, G) over y
    distance = torch.sqrt(dy2[..., :, None] + dx2[..., None, :]) + CENTER_BIAS  # (B, K, G, G)
    peak_index = (hm.to(exact) / distance).reshape(b, k, g * g).argmax(dim=2)  # (B, K)
    py, px = peak_index // g, peak_index % g

    scores = hm.reshape(b, k, g * g).gather(2, peak_index[..., None])[..., 0]
    sub = offsets.float().reshape(b, k, 2, g * g).gather(3, peak_index[:, :, None, None].expand(b, k, 2, 1))[..., 0]
    keypoints = (torch.stack([px, py], dim=-1).to(exact) + sub.to(exact)) / g
    scores = torch.where(scores >= threshold, scores, torch.zeros_like(scores))
    return PoseKitDecoding(
        keypoints=keypoints.float(),
        scores=scores,
        center=torch.stack([cx, cy], dim=-1),
        center_score=centers[batch, 0, cy, cx].float(),
    )


def add_pelvis_neck(keypoints: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO-17 joints (..., 17, 2) and scores (..., 17) -> COCO17+2 (..., 19, 2), (..., 19).

    Pelvis and Neck are the midpoints of the hips and of the shoulders, scored with the minimum of the two
    (the app's ``buildJoints2D``): apply it to keypoints mapped to the original image, as the app does.
    """
    return derive_pelvis_neck(np.asarray(keypoints), np.asarray(scores))
