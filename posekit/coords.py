"""The one coordinate convention of posekit, and the conversions at its edges.

Inside the library:

* **Images** are ``uint8`` numpy arrays in **BGR** order, shape (H, W, 3) (OpenCV's convention and the
  RTMPose3D wrapper's). Gradio hands RGB: convert once with :func:`rgb_to_bgr` at the UI boundary.
* **2D keypoints** are image pixels of the original image, ``(x, y)``, x right, y down, origin at the
  top-left corner of the top-left pixel (pixel centres at ``i + 0.5`` are *not* used: a keypoint at pixel
  column ``i`` has ``x = i``, as in mmpose and OpenCV's ``warpAffine``).
* **3D keypoints** are in the **camera frame** in **metres**: x right, y down, z forward (OpenCV, and the
  iPhone app's ``camera3D``). A 3D point projects to pixels with ``u = fx * x / z + cx``,
  ``v = fy * y / z + cy``.
* **Intrinsics** are ``(fx, fy, cx, cy)`` in pixels of the image the 2D keypoints live in.
* **Missing values** are NaN in 3D; a 2D keypoint that was not found keeps its position and has score 0.

At the edges:

* The RTMPose3D wrapper's dict output (``Poses.to_dict()`` / ``poses["keypoints_3d"]``) is "Z-up":
  ``-kpts[..., [0, 2, 1]]`` of the camera frame (X = -x, Y = -z, Z = -y): :func:`camera_to_seed`.
* The PoseKit app stores 2D as 0..1 of the captured image (:func:`pixels_to_normalized`), camera3D exactly in
  our camera frame, and ``playback3D`` in the pelvis-centred canonical frame (x right, y up, z forward of the
  person), see ``posekit.processing.canonical``.
"""

from __future__ import annotations

import numpy as np

Intrinsics = tuple[float, float, float, float]


def camera_to_seed(points: np.ndarray) -> np.ndarray:
    """Camera frame (x right, y down, z forward) -> the RTMPose3D wrapper's Z-up output, ``-p[..., [0, 2, 1]]``.

    Args:
        points: (..., 3) metres.
    """
    return -points[..., [0, 2, 1]]


def seed_to_camera(points: np.ndarray) -> np.ndarray:
    """Inverse of :func:`camera_to_seed` (the map is its own inverse up to the axis swap)."""
    return -points[..., [0, 2, 1]]


def rgb_to_bgr(image: np.ndarray) -> np.ndarray:
    """Swap the channel order of an (H, W, 3) image; returns a contiguous copy."""
    return np.ascontiguousarray(image[..., ::-1])


bgr_to_rgb = rgb_to_bgr


def pixels_to_normalized(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    """(..., 2) pixels -> 0..1 of the image (the PoseKit app's ``xNorm, yNorm``)."""
    return xy / np.array([width, height], dtype=np.float64)


def normalized_to_pixels(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    """(..., 2) 0..1 of the image -> pixels."""
    return xy * np.array([width, height], dtype=np.float64)


def backproject(xy: np.ndarray, depth: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Lift pixels to camera-frame points.

    Args:
        xy: (..., 2) pixels of the image the intrinsics describe.
        depth: (...) z in metres (NaN where unknown).
        intrinsics: ``(fx, fy, cx, cy)`` in pixels.

    Returns:
        (..., 3) metres, camera frame; NaN wherever depth is NaN.
    """
    fx, fy, cx, cy = intrinsics
    x = (xy[..., 0] - cx) / fx * depth
    y = (xy[..., 1] - cy) / fy * depth
    return np.stack([x, y, depth], axis=-1)


def project(points: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Project (..., 3) camera-frame points to (..., 2) pixels."""
    fx, fy, cx, cy = intrinsics
    z = points[..., 2]
    return np.stack([fx * points[..., 0] / z + cx, fy * points[..., 1] / z + cy], axis=-1)


def scale_intrinsics(intrinsics: Intrinsics, from_size: tuple[int, int], to_size: tuple[int, int]) -> Intrinsics:
    """Rescale ``(fx, fy, cx, cy)`` from an image of ``from_size = (W, H)`` to one of ``to_size = (W, H)``."""
    sx = to_size[0] / from_size[0]
    sy = to_size[1] / from_size[1]
    fx, fy, cx, cy = intrinsics
    return (fx * sx, fy * sy, cx * sx, cy * sy)
