"""Synthetic 3D motions as :class:`~posekit.sequence.PoseSequence` for animation export, with known geometry.

* :func:`walking_sequence`: a COCO-WholeBody stick figure walking across the view (hip and knee flexion,
  counter-swinging arms with bending elbows, a twisting torso, a bobbing pelvis, hands with curling
  fingers), 3.5 m in front of the camera, in posekit's camera frame (metres, x right, y down, z forward).
* :func:`capture_sequence`: the RGB-D test scene's person (:func:`generators.scene.make_scene`: sway, turn,
  raised arm) as COCO-WholeBody metric 3D, with feet and hands added, depth-like noise and dropouts (NaN,
  score 0), as an RGB-D capture run through posekit would give.
* :func:`take_sequence`: a synthetic PoseKit take (:mod:`generators.takes`) read by ``load_take``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from generators.scene import make_scene
from generators.takes import make_take, write_zip
from posekit.coords import project
from posekit.io.takes import load_take
from posekit.sequence import PoseSequence
from posekit.skeletons import COCO_WHOLEBODY

INTRINSICS = (1000.0, 1000.0, 960.0, 540.0)
IMAGE_SIZE = (1920, 1080)
_FINGER_SPREAD = (0.035, 0.022, 0.004, -0.014, -0.03)  # thumb..pinky, metres across the palm
_FINGER_SEGMENTS = ((0.035, 0.03, 0.025), (0.04, 0.025, 0.02), (0.045, 0.028, 0.022), (0.04, 0.026, 0.02),
                    (0.032, 0.02, 0.018))  # fmt: skip


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def hand_points(
    wrist: np.ndarray, along: np.ndarray, across: np.ndarray, palm: np.ndarray, curl: np.ndarray
) -> np.ndarray:
    """(T, 21, 3) COCO-WholeBody hand keypoints: root at the wrist, then 4 per finger (thumb to pinky).

    ``along`` (T, 3) points from the wrist to the fingers, ``across`` (T, 3) from the pinky to the thumb side,
    ``palm`` (T, 3) the way the fingers curl; ``curl`` (T,) radians per finger joint.
    """
    out = [wrist]
    for f in range(5):
        base_along = 0.03 if f == 0 else 0.085
        p = wrist + base_along * along + _FINGER_SPREAD[f] * across
        out.append(p)
        angle = np.zeros_like(curl)
        for seg in _FINGER_SEGMENTS[f]:
            angle = angle + curl
            p = p + seg * (np.cos(angle)[:, None] * along + np.sin(angle)[:, None] * palm)
            out.append(p)
    return np.stack(out, axis=1)


def _feet(ankles: np.ndarray, left: np.ndarray, up: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """(T, 6, 3) big toe, small toe, heel of the left then the right foot."""
    out = []
    for side, ankle in ((1.0, ankles[:, 0]), (-1.0, ankles[:, 1])):
        big = ankle + 0.15 * forward - 0.06 * up - side * 0.02 * left
        small = ankle + 0.13 * forward - 0.06 * up + side * 0.05 * left
        heel = ankle - 0.05 * forward - 0.07 * up
        out += [big, small, heel]
    return np.stack(out, axis=1)


def _sequence(kp3d: np.ndarray, scores: np.ndarray, fps: float, intrinsics: tuple[float, float, float, float],
              image_size: tuple[int, int]) -> PoseSequence:  # fmt: skip
    t = kp3d.shape[0]
    kp2 = project(np.nan_to_num(kp3d, nan=1.0), intrinsics)
    return PoseSequence(
        timestamps=np.arange(t) / fps,
        keypoints_2d=kp2[:, None],
        scores=scores[:, None],
        skeleton=COCO_WHOLEBODY,
        keypoints_3d=kp3d[:, None],
        image_size=image_size,
        intrinsics=np.tile(intrinsics, (t, 1)),
        fps=fps,
        space_3d="metric_depth",
    )


def walking_sequence(num_frames: int = 60, fps: float = 30.0, seed: int = 0) -> PoseSequence:
    """A walker (see the module docstring); the left wrist and hand drop out (NaN, score 0) in frames 20-23."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames) / fps
    phase = 2 * np.pi * 0.9 * t
    # Person frame: x = the person's left, y up (0 at the floor), z = forward (the walking direction).
    k = np.zeros((num_frames, 133, 3))
    bob = 0.03 * np.cos(2 * phase)
    twist = 0.12 * np.sin(phase)
    pelvis = np.stack([np.zeros_like(t), 0.95 + bob, 1.2 * t], -1)
    ex = np.array([1.0, 0.0, 0.0])
    ey = np.array([0.0, 1.0, 0.0])
    ez = np.array([0.0, 0.0, 1.0])
    hip_axis = np.cos(-twist / 2)[:, None] * ex + np.sin(-twist / 2)[:, None] * ez  # pelvis counter-rotates
    shoulder_axis = np.cos(twist)[:, None] * ex + np.sin(twist)[:, None] * ez
    neck = pelvis + 0.5 * ey + 0.02 * ez
    for side, s in ((0, 1.0), (1, -1.0)):
        gait = phase + side * np.pi  # the right side runs half a cycle behind the left
        hip = pelvis + s * 0.1 * hip_axis
        flex = 0.45 * np.sin(gait)
        knee_flex = 0.1 + 0.6 * np.clip(np.sin(gait + 1.2), 0, None)
        thigh = np.stack([np.zeros_like(t), -np.cos(flex), np.sin(flex)], -1)
        shank = np.stack([np.zeros_like(t), -np.cos(flex - knee_flex), np.sin(flex - knee_flex)], -1)
        knee = hip + 0.43 * thigh
        ankle = knee + 0.43 * shank
        shoulder = neck + s * 0.19 * shoulder_axis
        swing = -0.35 * np.sin(gait)  # arms swing against the legs
        elbow_flex = 0.25 + 0.2 * (1 - np.sin(gait))
        outward = np.full_like(t, 0.08 * s)
        upper = _unit(np.stack([outward, -np.cos(swing), np.sin(swing)], -1))
        fore = _unit(np.stack([0.6 * outward, -np.cos(swing + elbow_flex), np.sin(swing + elbow_flex)], -1))
        elbow = shoulder + 0.28 * upper
        wrist = elbow + 0.26 * fore
        for offset, point in zip((11, 13, 15, 5, 7, 9), (hip, knee, ankle, shoulder, elbow, wrist)):
            k[:, offset + side] = point
        across = _unit(np.cross(fore, ex))  # thumb forward: the palm faces the thigh
        palm = s * _unit(np.cross(fore, across))  # towards the body's midline
        curl = 0.25 + 0.15 * np.sin(gait)
        k[:, 91 + 21 * side : 112 + 21 * side] = hand_points(wrist, fore, across, palm, curl)
    head = neck + 0.15 * ey
    k[:, 0] = head + 0.1 * ez
    k[:, 1], k[:, 2] = head + 0.035 * ex + 0.085 * ez + 0.03 * ey, head - 0.035 * ex + 0.085 * ez + 0.03 * ey
    k[:, 3], k[:, 4] = head + 0.08 * ex, head - 0.08 * ex
    ankles = k[:, [15, 16]]
    k[:, 17:23] = _feet(ankles, np.broadcast_to(ex, (num_frames, 3)), np.broadcast_to(ey, (num_frames, 3)),
                        np.broadcast_to(ez, (num_frames, 3)))  # fmt: skip
    k[:, 23:91] = head[:, None] + rng.normal(0, 0.04, (num_frames, 68, 3)) + 0.08 * ez
    # Person frame -> camera frame: walking towards +x (left to right in the image), the person's left away
    # from the camera (+z), up is -y; start 1.5 m left of the optical axis, 3.5 m away, floor 1 m below.
    cam = np.stack([k[..., 2] - 1.5, 1.0 - k[..., 1], 3.5 + k[..., 0]], -1)
    scores = rng.uniform(0.7, 0.98, (num_frames, 133))
    drop = np.r_[9, 91:112]
    cam[20:24, drop] = np.nan
    scores[20:24, drop] = 0.0
    return _sequence(cam, scores, fps, INTRINSICS, IMAGE_SIZE)


def capture_sequence(num_frames: int = 24, fps: float = 30.0, seed: int = 1) -> PoseSequence:
    """The RGB-D scene's person as COCO-WholeBody metric 3D (see the module docstring): 3 mm noise, 3% of the
    keypoints dropped (NaN, score 0) as depth holes do."""
    rng = np.random.default_rng(seed)
    scene = make_scene(num_frames, color_size=(64, 48), depth_size=(32, 24), fps=fps)
    j = scene.joints_3d
    k = np.full((num_frames, 133, 3), np.nan)
    k[:, :17] = j[:, :17]
    left = _unit(j[:, 11] - j[:, 12])
    up = _unit(j[:, 18] - j[:, 17])
    forward = _unit(np.cross(left, up))
    k[:, 17:23] = _feet(j[:, [15, 16]], left, up, forward)
    for side, s in ((0, 1.0), (1, -1.0)):
        along = _unit(j[:, 9 + side] - j[:, 7 + side])
        across = _unit(np.cross(forward, along)) * s
        palm = _unit(np.cross(along, across))
        k[:, 91 + 21 * side : 112 + 21 * side] = hand_points(
            j[:, 9 + side], along, across, palm, np.full(num_frames, 0.2)
        )
    k[:, 23:91] = j[:, :1] + rng.normal(0, 0.03, (num_frames, 68, 3))
    k = k + rng.normal(0, 0.003, k.shape)
    scores = rng.uniform(0.6, 0.95, (num_frames, 133))
    holes = rng.uniform(size=(num_frames, 133)) < 0.03
    k[holes] = np.nan
    scores[holes] = 0.0
    return _sequence(k, scores, fps, scene.intrinsics, scene.color_size)


def take_sequence(folder: Path, num_frames: int = 45) -> PoseSequence:
    """A synthetic PoseKit take (COCO17+2, phone 3D, left ear never trusted) written as the app's ZIP and
    read back with :func:`posekit.io.takes.load_take`."""
    return load_take(write_zip(folder / "PoseTake_2025-01-01T120000Z.zip", make_take(num_frames)))


def motion_sequence(kind: str, folder: Path) -> PoseSequence:
    """The sequences the exporters are tested on: ``"take"`` (written to ``folder`` and read back),
    ``"capture"`` or ``"walking"``."""
    makers = {"take": lambda: take_sequence(folder), "capture": capture_sequence, "walking": walking_sequence}
    return makers[kind]()
