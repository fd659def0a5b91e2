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

The weighting steps run in float64 (as upstream numpy does), float32 on devices without float64 (MPS).
"""

from __future__ import annotations

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


def _check_outputs(
    heatmaps: torch.Tensor, centers: torch.Tensor, regs: torch.Tensor, offsets: torch.Tensor
) -> None:
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
    sub = (
        offsets.float()
        .reshape(b, k, 2, g * g)
        .gather(3, peak_index[:, :, None, None].expand(b, k, 2, 1))[..., 0]
    )
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
