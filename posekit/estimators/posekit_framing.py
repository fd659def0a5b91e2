"""Framing images for the PoseKit network: two similarity warps to 192x192, and their exact inverses.

A framing is a (2, 3) float64 affine matrix ``A = [[s, 0, tx], [0, s, ty]]`` taking original-image pixels
``(x, y)`` to network-input pixels ``(u, v) = (s * x + tx, s * y + ty)``, in the library's pixel convention
(:mod:`posekit.coords`: pixel column i is at x = i, as OpenCV's ``warpAffine`` samples). The input image is
``cv2.warpAffine(image, A)`` (bilinear, black outside), so a point the network finds at ``(u, v)`` maps back
exactly to ``((u - tx) / s, (v - ty) / s)``.

* :func:`letterbox_transform`: the iOS app's framing of a whole (upright) frame:
  ``s = min(192 / W, 192 / H)``, offsets ``((192 - W s) / 2, (192 - H s) / 2)``, fractional.
* :func:`crop_transforms`: upstream ``prepare_coco.py``'s training crop, in continuous form: the square of
  side ``w + h`` centred on the box, ``[cx - (w + h) / 2, cx + (w + h) / 2]`` (same in y), scaled to 192.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from posekit.processing.people import check_boxes

INPUT_SIZE = 192


def letterbox_transform(width: int, height: int, size: int = INPUT_SIZE) -> np.ndarray:
    """(2, 3) float64 matrix letterboxing a ``width`` x ``height`` image into ``size`` x ``size``.

    Example: a 640x480 frame gives ``s = 0.3``, offsets ``(0, 24)``: ``[[0.3, 0, 0], [0, 0.3, 24]]``.
    """
    if width < 1 or height < 1:
        raise ValueError(f"letterbox: expected a positive image size, got {width}x{height}")
    s = min(size / width, size / height)
    return np.array([[s, 0.0, (size - width * s) / 2], [0.0, s, (size - height * s) / 2]], dtype=np.float64)


def crop_transforms(boxes: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """(M, 2, 3) float64 matrices warping the training-crop square of each box to ``size`` x ``size``.

    For a box of width w, height h and centre (cx, cy): side ``S = w + h``, ``s = size / S``,
    ``u = s * (x - cx) + size / 2`` (same in y). Example: box ``[10, 20, 110, 70]`` (w 100, h 50) gives
    ``S = 150``, ``s = 1.28``, ``[[1.28, 0, 19.2], [0, 1.28, 38.4]]``.
    """
    boxes = check_boxes(boxes, dtype=np.float64)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    s = size / ((boxes[:, 2] - boxes[:, 0]) + (boxes[:, 3] - boxes[:, 1]))
    out = np.zeros((len(boxes), 2, 3), dtype=np.float64)
    out[:, 0, 0] = out[:, 1, 1] = s
    out[:, 0, 2] = size / 2 - s * cx
    out[:, 1, 2] = size / 2 - s * cy
    return out


def warp_images(image: np.ndarray, transforms: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """Warp ``image`` once per matrix: (H, W, C) uint8 and (M, 2, 3) -> (M, size, size, C) uint8.

    Bilinear sampling, black (0) outside the image, as upstream's zero padding and the app's black background.
    """
    transforms = np.asarray(transforms, dtype=np.float64).reshape(-1, 2, 3)
    out = np.empty((len(transforms), size, size, image.shape[2]), dtype=np.uint8)
    for i, a in enumerate(transforms):
        out[i] = cv2.warpAffine(
            image, a, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        ).reshape(size, size, -1)
    return out


def to_network_input(
    crops_bgr: np.ndarray, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """(M, S, S, 3) BGR uint8 -> (M, 3, S, S) RGB float 0..255 on ``device``.

    The result keeps the crops' pixel-interleaved memory (``torch.channels_last``), which the optimised
    network wants; call ``.contiguous()`` for the NCHW layout.
    """
    rgb = np.ascontiguousarray(crops_bgr[..., ::-1])
    return torch.from_numpy(rgb).to(device).permute(0, 3, 1, 2).to(dtype)


def invert_points(points: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Map network-input pixels back to the original image: (M, K, 2) and (M, 2, 3) -> (M, K, 2) float64."""
    a = np.asarray(transforms, dtype=np.float64).reshape(-1, 2, 3)
    scale = a[:, [0, 1], [0, 1]][:, None, :]  # (M, 1, 2)
    shift = a[:, :, 2][:, None, :]
    return (np.asarray(points, dtype=np.float64) - shift) / scale


def clamp_to_image(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clamp (..., 2) pixels to the image's pixel grid ``[0, W - 1] x [0, H - 1]`` (the letterbox framing's
    points that fall in the black bars land on the nearest image edge, as the app clamps to 0..1)."""
    return np.clip(points, 0, np.array([width - 1, height - 1], dtype=np.float64))
