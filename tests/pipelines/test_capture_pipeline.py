"""process_capture on synthetic RGB-D scenes with a ground-truth 2D oracle standing in for the model.

Tolerances (see ``generators/scene.py``): a depth sensor sees the body's front surface, so the pipeline must
recover ``scene.surface_3d`` (the surface point on each joint's ray) to within 2 cm (pixel rounding of the
256x192 depth map over a sloped surface; measured: median 0.6 mm, max 1.3 cm), which is the joint centre
``scene.joints_3d`` up to the documented surface offset (at most 12.5 cm, the torso's half thickness).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from generators.scene import make_scene

from posekit.coords import backproject, project
from posekit.io.captures.base import Capture, CaptureError, CaptureInfo, RGBDFrame
from posekit.io.take_writer import save_take
from posekit.io.takes import load_take
from posekit.limits import LimitError, Limits
from posekit.pipelines.capture import (
    SOURCE_DEPTH,
    SOURCE_MODEL,
    SOURCE_NONE,
    fuse_model_3d,
    process_capture,
)
from posekit.poses import Poses
from posekit.processing.canonical import canonicalize
from posekit.processing.people import pick_main_box
from posekit.processing.smoothing import smooth_sequence
from posekit.processing.status import status_counts, status_messages
from posekit.skeletons import COCO_WHOLEBODY, POSEKIT_COCO17_2

SURFACE_TOLERANCE = 0.02
ROOT_DEPTH = 5.14388


@pytest.fixture(scope="module")
def scene():
    return make_scene(num_frames=4)


class SceneCapture(Capture):
    """An in-memory capture of a synthetic scene; ``no_depth`` frames have no depth map, ``holes`` punches
    invalid depth (NaN) in discs of ``radius`` depth pixels around normalised positions per frame."""

    def __init__(self, scene, no_depth=(), holes=None, radius: int = 6) -> None:
        self.scene, self.no_depth, self.holes, self.radius = scene, set(no_depth), holes, radius
        self.info = CaptureInfo("synthetic", scene.num_frames, scene.fps, scene.color_size, scene.depth_size)

    def frames(self, start: int = 0, stop: int | None = None, step: int = 1) -> Iterator[RGBDFrame]:
        s = self.scene
        for i in range(start, s.num_frames if stop is None else stop, step):
            depth = s.depth[i].copy()
            if self.holes is not None:
                w, h = s.depth_size
                yy, xx = np.mgrid[0:h, 0:w]
                for u, v in self.holes[i]:
                    depth[(xx - u * w) ** 2 + (yy - v * h) ** 2 <= self.radius**2] = np.nan
            yield RGBDFrame(i, float(s.timestamps[i]), s.color[i], None if i in self.no_depth else depth,
                            s.confidence[i], s.intrinsics)  # fmt: skip


def _frame_index(scene, image: np.ndarray) -> int:
    return next(i for i in range(scene.num_frames) if np.shares_memory(scene.color[i], image))


def _poses(kp: np.ndarray, scores: np.ndarray, skeleton, image_size, **kwargs) -> Poses:
    boxes = np.concatenate([kp.min(1), kp.max(1)], 1)
    return Poses(kp, scores, boxes, np.ones(len(kp)), skeleton, image_size=image_size, **kwargs)


class Oracle:
    """A PoseKit-like model returning the scene's true 2D (COCO17+2), optionally in a rescaled image, with
    chosen scores and an extra small person."""

    skeleton = POSEKIT_COCO17_2

    def __init__(self, scene, scores=0.9, scale: float = 1.0, extra_person: bool = False, nobody=()) -> None:
        self.scene, self.scores, self.scale, self.extra, self.nobody = scene, scores, scale, extra_person, nobody
        self.calls = 0

    def __call__(self, image: np.ndarray, bboxes=None) -> Poses:
        self.calls += 1
        i = _frame_index(self.scene, image)
        w, h = self.scene.color_size
        size = (round(w * self.scale), round(h * self.scale))
        if i in self.nobody:
            return Poses.empty(POSEKIT_COCO17_2, image_size=size)
        kp = self.scene.joints_2d[i][None] * self.scale
        scores = np.broadcast_to(np.asarray(self.scores, dtype=np.float64), (1, 19))
        if self.extra:  # a small person in a corner, listed first
            kp = np.concatenate([kp * 0.2 + 5, kp])
            scores = np.concatenate([scores, scores])
        return _poses(kp, scores, POSEKIT_COCO17_2, size)


def test_recovers_known_joints(scene):
    seq = process_capture(SceneCapture(scene), Oracle(scene), smoothing="none")
    assert seq.skeleton is POSEKIT_COCO17_2 and seq.space_3d == "metric_depth" and seq.num_people == 1
    assert seq.image_size == scene.color_size and np.allclose(seq.intrinsics, scene.intrinsics)
    err = np.linalg.norm(seq.keypoints_3d[:, 0] - scene.surface_3d, axis=-1)
    assert err.max() < SURFACE_TOLERANCE and np.median(err) < 0.002
    to_centre = np.linalg.norm(seq.keypoints_3d[:, 0] - scene.joints_3d, axis=-1)
    assert (to_centre < scene.joint_offset + SURFACE_TOLERANCE).all()
    assert np.allclose(seq.keypoints_2d[:, 0], scene.joints_2d, atol=1e-4) and np.allclose(
        seq.timestamps, scene.timestamps
    )
    assert set(np.unique(seq.depth_confidence)) <= {0.5, 1.0}
    assert seq.meta["status"]["frames_without_depth"] == 0 and "source_3d" not in seq.meta


def test_smoothing_then_canonical_like_the_app(scene):
    raw = process_capture(SceneCapture(scene), Oracle(scene), smoothing="none")
    ema = process_capture(SceneCapture(scene), Oracle(scene), smoothing="ema")
    assert np.allclose(ema.keypoints_3d, smooth_sequence(raw.keypoints_3d, raw.timestamps, "ema"), equal_nan=True)
    assert np.allclose(ema.canonical_3d, canonicalize(ema.keypoints_3d, ema.scores, 0.3), equal_nan=True)
    assert np.allclose(ema.canonical_3d[:, 0, 17], 0)  # pelvis at the origin
    one_euro = process_capture(SceneCapture(scene), Oracle(scene), smoothing="one_euro",
                               smoothing_strength=0.5)  # fmt: skip
    assert one_euro.meta["smoothing"] == {"method": "one_euro", "strength": 0.5}


def test_2d_in_a_rescaled_image_uses_scaled_intrinsics(scene):
    seq = process_capture(SceneCapture(scene), Oracle(scene, scale=0.5), smoothing="none")
    assert seq.image_size == (320, 240) and np.allclose(seq.intrinsics[0], np.array(scene.intrinsics) * 0.5)
    assert np.linalg.norm(seq.keypoints_3d[:, 0] - scene.surface_3d, axis=-1).max() < SURFACE_TOLERANCE


def test_low_scores_missing_depth_and_status(scene):
    scores = np.full(19, 0.9)
    scores[[3, 4]] = 0.1  # ears
    seq = process_capture(SceneCapture(scene, no_depth=[2]), Oracle(scene, scores=scores), smoothing="none",
                          keypoint_threshold=0.3)  # fmt: skip
    assert np.isnan(seq.keypoints_3d[:, 0, [3, 4]]).all() and (seq.depth_confidence[:, 0, [3, 4]] == 0).all()
    assert np.isnan(seq.keypoints_3d[2]).all() and np.isfinite(seq.keypoints_3d[3, 0, 0]).all()
    status = seq.meta["status"]
    assert status["frames_without_depth"] == 1 and status["low_confidence_joints_per_frame"] == 2


def test_nan_depth_frames_are_frames_without_depth_and_all_nan_is_refused(scene):
    nan_scene = make_scene(num_frames=4)
    nan_scene.depth[1] = np.nan
    seq = process_capture(SceneCapture(nan_scene), Oracle(nan_scene), smoothing="none")
    assert np.isnan(seq.keypoints_3d[1]).all() and seq.meta["status"]["frames_without_depth"] == 1
    nan_scene.depth[:] = np.nan
    with pytest.raises(CaptureError, match="no frame has a valid depth value"):
        process_capture(SceneCapture(nan_scene), Oracle(nan_scene))


def test_main_person_and_empty_frames(scene):
    progress = []
    seq = process_capture(SceneCapture(scene), Oracle(scene, extra_person=True, nobody=[1]), smoothing="none",
                          progress=lambda fraction, message: progress.append((fraction, message)))  # fmt: skip
    assert progress == [(n / 4, f"poses and depth: frame {n} of 4") for n in (1, 2, 3, 4)]
    assert np.allclose(seq.keypoints_2d[0, 0], scene.joints_2d[0], atol=1e-4)  # the big person, not the small one
    assert np.isnan(seq.keypoints_2d[1]).all() and (seq.scores[1] == 0).all() and np.isnan(seq.bboxes[1]).all()
    assert np.allclose(seq.keypoints_2d[2, 0], scene.joints_2d[2], atol=1e-4)


def test_main_person_is_the_largest_box_followed_over_frames():
    three = POSEKIT_COCO17_2
    poses = Poses(
        np.zeros((2, 19, 2)), np.ones((2, 19)), np.array([[0, 0, 10, 10], [20, 20, 60, 60.0]]), np.ones(2), three
    )
    assert pick_main_box(poses.bboxes, np.ones(2)) == 1  # the larger box
    assert pick_main_box(poses.bboxes, np.ones(2), np.array([1.0, 1, 11, 11])) == 0  # continues the previous
    assert pick_main_box(np.zeros((0, 4)), np.zeros(0)) == -1


def test_step_and_limits(scene):
    oracle = Oracle(scene)
    seq = process_capture(SceneCapture(scene), oracle, frame_step=2, smoothing="none")
    assert seq.num_frames == 2 and seq.fps == scene.fps / 2 and oracle.calls == 2
    oracle = Oracle(scene)
    with pytest.raises(LimitError, match="frames"):
        process_capture(SceneCapture(scene), oracle, limits=Limits(max_frames=2))
    with pytest.raises(LimitError, match="pixels"):
        process_capture(SceneCapture(scene), oracle, limits=Limits(max_image_pixels=1000))
    assert oracle.calls == 0  # refused before any frame was decoded


def test_result_saves_as_a_take(scene, tmp_path):
    seq = process_capture(SceneCapture(scene), Oracle(scene))
    take = load_take(save_take(seq, tmp_path / "capture.zip"))
    assert take.meta["minKeypointScore"] == pytest.approx(0.3) and take.meta["frameCount"] == scene.num_frames
    assert np.allclose(take.keypoints_2d[:, 0], scene.joints_2d / scene.color_size, atol=1e-6)
    assert np.allclose(take.keypoints_3d, seq.keypoints_3d, atol=1e-6, equal_nan=True)


def test_status_messages_like_the_app():
    uv = np.full((19, 2), 0.5)
    uv[0] = [1.2, 0.5]
    scores = np.full(19, 0.9)
    scores[3] = 0.1
    messages = status_messages(uv, scores, False, 0.3, POSEKIT_COCO17_2)
    assert messages == ["depth unavailable", "low confidence: L-Ear", "out of frame: Nose"]
    assert status_messages(np.full((19, 2), 0.5), np.ones(19), True, 0.3, POSEKIT_COCO17_2) == ["ok"]
    counts = status_counts(uv[None, None], scores[None, None], np.array([True]), 0.3)
    assert counts.low_confidence.tolist() == [[1]] and counts.out_of_frame.tolist() == [[1]]


# ---------------------------------------------------------------------------------------------------------
# RTMW3D: its root-relative 3D placed in the real camera with the measured depth.


def test_fuse_model_3d_hand_worked():
    intr = (100.0, 100.0, 50.0, 50.0)
    kp2 = np.array([[50.0, 50.0], [60.0, 50.0], [50.0, 70.0], [40.0, 40.0], [0.0, 0.0]])
    scores = np.array([0.9, 0.9, 0.9, 0.9, 0.1])
    z_rel = np.array([0.0, 0.1, -0.2, 0.0, 0.0])
    measured = backproject(kp2, np.array([2.0, 2.1, np.nan, 4.0, 2.0]), intr)  # joint 3 sees the background
    fused, source, root = fuse_model_3d(kp2, scores, measured, z_rel, intr, 0.3)
    # Root: median of (2.0 - 0, 2.1 - 0.1) over the samples on the body = 2.0.
    assert root == pytest.approx(2.0)
    assert source.tolist() == [SOURCE_DEPTH, SOURCE_DEPTH, SOURCE_MODEL, SOURCE_MODEL, SOURCE_NONE]
    assert np.allclose(fused[2], [0.0, 0.2 * 1.8, 1.8])  # (70 - 50) / 100 * 1.8
    assert np.allclose(fused[3], [-0.2, -0.2, 2.0]) and np.allclose(fused[:2], measured[:2])
    assert np.isnan(fused[4]).all()
    nothing = fuse_model_3d(kp2, scores, np.full((5, 3), np.nan), z_rel, intr, 0.3)
    assert np.isnan(nothing[0]).all() and np.isnan(nothing[2])


def _wholebody_truth(joints: np.ndarray) -> np.ndarray:
    """(T, 133, 3): COCO body from the scene; feet, face and fingers placed around ankles, nose and wrists."""
    t = len(joints)
    wb = np.zeros((t, 133, 3))
    wb[:, :17] = joints[:, :17]
    foot = np.array([[0.03, 0.07, -0.12], [-0.03, 0.07, -0.10], [0.0, 0.06, 0.05]])
    wb[:, 17:20] = joints[:, 15, None] + foot
    wb[:, 20:23] = joints[:, 16, None] + foot * [-1, 1, 1]
    angle = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    wb[:, 23:91] = joints[:, 0, None] + np.stack([0.06 * np.cos(angle), 0.08 * np.sin(angle) - 0.02,
                                                  np.full(68, 0.01)], -1)  # fmt: skip
    s = np.linspace(-1, 1, 21)
    fan = np.stack([0.09 * np.sin(s), 0.04 + 0.05 * np.abs(s), np.zeros(21)], -1)
    wb[:, 91:112] = joints[:, 9, None] + fan
    wb[:, 112:133] = joints[:, 10, None] + fan
    return wb


class FakeRTMW3D:
    """An RTMW3D-like result without the network: true 2D, and the root-relative 3D placed at the nominal
    root depth with nominal intrinsics, as posekit's RTMPose3D reports it (``meta["root_depth"]``)."""

    skeleton = COCO_WHOLEBODY

    def __init__(self, scene) -> None:
        self.scene = scene
        self.truth = _wholebody_truth(scene.joints_3d)
        self.kp2 = project(self.truth, scene.intrinsics)
        w, h = scene.color_size
        self.nominal = (1145.04940459, 1143.78109572, w / 2, h / 2)
        z_rel = self.truth[..., 2] - self.truth[:, [11, 12], 2].mean(1, keepdims=True)
        self.model_3d = backproject(self.kp2, z_rel + ROOT_DEPTH, self.nominal)

    def __call__(self, image: np.ndarray, bboxes=None) -> Poses:
        i = _frame_index(self.scene, image)
        return _poses(self.kp2[i][None], np.full((1, 133), 0.8), COCO_WHOLEBODY, self.scene.color_size,
                      keypoints_3d=self.model_3d[i][None], space_3d="model",
                      meta={"root_depth": ROOT_DEPTH, "intrinsics": list(self.nominal)})  # fmt: skip


def test_rtmw3d_fusion_gives_metric_hands_feet_and_face(scene):
    model = FakeRTMW3D(scene)
    # No valid depth around the right hand, as LiDAR often has none on fingers.
    holes = [[tuple(model.kp2[i, 10] / scene.color_size)] for i in range(scene.num_frames)]
    seq = process_capture(SceneCapture(scene, holes=holes), model, smoothing="none")
    assert seq.skeleton is COCO_WHOLEBODY and seq.space_3d == "metric_depth"
    source = np.array(seq.meta["source_3d"])[:, 0]
    assert set(seq.meta["source_3d_codes"].values()) >= {"depth map", "none"}
    err = np.linalg.norm(seq.keypoints_3d[:, 0] - model.truth, axis=-1)
    assert np.isfinite(seq.keypoints_3d).all()  # every joint got metric 3D
    right_hand = source[:, 112:133]
    assert (right_hand == SOURCE_MODEL).mean() > 0.9  # no depth there: placed by the model
    # Placed joints: within 3 cm of the truth (the root comes from surface samples: about 1 cm off here).
    assert err[source == SOURCE_MODEL].max() < 0.03
    # Depth-map joints: the body's surface, up to the surface offset in front of the joint centre.
    assert err[source == SOURCE_DEPTH].max() < 0.17 and np.median(err[source == SOURCE_DEPTH]) < 0.03
    assert np.allclose(seq.meta["root_depth"], model.truth[:, [11, 12], 2].mean(1), atol=0.03)
    # The nominal placement (root at 5.14 m, guessed intrinsics) is metres off; fusion fixes it.
    assert np.median(np.linalg.norm(model.model_3d - model.truth, axis=-1)) > 2.0
    assert (seq.depth_confidence[:, 0][source == SOURCE_MODEL] == 0).all()
    assert np.allclose((seq.canonical_3d[:, 0, 11] + seq.canonical_3d[:, 0, 12]) / 2, 0)
    assert "RTMW3D" in seq.meta["3d"]["keypoints_3d"]


def test_rtmw3d_without_fusion_keeps_depth_only(scene):
    model = FakeRTMW3D(scene)
    holes = [[tuple(model.kp2[i, 10] / scene.color_size)] for i in range(scene.num_frames)]
    seq = process_capture(SceneCapture(scene, holes=holes), model, smoothing="none", fuse=False)
    assert "source_3d" not in seq.meta
    # Around the hand the depth map has a hole or sees the wall behind the fingers: no 3D, or metres off.
    z, truth_z = seq.keypoints_3d[:, 0, 112:133, 2], model.truth[:, 112:133, 2]
    assert (np.isnan(z) | (np.abs(z - truth_z) > 1.0)).mean() > 0.5
