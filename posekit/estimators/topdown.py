"""Top-down person crops for RTMW3D: boxes -> centre/scale -> affine warp -> normalised input, and back.

Conventions (mmpose 1.3's ``GetBBoxCenterScale`` + ``TopdownAffine`` without UDP, as RTMW3D's config uses):

* A box ``[x1, y1, x2, y2]`` (pixels) becomes ``center = (x1 + x2, y1 + y2) / 2`` and
  ``scale = (x2 - x1, y2 - y1) * 1.25``; the scale is then widened (never shrunk) to the crop's aspect
  ``W / H = 288 / 384``. All in float32, as mmpose computes it.
* The crop is the affine map sending ``center`` to the crop centre ``(W / 2, H / 2)`` with ``W / scale_w``
  pixels per image pixel (no rotation): image point ``p`` -> crop point ``(p - center) * W / scale_w +
  (W / 2, H / 2)``. Its inverse, :func:`crop_to_image`, is ``q / (W, H) * scale + center - scale / 2``.
* Pixels are sampled exactly as OpenCV < 4.11's ``cv2.warpAffine(..., INTER_LINEAR, BORDER_CONSTANT 0)``
  (the OpenCV that mmpose's reference runs with) does it: source positions in 1/32 pixel fixed point,
  bilinear weights in 15-bit fixed point, rounding to uint8. :func:`warp_affine` reproduces that bit for bit,
  in torch, on the model's device. (OpenCV 4.11+ rewrote ``warpAffine`` in floating point: its crops differ
  from mmpose's by up to 4 grey levels on ~9% of pixels, which would make the pipeline depend on the
  installed OpenCV.)
* The network input is RGB, ``(x - mean) / std`` with mmpose's ImageNet mean/std, shape (B, 3, H, W).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

INPUT_SIZE: tuple[int, int] = (288, 384)
"""RTMW3D's crop size ``(W, H)`` in pixels."""

BBOX_PADDING = 1.25
MEAN_RGB = (123.675, 116.28, 103.53)
STD_RGB = (58.395, 57.12, 57.375)

_AB_BITS = 10  # OpenCV's fixed-point precision of the affine coefficients
_INTER_BITS = 5  # 1/32 pixel sub-positions


def bbox_to_center_scale(
    bboxes: np.ndarray, padding: float = BBOX_PADDING, input_size: tuple[int, int] = INPUT_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes -> crop centres and scales (mmpose's ``bbox_xyxy2cs`` + ``_fix_aspect_ratio``).

    Args:
        bboxes: (M, 4) ``[x1, y1, x2, y2]`` pixels.
        padding: factor applied to the box size.
        input_size: crop ``(W, H)``; the scale is widened to its aspect ratio.

    Returns:
        center (M, 2) and scale (M, 2) ``(w, h)``, float32 pixels of the image.
    """
    boxes = np.asarray(bboxes, dtype=np.float32).reshape(-1, 4)
    center = (boxes[:, 2:] + boxes[:, :2]) * np.float32(0.5)
    scale = (boxes[:, 2:] - boxes[:, :2]) * np.float32(padding)
    aspect = input_size[0] / input_size[1]
    w, h = scale[:, :1], scale[:, 1:]
    scale = np.where(w > h * aspect, np.hstack([w, w / aspect]), np.hstack([h * aspect, h]))
    return center, scale.astype(np.float32)


def warp_matrices(center: np.ndarray, scale: np.ndarray, input_size: tuple[int, int] = INPUT_SIZE) -> np.ndarray:
    """Forward affine maps image -> crop, bit-identical to mmpose's ``get_warp_matrix(c, s, 0, size)``.

    mmpose builds three float32 point pairs (the centre, the centre moved half the width to the left, and a
    point at a right angle) and solves for the map with ``cv2.getAffineTransform``. The same points go to
    the same solver here: a closed form differs in the last bits, and that flips OpenCV's fixed-point
    rounding of some sampling positions (a few grey levels on a few hundred pixels per crop).

    Args:
        center: (M, 2) float32 pixels.
        scale: (M, 2) float32 ``(w, h)`` pixels (aspect already fixed).
        input_size: crop ``(W, H)``.

    Returns:
        (M, 2, 3) float64 matrices.
    """
    center = np.asarray(center, np.float32).reshape(-1, 2)
    scale = np.asarray(scale, np.float32).reshape(-1, 2)
    dst_w, dst_h = input_size
    cx, cy = center[:, 0], center[:, 1]
    x1 = cx + scale[:, 0] * np.float32(-0.5)
    src = np.stack([np.stack([cx, cy], 1), np.stack([x1, cy], 1), np.stack([x1, cy + (cx - x1)], 1)], axis=1).astype(
        np.float32
    )
    half_w, half_h = np.float32(dst_w * 0.5), np.float32(dst_h * 0.5)
    dst = np.array([[half_w, half_h], [0, half_h], [0, half_h + half_w]], np.float32)
    mats = np.zeros((len(center), 2, 3), np.float64)
    for i, pts in enumerate(src):
        mats[i] = cv2.getAffineTransform(pts, dst)
    return mats


def _invert_affine(mats: np.ndarray) -> np.ndarray:
    """Inverse maps in float64, in the operation order of OpenCV's ``invertAffineTransform`` in warpAffine."""
    m = mats.reshape(-1, 6)
    det = m[:, 0] * m[:, 4] - m[:, 1] * m[:, 3]
    inv_det = np.where(det != 0, 1.0 / np.where(det != 0, det, 1.0), 0.0)
    a11 = m[:, 4] * inv_det
    a22 = m[:, 0] * inv_det
    a12 = m[:, 1] * -inv_det
    a21 = m[:, 3] * -inv_det
    b1 = -a11 * m[:, 2] - a12 * m[:, 5]
    b2 = -a21 * m[:, 2] - a22 * m[:, 5]
    return np.stack([a11, a12, b1, a21, a22, b2], axis=1)


def _source_positions(inv: np.ndarray, out_w: int, out_h: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's fixed-point source positions of every destination pixel, in 1/32 pixel (int64).

    ``warpAffine`` computes, for destination (x, y), ``X = (rint((m1 * y + m2) * 1024) + 16 +
    rint(m0 * x * 1024)) >> 5`` (and Y alike with m3, m4, m5); ``cvRound`` rounds half to even, as
    ``np.rint``. For a crop the off-diagonal terms are ~1e-15, so X almost never depends on y: then X is
    returned as (M, 1, W_out) and Y as (M, H_out, 1), and the device works on separable taps.

    Returns:
        pos_x broadcastable to (M, H_out, W_out), pos_y likewise.
    """
    ab_scale = float(1 << _AB_BITS)
    round_delta = (1 << _AB_BITS) >> (_INTER_BITS + 1)
    lo, hi = np.iinfo(np.int32).min, np.iinfo(np.int32).max
    xs = np.arange(out_w, dtype=np.float64)
    ys = np.arange(out_h, dtype=np.float64)

    def fix(v: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(v), lo, hi).astype(np.int64)

    col_x = fix(inv[:, 0:1] * xs * ab_scale)[:, None, :]
    col_y = fix(inv[:, 3:4] * xs * ab_scale)[:, None, :]
    row_x = (fix((inv[:, 1:2] * ys + inv[:, 2:3]) * ab_scale) + round_delta)[:, :, None]
    row_y = (fix((inv[:, 4:5] * ys + inv[:, 5:6]) * ab_scale) + round_delta)[:, :, None]
    if (row_x == row_x[:, :1]).all():
        row_x = row_x[:, :1]
    if (col_y == col_y[:, :, :1]).all():
        col_y = col_y[:, :, :1]
    shift = _AB_BITS - _INTER_BITS
    return (row_x + col_x) >> shift, (row_y + col_y) >> shift


def _taps(pos: np.ndarray, src_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps along one axis from 1/32-pixel positions.

    The integer part is stored as int16 by OpenCV (saturated). A tap outside the source gets weight 0
    (BORDER_CONSTANT 0) and a clamped index, which reads a valid pixel and multiplies it by 0.

    Returns:
        index0, index1 (int64, clamped to the source) and weight0, weight1 (int32, 0..32), shaped as ``pos``.
    """
    one = 1 << _INTER_BITS
    src = np.clip(pos >> _INTER_BITS, -32768, 32767)
    frac = (pos & (one - 1)).astype(np.int32)
    w0 = np.where((src >= 0) & (src < src_len), one - frac, 0).astype(np.int32)
    w1 = np.where((src + 1 >= 0) & (src + 1 < src_len), frac, 0).astype(np.int32)
    return np.clip(src, 0, src_len - 1), np.clip(src + 1, 0, src_len - 1), w0, w1


def warp_affine(image: torch.Tensor, mats: np.ndarray, output_size: tuple[int, int] = INPUT_SIZE) -> torch.Tensor:
    """Warp one image into M crops, bit-identical to OpenCV < 4.11's bilinear ``warpAffine`` (border 0).

    OpenCV's fixed-point source positions are computed on the host (per row and per column when the maps
    have no rotation, as crops do), the device does four gathers and integer arithmetic.

    Args:
        image: (H, W, C) uint8 tensor on any device.
        mats: (M, 2, 3) forward maps image -> crop (as for ``cv2.warpAffine``).
        output_size: crop ``(W, H)``.

    Returns:
        (M, H_out, W_out, C) uint8 tensor on the image's device.
    """
    if image.dtype != torch.uint8 or image.ndim != 3:
        raise ValueError(f"warp_affine: expected an (H, W, C) uint8 tensor, got {tuple(image.shape)} {image.dtype}")
    mats = np.asarray(mats, dtype=np.float64).reshape(-1, 2, 3)
    out_w, out_h = output_size
    h, w, c = image.shape
    m = len(mats)
    pos_x, pos_y = _source_positions(_invert_affine(mats), out_w, out_h)
    device = image.device
    x0, x1, wx0, wx1 = (torch.from_numpy(a[..., None]).to(device) for a in _taps(pos_x, w))
    y0, y1, wy0, wy1 = (torch.from_numpy(a[..., None]).to(device) for a in _taps(pos_y, h))
    flat = image.reshape(-1, c)
    row0, row1 = y0 * w, y1 * w
    wx0, wx1 = wx0.to(torch.int16), wx1.to(torch.int16)

    def tap(row: torch.Tensor, col: torch.Tensor) -> torch.Tensor:
        idx = (row + col).expand(m, out_h, out_w, 1).reshape(-1)
        return flat.index_select(0, idx).view(m, out_h, out_w, c).to(torch.int16)

    # OpenCV sums 32 * wy * wx * pixel over the 4 taps, adds 2**14 and shifts by 15; with the factor 32
    # taken out that is (wy-weighted sum of the wx-weighted rows + 2**9) >> 10. Rows fit int16 (<= 8160).
    top = (tap(row0, x0) * wx0).add_(tap(row0, x1) * wx1).to(torch.int32)
    bottom = (tap(row1, x0) * wx0).add_(tap(row1, x1) * wx1).to(torch.int32)
    total = top.mul_(wy0).add_(bottom.mul_(wy1))
    return total.add_(1 << (2 * _INTER_BITS - 1)).bitwise_right_shift_(2 * _INTER_BITS).to(torch.uint8)


def normalize_crops(crops_bgr: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 BGR crops -> the network input: RGB, ``(x - mean) / std``, channels-last memory.

    Args:
        crops_bgr: (M, H, W, 3) uint8.
        dtype: output dtype (the arithmetic is float32, as mmpose's, then cast).

    Returns:
        (M, 3, H, W) tensor of ``dtype`` on the crops' device.
    """
    x = crops_bgr.flip(-1).permute(0, 3, 1, 2).float()
    mean = torch.tensor(MEAN_RGB, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD_RGB, device=x.device).view(1, 3, 1, 1)
    x = (x - mean) / std
    return x.to(dtype=dtype, memory_format=torch.channels_last)


def image_to_tensor(image_bgr: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """(H, W, 3) uint8 numpy image -> uint8 tensor on ``device`` (one copy, pinned on the way to CUDA)."""
    t = torch.from_numpy(np.ascontiguousarray(image_bgr))
    if torch.device(device).type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def prepare_crops(
    image: torch.Tensor,
    bboxes: np.ndarray,
    dtype: torch.dtype = torch.float32,
    input_size: tuple[int, int] = INPUT_SIZE,
) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """All person crops of one image, ready for RTMW3D.

    Args:
        image: (H, W, 3) uint8 BGR tensor on the model's device (see :func:`image_to_tensor`).
        bboxes: (M, 4) ``[x1, y1, x2, y2]`` pixels.
        dtype: dtype of the network input.
        input_size: crop ``(W, H)``.

    Returns:
        inputs (M, 3, H, W) normalised RGB on the image's device, center (M, 2) and scale (M, 2) float32.
    """
    center, scale = bbox_to_center_scale(bboxes, input_size=input_size)
    crops = warp_affine(image, warp_matrices(center, scale, input_size), input_size)
    return normalize_crops(crops, dtype), center, scale


def crop_to_image(
    points: torch.Tensor, center: torch.Tensor, scale: torch.Tensor, input_size: tuple[int, int] = INPUT_SIZE
) -> torch.Tensor:
    """Crop pixels -> original-image pixels (mmpose's top-down inverse mapping).

    Args:
        points: (M, K, 2) crop pixels ``(x, y)``.
        center: (M, 2) crop centres in image pixels.
        scale: (M, 2) crop sizes ``(w, h)`` in image pixels.
        input_size: crop ``(W, H)``.

    Returns:
        (M, K, 2) image pixels, the dtype of ``points``.
    """
    size = torch.tensor(input_size, dtype=points.dtype, device=points.device)
    center = center.to(points)[:, None, :]
    scale = scale.to(points)[:, None, :]
    return points / size * scale + center - 0.5 * scale
