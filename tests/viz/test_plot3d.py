"""The Plotly 3D figures: display convention, colours, hover names, equal scales, floor, camera, animation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posekit.poses import Poses
from posekit.sequence import PoseSequence
from posekit.skeletons import COCO_WHOLEBODY, POSEKIT_COCO17_2, Skeleton
from posekit.viz import plot3d
from posekit.viz.drawing import track_color_rgb


def _standing(skeleton: Skeleton, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, K, 3) camera-frame people about 3 m in front of the camera, head up (smaller y), side by side."""
    k = skeleton.num_keypoints
    pts = rng.normal(scale=0.05, size=(n, k, 3))
    pts[..., 1] += np.linspace(-0.8, 0.9, k)  # y down: the first keypoints (head) high, the last low
    pts[..., 0] += np.arange(n)[:, None] * 0.8
    pts[..., 2] += 3.0
    return pts


def _poses(skeleton: Skeleton, n: int = 2, seed: int = 0, with_3d: bool = True) -> Poses:
    rng = np.random.default_rng(seed)
    k = skeleton.num_keypoints
    return Poses(
        keypoints_2d=rng.random((n, k, 2)) * 100,
        scores=np.full((n, k), 0.9),
        bboxes=np.tile([0, 0, 100, 100], (n, 1)),
        bbox_scores=np.ones(n),
        skeleton=skeleton,
        keypoints_3d=_standing(skeleton, n, rng) if with_3d else None,
        space_3d="model" if with_3d else None,
    )


def _sequence(skeleton: Skeleton, t: int, p: int = 1) -> PoseSequence:
    rng = np.random.default_rng(1)
    k = skeleton.num_keypoints
    kp3 = np.stack([_standing(skeleton, p, rng) for _ in range(t)]) if t else np.zeros((0, p, k, 3))
    return PoseSequence(
        timestamps=np.arange(t) / 30.0,
        keypoints_2d=rng.random((t, p, k, 2)),
        scores=np.full((t, p, k), 0.9),
        skeleton=skeleton,
        keypoints_3d=kp3,
        fps=30.0,
        space_3d="phone",
    )


def _people_traces(fig):
    return [tr for tr in fig.data if tr.type == "scatter3d"]


def test_to_display_is_an_upright_rotation():
    # x right, y down, z forward -> (x, z, -y): a rotation (no mirror), so left and right stay put.
    basis = plot3d.to_display(np.eye(3))
    assert np.isclose(np.linalg.det(basis), 1.0)
    head, foot = np.array([0.0, -0.8, 3.0]), np.array([0.0, 0.9, 3.0])
    assert plot3d.to_display(head)[2] > plot3d.to_display(foot)[2]  # the head is up
    np.testing.assert_array_equal(plot3d.to_display(np.array([1.0, 2.0, 3.0])), [1.0, 3.0, -2.0])


@pytest.mark.parametrize(("total", "bound"), [(0, 5), (3, 5), (5, 5), (300, 60), (61, 60), (1000, 1)])
def test_subsample_keeps_ends_and_bound(total, bound):
    idx = plot3d.subsample(total, bound)
    assert len(idx) == min(total, bound)
    assert np.all(np.diff(idx) > 0)
    if total and bound > 1:
        assert idx[0] == 0 and idx[-1] == total - 1


def test_pose_figure_people_colours_names_and_hover():
    poses = _poses(COCO_WHOLEBODY, n=3)
    poses.track_ids = np.array([4, 7, 9])
    fig = plot3d.pose_figure(poses)
    traces = _people_traces(fig)
    assert len(traces) == 2 * 3  # bones + joints per person
    joints = [tr for tr in traces if tr.mode == "markers"]
    assert [tr.name for tr in joints] == ["person #4", "person #7", "person #9"]
    colours = [tr.marker.color for tr in joints]
    assert len(set(colours)) == 3
    assert colours[1] == "rgb({},{},{})".format(*track_color_rgb(7))
    assert joints[0].text[9].startswith("left_wrist") and "(0.90)" in joints[0].text[9]
    assert "%{text}" in joints[0].hovertemplate and "depth" in joints[0].hovertemplate
    np.testing.assert_allclose(joints[0].x, poses.keypoints_3d[0, :, 0], atol=1e-6)
    np.testing.assert_allclose(joints[0].z, -poses.keypoints_3d[0, :, 1], atol=1e-6)
    json.loads(fig.to_json())  # serialisable, as Gradio sends it


@pytest.mark.parametrize("skeleton", [COCO_WHOLEBODY, POSEKIT_COCO17_2])
def test_bones_cover_every_edge_once_in_its_part_colour(skeleton):
    fig = plot3d.pose_figure(_poses(skeleton, n=1))
    bones = next(tr for tr in _people_traces(fig) if tr.mode == "lines")
    vertex, value = plot3d._polylines(skeleton)
    assert len(bones.x) == len(vertex) < 3 * len(skeleton.edges)
    scale = {round(lo * len(skeleton.parts) + 0.5, 3): c for lo, c in bones.line.colorscale[::2]}
    edge_rgb = {frozenset(e): "rgb({},{},{})".format(*c) for e, c in zip(skeleton.edges, skeleton.edge_colors())}
    seen = []
    for i in range(len(vertex) - 1):
        a, b = vertex[i], vertex[i + 1]
        if a < 0 or b < 0:
            continue
        assert value[i] == value[i + 1]
        seen.append(frozenset((a, b)))
        assert scale[round(float(value[i]), 3)] == edge_rgb[frozenset((a, b))]
    assert sorted(map(sorted, seen)) == sorted(map(sorted, map(frozenset, skeleton.edges)))


def test_threshold_hides_joints_and_their_bones():
    poses = _poses(POSEKIT_COCO17_2, n=1)
    wrist = POSEKIT_COCO17_2.index("L-Wrist")
    poses.scores[0, wrist] = 0.1
    fig = plot3d.pose_figure(poses, keypoint_threshold=0.3)
    bones, joints = _people_traces(fig)
    assert np.isnan(joints.x[wrist]) and np.isfinite(np.delete(np.asarray(joints.x, float), wrist)).all()
    vertex, _ = plot3d._polylines(POSEKIT_COCO17_2)
    assert np.isnan(np.asarray(bones.x, float)[vertex == wrist]).all()


def test_equal_axes_floor_and_camera_in_front():
    poses = _poses(POSEKIT_COCO17_2, n=2)
    fig = plot3d.pose_figure(poses)
    scene = fig.layout.scene
    spans = [ax.range[1] - ax.range[0] for ax in (scene.xaxis, scene.yaxis, scene.zaxis)]
    assert scene.aspectmode == "cube" and np.allclose(spans, spans[0])
    shown = plot3d.to_display(poses.keypoints_3d).reshape(-1, 3)
    for ax, lo, hi in zip((scene.xaxis, scene.yaxis, scene.zaxis), shown.min(0), shown.max(0)):
        assert ax.range[0] <= lo and hi <= ax.range[1]
    floor = next(tr for tr in fig.data if tr.type == "mesh3d")
    assert np.allclose(floor.z, shown[:, 2].min())  # under the lowest joint
    assert min(floor.x) <= shown[:, 0].min() and max(floor.y) >= shown[:, 1].max()
    # The people stand at +3 m depth; the camera starts on the camera's side (smaller depth), above.
    assert scene.camera.eye.y < 0 < scene.camera.eye.z
    assert abs(scene.camera.eye.x) < abs(scene.camera.eye.y)
    assert (scene.camera.up.x, scene.camera.up.y, scene.camera.up.z) == (0, 0, 1)


def test_two_d_only_and_empty_inputs_explain_themselves():
    fig = plot3d.pose_figure(_poses(POSEKIT_COCO17_2, with_3d=False))
    assert "2D" in fig.layout.annotations[0].text and not fig.data
    empty = Poses.empty(COCO_WHOLEBODY, with_3d=True)
    assert "No person" in plot3d.pose_figure(empty).layout.annotations[0].text
    assert plot3d.sequence_figure(_sequence(POSEKIT_COCO17_2, 0)).layout.annotations


def test_sequence_animation_is_bounded_with_controls():
    seq = _sequence(POSEKIT_COCO17_2, t=200, p=2)
    fig = plot3d.sequence_figure(seq, max_frames=40)
    assert len(fig.frames) == 40
    assert [f.name for f in fig.frames] == [str(i) for i in plot3d.subsample(200, 40)]
    assert all(len(f.data) == 4 for f in fig.frames)  # 2 people x (bones, joints); the floor stays
    labels = [b.label for b in fig.layout.updatemenus[0].buttons]
    assert any("Play" in s for s in labels) and any("Pause" in s for s in labels)
    assert all(b.method == "animate" for b in fig.layout.updatemenus[0].buttons)
    assert len(fig.layout.sliders[0].steps) == 40
    assert "40 of 200" in fig.layout.title.text
    last = fig.frames[-1].data[1]
    np.testing.assert_allclose(last.y, seq.keypoints_3d[-1, 0, :, 2], atol=1e-5)  # depth of the last frame


def test_sequence_payload_bound_for_wholebody_crowds():
    seq = _sequence(COCO_WHOLEBODY, t=120, p=3)
    fig = plot3d.sequence_figure(seq, max_frames=100, max_joints=5_000)
    assert len(fig.frames) * 3 * 133 <= 5_000
    assert len(fig.to_json()) < 1_000_000
    short = plot3d.sequence_figure(_sequence(POSEKIT_COCO17_2, t=5))
    assert len(short.frames) == 5 and "5 frames" in short.layout.title.text


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_upright_turns_a_sideways_phone_recording(degrees):
    seq = _sequence(POSEKIT_COCO17_2, t=6)
    sideways = plot3d._turn(seq.keypoints_3d, degrees)
    turn = plot3d.upright_turn(sideways, POSEKIT_COCO17_2)
    np.testing.assert_allclose(plot3d._turn(sideways, turn), seq.keypoints_3d, atol=1e-12)
    seq.keypoints_3d = sideways
    fig = plot3d.sequence_figure(seq, upright=True)
    joints = fig.data[1]
    head, ankle = POSEKIT_COCO17_2.index("Nose"), POSEKIT_COCO17_2.index("L-Ankle")
    assert joints.z[head] > joints.z[ankle]  # standing, whatever the phone's orientation
    assert ("turned" in fig.layout.title.text) == (degrees != 0)
    assert "turned" not in plot3d.sequence_figure(seq).layout.title.text  # off unless asked
