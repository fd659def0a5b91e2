"""RTMW3D's SimCC-3D decoding (mmpose ``SimCC3DLabel.decode`` + ``TopdownPoseEstimator3D``), on the device.

The head gives, per keypoint, 1D logits over x (576 = 288 x 2 bins), y (768) and z (576). Decoding:

* location = argmax along each axis; score = ``min(max_x, max_y)`` of the raw logits (no softmax: scores
  are not probabilities, they can be negative or above 1);
* where score <= 0 all three locations become -1 (then halved like the others: -0.5 crop pixels), as mmpose;
* locations / ``simcc_split_ratio`` (2.0) -> crop pixels; x, y -> original-image pixels through the crop's
  centre and scale; z -> root-relative metres ``(z / (288 / 2) - 1) * 2.1744869`` (the bin range spans
  +-2.17 m around the root; rtmlib's 384 / 2 is a known mistake).
"""

from __future__ import annotations

import torch

from posekit.estimators.topdown import INPUT_SIZE, crop_to_image

SIMCC_SPLIT_RATIO = 2.0
Z_DEPTH = 288
"""The z axis' extent in input units (``input_size[2]`` of the codec)."""
Z_RANGE = 2.1744869
"""Metres spanned by half the z axis (the codec's ``z_range``)."""
ROOT_Z = 5.14388
"""Mean root depth of RTMW3D's training data in metres: where mmpose places the root for 3D output."""


def simcc_maximum(
    simcc_x: torch.Tensor, simcc_y: torch.Tensor, simcc_z: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Argmax locations and scores of SimCC logits (mmpose ``get_simcc_maximum``, 3D variant).

    Args:
        simcc_x: (N, K, Wx) logits; simcc_y: (N, K, Wy); simcc_z: (N, K, Wz).

    Returns:
        locations (N, K, 3) float32 bin indices (-1 where the score <= 0), scores (N, K) float32.
    """
    max_x, x = simcc_x.float().max(dim=-1)
    max_y, y = simcc_y.float().max(dim=-1)
    z = simcc_z.float().argmax(dim=-1)
    scores = torch.minimum(max_x, max_y)
    locs = torch.stack([x, y, z], dim=-1).float()
    locs = torch.where((scores <= 0)[..., None], torch.full_like(locs, -1.0), locs)
    return locs, scores


def decode_simcc3d(
    simcc_x: torch.Tensor,
    simcc_y: torch.Tensor,
    simcc_z: torch.Tensor,
    center: torch.Tensor,
    scale: torch.Tensor,
    input_size: tuple[int, int] = INPUT_SIZE,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SimCC-3D logits of N person crops -> image keypoints, root-relative depth and scores.

    Args:
        simcc_x: (N, K, Wx), simcc_y: (N, K, Wy), simcc_z: (N, K, Wz) head logits (any float dtype).
        center: (N, 2) crop centres, image pixels. scale: (N, 2) crop sizes ``(w, h)``, image pixels.
        input_size: crop ``(W, H)``.

    Returns:
        keypoints_2d (N, K, 2) float32 image pixels; z_rel (N, K) float32 metres, root-relative, +z away
        from the camera; scores (N, K) float32 raw logits (see module docstring).
    """
    locs, scores = simcc_maximum(simcc_x, simcc_y, simcc_z)
    locs = locs / SIMCC_SPLIT_RATIO
    keypoints_2d = crop_to_image(locs[..., :2], center, scale, input_size)
    z_rel = (locs[..., 2] / (Z_DEPTH / 2) - 1.0) * Z_RANGE
    return keypoints_2d, z_rel, scores
