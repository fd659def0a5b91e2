"""Rotation helpers for animation export, vectorised over leading axes (pure numpy).

Conventions: rotation matrices act on column vectors (``v_parent = R @ v_local``); quaternions are
``(x, y, z, w)`` as in glTF; Euler angles are radians.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-9


def normalize(v: np.ndarray) -> np.ndarray:
    """(..., 3) vectors scaled to unit length (NaN where the length is 0 or NaN)."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > EPS, v / n, np.nan)


def shortest_arc(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction ``u`` to direction ``v``.

    Args:
        u: (..., 3) unit vectors.
        v: (..., 3) unit vectors (NaN gives a NaN rotation).

    Returns:
        (..., 3, 3) rotation matrices. For opposite vectors (180 degrees, no unique axis) the axis is the one
        perpendicular to ``u`` and to the coordinate axis least aligned with it, so the result is deterministic.
    """
    u, v = np.broadcast_arrays(u, v)
    cross = np.cross(u, v)
    w = 1.0 + np.sum(u * v, axis=-1)
    opposite = w < 1e-6
    if np.any(opposite):
        least = np.eye(3)[np.argmin(np.abs(u), axis=-1)]
        flip_axis = normalize(np.cross(u, least))
        cross = np.where(opposite[..., None], flip_axis, cross)
        w = np.where(opposite, 0.0, w)
    return quaternion_to_matrix(normalize4(np.concatenate([cross, w[..., None]], axis=-1)))


def frame_from_vectors(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """An orthonormal frame: first axis along ``primary``, second in the plane of both, third their cross.

    Args:
        primary: (..., 3) vectors (any length).
        secondary: (..., 3) vectors, not parallel to ``primary``.

    Returns:
        (..., 3, 3) rotation matrices whose columns are the frame's axes; NaN where a vector is zero or NaN
        or the two are parallel (within 1e-6 of the product of their lengths).
    """
    e1 = normalize(primary)
    e3 = normalize(np.cross(e1, normalize(secondary)))
    with np.errstate(invalid="ignore"):
        degenerate = np.linalg.norm(np.cross(e1, normalize(secondary)), axis=-1) < 1e-6
    e3 = np.where(degenerate[..., None], np.nan, e3)
    e2 = np.cross(e3, e1)
    return np.stack([e1, e2, e3], axis=-1)


def normalize4(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions scaled to unit norm."""
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions ``(x, y, z, w)`` -> (..., 3, 3) rotation matrices."""
    x, y, z, w = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions ``(x, y, z, w)`` with ``w >= 0``.

    Uses the largest of the four diagonal combinations as the pivot, so it is accurate for every rotation.
    """
    m = np.asarray(m, dtype=np.float64)
    tr = np.trace(m, axis1=-2, axis2=-1)
    d = np.stack([m[..., 0, 0], m[..., 1, 1], m[..., 2, 2], tr], -1)
    pivot = np.argmax(d, axis=-1)
    q = np.empty((*m.shape[:-2], 4))
    # Pivot on w (trace largest).
    s = np.sqrt(np.maximum(1.0 + tr, EPS)) * 2
    qw = np.stack([(m[..., 2, 1] - m[..., 1, 2]) / s, (m[..., 0, 2] - m[..., 2, 0]) / s,
                   (m[..., 1, 0] - m[..., 0, 1]) / s, s / 4], -1)  # fmt: skip
    # Pivot on x, y or z (its diagonal entry largest).
    sx = np.sqrt(np.maximum(1.0 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2], EPS)) * 2
    qx = np.stack([sx / 4, (m[..., 0, 1] + m[..., 1, 0]) / sx, (m[..., 0, 2] + m[..., 2, 0]) / sx,
                   (m[..., 2, 1] - m[..., 1, 2]) / sx], -1)  # fmt: skip
    sy = np.sqrt(np.maximum(1.0 + m[..., 1, 1] - m[..., 0, 0] - m[..., 2, 2], EPS)) * 2
    qy = np.stack([(m[..., 0, 1] + m[..., 1, 0]) / sy, sy / 4, (m[..., 1, 2] + m[..., 2, 1]) / sy,
                   (m[..., 0, 2] - m[..., 2, 0]) / sy], -1)  # fmt: skip
    sz = np.sqrt(np.maximum(1.0 + m[..., 2, 2] - m[..., 0, 0] - m[..., 1, 1], EPS)) * 2
    qz = np.stack([(m[..., 0, 2] + m[..., 2, 0]) / sz, (m[..., 1, 2] + m[..., 2, 1]) / sz, sz / 4,
                   (m[..., 1, 0] - m[..., 0, 1]) / sz], -1)  # fmt: skip
    for k, cand in enumerate((qx, qy, qz, qw)):
        q = np.where((pivot == k)[..., None], cand, q)
    q = normalize4(q)
    return np.where(q[..., 3:] < 0, -q, q)


def continuous_quaternions(q: np.ndarray, axis: int = 0) -> np.ndarray:
    """Flip signs along ``axis`` so consecutive quaternions lie in the same hemisphere (dot >= 0).

    ``q`` and ``-q`` are the same rotation; interpolating between keys of opposite sign takes the long way
    round, so animation keys must be made continuous.
    """
    q = np.moveaxis(np.array(q, dtype=np.float64), axis, 0)
    for t in range(1, q.shape[0]):
        flip = np.sum(q[t] * q[t - 1], axis=-1) < 0
        q[t] = np.where(flip[..., None], -q[t], q[t])
    return np.moveaxis(q, 0, axis)


def matrix_to_euler_zxy(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 3) angles ``(z, x, y)`` radians with ``m = Rz(z) @ Rx(x) @ Ry(y)``.

    This is BVH's ``Zrotation Xrotation Yrotation`` channel order (rotations applied in the listed order to
    the child's frame). ``x`` is in ``[-pi/2, pi/2]``; at gimbal lock (``|x| = pi/2``) ``y`` is set to 0.
    """
    sx = np.clip(m[..., 2, 1], -1.0, 1.0)
    x = np.arcsin(sx)
    locked = np.abs(sx) > 1 - 1e-9
    y = np.where(locked, 0.0, np.arctan2(-m[..., 2, 0], m[..., 2, 2]))
    z = np.where(locked, np.arctan2(m[..., 1, 0], m[..., 0, 0]), np.arctan2(-m[..., 0, 1], m[..., 1, 1]))
    return np.stack([z, x, y], axis=-1)


def euler_zxy_to_matrix(angles: np.ndarray) -> np.ndarray:
    """(..., 3) angles ``(z, x, y)`` radians -> (..., 3, 3) ``Rz(z) @ Rx(x) @ Ry(y)``."""
    z, x, y = np.moveaxis(angles, -1, 0)
    return _axis_matrix(z, 2) @ _axis_matrix(x, 0) @ _axis_matrix(y, 1)


def _axis_matrix(angle: np.ndarray, axis: int) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    m = np.broadcast_to(np.eye(3), (*np.shape(angle), 3, 3)).copy()
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m[..., i, i], m[..., i, j], m[..., j, i], m[..., j, j] = c, -s, s, c
    return m
