"""The synthetic scene's ground truth is self-consistent (the capture and geometry tests rely on it)."""

import numpy as np
import pytest
from generators.scene import make_scene

from posekit.coords import backproject, project, scale_intrinsics


@pytest.fixture(scope="module")
def scene():
    return make_scene(num_frames=4)


def test_shapes_and_intrinsics(scene):
    t, (w, h), (dw, dh) = scene.num_frames, scene.color_size, scene.depth_size
    assert scene.color.shape == (t, h, w, 3) and scene.color.dtype == np.uint8
    assert scene.depth.shape == (t, dh, dw) and scene.depth.dtype == np.float32
    assert scene.confidence.shape == (t, dh, dw) and scene.confidence.dtype == np.uint8
    assert scene.joints_3d.shape == (t, 19, 3) and scene.joints_2d.shape == (t, 19, 2)
    assert scene.depth_intrinsics == pytest.approx(scale_intrinsics(scene.intrinsics, (w, h), (dw, dh)))
    np.testing.assert_allclose(scene.timestamps, np.arange(t) / scene.fps)


def test_joints_layout_and_projection(scene):
    j = scene.joints_3d
    np.testing.assert_allclose(j[:, 17], j[:, [11, 12]].mean(1), atol=1e-12)  # Pelvis
    np.testing.assert_allclose(j[:, 18], j[:, [5, 6]].mean(1), atol=1e-12)  # Neck
    assert (j[:, 5, 0] > j[:, 6, 0]).all(), "facing the camera, the left shoulder is on the image's right"
    np.testing.assert_allclose(scene.joints_2d, project(j, scene.intrinsics))
    w, h = scene.color_size
    assert (scene.joints_2d > 0).all() and (scene.joints_2d[..., 0] < w).all() and (scene.joints_2d[..., 1] < h).all()
    assert 2.0 < j[..., 2].min() and j[..., 2].max() < 3.0
    assert 1.5 < j[:, 15:17, 1].mean() - j[:, 0, 1].mean() < 1.6  # nose to ankles: a 1.75 m person


def test_surface_depth_and_offset(scene):
    offset = scene.joint_offset
    assert (offset > 0).all() and (offset < 0.16).all()
    np.testing.assert_allclose(offset[:, 17], 0.12, atol=1e-3)  # pelvis: the torso capsule's radius
    surface = scene.surface_3d
    np.testing.assert_allclose(surface, backproject(scene.joints_2d, scene.joint_depth, scene.intrinsics), atol=1e-9)
    np.testing.assert_allclose(project(surface, scene.intrinsics), scene.joints_2d, atol=1e-9)


def test_depth_map_agrees_with_joint_depth(scene):
    # Nearest-neighbour sampling at the joint's normalised position is within the documented 1 cm.
    (w, h), (dw, dh) = scene.color_size, scene.depth_size
    ij = np.round(scene.joints_2d / np.array([w, h]) * np.array([dw, dh])).astype(int)
    t = np.arange(scene.num_frames)[:, None]
    sampled = scene.depth[t, ij[..., 1], ij[..., 0]]
    np.testing.assert_allclose(sampled, scene.joint_depth, atol=0.01)
    assert scene.body_mask[t, ij[..., 1], ij[..., 0]].all()


def test_background_confidence_and_hole(scene):
    d, c, body = scene.depth, scene.confidence, scene.body_mask
    assert np.isnan(d[:, 0, 0]).all() and (c[:, 0, 0] == 0).all()
    assert np.nanmax(d) == pytest.approx(4.0)  # the wall
    assert 0.03 < body.mean() < 0.2
    assert (np.nanmax(np.where(body, d, np.nan)) < 3.0) and (c[body] >= 1).all()
    assert (c[body] == 2).mean() > 0.7  # high on the body, lower at its silhouette
    assert (c[~body & (d > 3.9)] <= 1).all()


def test_motion(scene):
    still = make_scene(num_frames=3, motion=0.0, color_size=(320, 240), depth_size=(128, 96))
    np.testing.assert_allclose(still.joints_3d, still.joints_3d[:1].repeat(3, 0))
    assert np.abs(np.diff(scene.joints_3d, axis=0)).max() > 0.05
    # The colour image shows the body where depth does: the skin/shirt colours cover the joints' pixels.
    px = np.round(scene.joints_2d[0, [5, 6, 11, 12, 17, 18]]).astype(int)
    assert (scene.color[0][px[:, 1], px[:, 0]] != np.array([205, 215, 220])).any(axis=1).all()
