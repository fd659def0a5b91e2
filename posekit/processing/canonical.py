"""The pelvis-centred canonical pose of the PoseKit app (``PoseCanonicalizer.swift``), vectorised.

The app's ``playback3D``: camera-frame joints re-expressed in a body frame with its origin at the pelvis,
``up`` from the pelvis to the neck, ``right`` from the left to the right hip (or shoulder), and ``forward``
completing a right-handed frame (``forward = up x right``, then ``right = forward x up``). Every valid joint
``p`` becomes ``R^T (p - pelvis)`` with ``R = [right | up | forward]`` (columns), i.e. its coordinates along
right, up and forward.

The app's rules, kept exactly (including how NaN compares false):

* Pelvis or Neck has a NaN, or ``|neck - pelvis| < 1e-4``: the pose is returned unchanged (camera frame).
* ``right`` is ``R-hip - L-hip``, unless that is shorter than 1e-4, either hip has a NaN, or either hip's 2D
  score is below ``min_score``: then ``R-shoulder - L-shoulder``. If that is shorter than 1e-4, or the
  forward axis is, the pose is unchanged. (A NaN shoulder there compares false, so the app goes on with NaN
  right and forward axes: every joint's right and forward coordinates become NaN, its up coordinate stays.)
* A joint with any NaN coordinate is passed through as it is.

Poses of 133 COCO-WholeBody joints use the same frame, with Pelvis and Neck the midpoints of the 3D hips and
shoulders (:func:`canonicalize_wholebody`).
"""

from __future__ import annotations

import numpy as np

from posekit.skeletons import COCO_WHOLEBODY, NECK_FROM, PELVIS_FROM, POSEKIT_COCO17_2, Skeleton

EPS = 1e-4
L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = 5, 6, 11, 12
PELVIS, NECK = POSEKIT_COCO17_2.index("Pelvis"), POSEKIT_COCO17_2.index("Neck")


def _valid(p: np.ndarray) -> np.ndarray:
    return ~np.isnan(p).any(axis=-1)


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def body_frame(
    pelvis: np.ndarray,
    neck: np.ndarray,
    hips: tuple[np.ndarray, np.ndarray],
    shoulders: tuple[np.ndarray, np.ndarray],
    hips_scored: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The app's canonical frame.

    Args:
        pelvis, neck: (..., 3) camera-frame points.
        hips, shoulders: ``(left, right)`` (..., 3) points each.
        hips_scored: (...) bool, both hips have a 2D score of at least the minimum.

    Returns:
        ``(rotation (..., 3, 3), ok (...))``: columns right, up, forward; ``ok`` is False where the app returns
        the pose unchanged.
    """
    up = neck - pelvis
    up_len = np.linalg.norm(up, axis=-1)
    ok = _valid(pelvis) & _valid(neck) & ~(up_len < EPS)
    with np.errstate(invalid="ignore", divide="ignore"):
        up = up / up_len[..., None]
        right = hips[1] - hips[0]
        use_shoulders = (
            (np.linalg.norm(right, axis=-1) < EPS) | ~_valid(hips[0]) | ~_valid(hips[1]) | ~np.asarray(hips_scored)
        )
        right = np.where(use_shoulders[..., None], shoulders[1] - shoulders[0], right)
        ok &= ~(np.linalg.norm(right, axis=-1) < EPS)
        right = _normalize(right)
        forward = np.cross(up, right)
        ok &= ~(np.linalg.norm(forward, axis=-1) < EPS)
        forward = _normalize(forward)
        right = _normalize(np.cross(forward, up))
    return np.stack([right, up, forward], axis=-1), ok


def apply_frame(points: np.ndarray, origin: np.ndarray, rotation: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``R^T (p - origin)`` for every valid joint where ``ok``; everything else passes through.

    Args:
        points: (..., K, 3); origin: (..., 3); rotation: (..., 3, 3); ok: (...) bool.
    """
    with np.errstate(invalid="ignore"):
        local = np.einsum("...ji,...kj->...ki", rotation, points - origin[..., None, :])
    keep = ok[..., None] & _valid(points)
    return np.where(keep[..., None], local, points)


def canonicalize(camera_3d: np.ndarray, scores: np.ndarray | None = None, min_score: float = 0.3) -> np.ndarray:
    """The app's ``playback3D`` from its ``camera3D``, for any leading shape (frames, people).

    Args:
        camera_3d: (..., 19, 3) COCO17+2 joints, camera frame, metres (NaN where unknown).
        scores: (..., 19) 2D scores deciding whether the hips may define ``right`` (None: they may).
        min_score: the take's ``minKeypointScore``.

    Returns:
        (..., 19, 3) canonical joints (x right, y up, z forward of the person, origin at the pelvis), or the
        input unchanged for poses the app leaves unchanged.
    """
    p = np.asarray(camera_3d, dtype=np.float64)
    k = POSEKIT_COCO17_2.num_keypoints
    if p.shape[-2:] != (k, 3):
        raise ValueError(f"canonicalize: expected joints of shape (..., {k}, 3), got {p.shape}")
    return _canonicalize(p, p[..., PELVIS, :], p[..., NECK, :], scores, min_score)


def canonicalize_wholebody(
    keypoints_3d: np.ndarray, scores: np.ndarray | None = None, min_score: float = 0.3
) -> np.ndarray:
    """The canonical pose of (..., 133, 3) COCO-WholeBody joints: the app's frame with Pelvis and Neck the
    midpoints of the 3D hips and shoulders; hands, feet and face are carried along."""
    p = np.asarray(keypoints_3d, dtype=np.float64)
    k = COCO_WHOLEBODY.num_keypoints
    if p.shape[-2:] != (k, 3):
        raise ValueError(f"canonicalize_wholebody: expected joints of shape (..., {k}, 3), got {p.shape}")
    pelvis = (p[..., PELVIS_FROM[0], :] + p[..., PELVIS_FROM[1], :]) / 2
    neck = (p[..., NECK_FROM[0], :] + p[..., NECK_FROM[1], :]) / 2
    return _canonicalize(p, pelvis, neck, scores, min_score)


def canonicalize_any(
    keypoints_3d: np.ndarray, skeleton: Skeleton, scores: np.ndarray | None = None, min_score: float = 0.3
) -> np.ndarray:
    """:func:`canonicalize` or :func:`canonicalize_wholebody`, by skeleton."""
    if skeleton.name == POSEKIT_COCO17_2.name:
        return canonicalize(keypoints_3d, scores, min_score)
    if skeleton.name == COCO_WHOLEBODY.name:
        return canonicalize_wholebody(keypoints_3d, scores, min_score)
    raise ValueError(f"canonical pose: expected a {POSEKIT_COCO17_2.name} or {COCO_WHOLEBODY.name} skeleton, "
                     f"got {skeleton.name}")  # fmt: skip


def _canonicalize(
    p: np.ndarray, pelvis: np.ndarray, neck: np.ndarray, scores: np.ndarray | None, min_score: float
) -> np.ndarray:
    if scores is None:
        hips_scored = np.ones(p.shape[:-2], dtype=bool)
    else:
        s = np.asarray(scores, dtype=np.float64)
        if s.shape != p.shape[:-1]:
            raise ValueError(f"canonicalize: expected scores of shape {p.shape[:-1]}, got {s.shape}")
        hips_scored = (s[..., L_HIP] >= min_score) & (s[..., R_HIP] >= min_score)
    rotation, ok = body_frame(
        pelvis,
        neck,
        (p[..., L_HIP, :], p[..., R_HIP, :]),
        (p[..., L_SHOULDER, :], p[..., R_SHOULDER, :]),
        hips_scored,
    )
    return apply_frame(p, pelvis, rotation, ok)
