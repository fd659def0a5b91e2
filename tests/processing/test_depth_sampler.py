"""The app's DepthSampler: every branch, with hand-worked numbers."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.processing.depth_sampler import depth_pixels, lift_keypoints, sample_depth

NAN = float("nan")


def _maps(w: int = 11, h: int = 11, depth: float = 2.0, level: int = 2) -> tuple[np.ndarray, np.ndarray]:
    return np.full((h, w), depth, np.float32), np.full((h, w), level, np.uint8)


def test_pixel_rounding_half_away_from_zero():
    # (6 - 1) * 0.5 = 2.5 -> 3 (numpy's round would give 2); (4 - 1) * 0.5 = 1.5 -> 2.
    x, y = depth_pixels(np.array([0.5, 0.5]), (6, 4))
    assert (x, y) == (3, 2)
    x, _ = depth_pixels(np.array([[0.0, 0.0], [1.0, 1.0], [0.1, 0.0]]), (256, 192))
    assert x.tolist() == [0, 255, 26]  # 25.5 -> 26
    x, y = depth_pixels(np.array([NAN, 1e30]), (10, 10))
    assert x < 0 and y > 10  # never lands on a valid pixel


def test_pixel_product_is_float32_like_the_app():
    # 0.1 as float32 is 0.100000001490116...; 255 * that in float32 rounds to exactly 25.5 -> 26.
    assert np.float32(255) * np.float32(0.1) == np.float32(25.5)
    assert depth_pixels(np.array([0.1, 0.1]), (256, 256))[0] == 26


def test_centre_sample_used_directly():
    d, c = _maps()
    d[5, 5], c[5, 5] = 3.25, 1
    z, conf = sample_depth(np.array([0.5, 0.5]), d, c, "balanced")
    assert z == pytest.approx(3.25) and conf == 0.5


def test_centre_below_minimum_level_scans_window():
    d, c = _maps(depth=NAN, level=0)
    d[5, 5], c[5, 5] = 9.0, 1  # valid depth but level 1 < strict's 2
    d[5, 7], c[5, 7] = 4.0, 2  # two pixels right: within strict's radius 2
    z, conf = sample_depth(np.array([0.5, 0.5]), d, c, "strict")
    assert z == 4.0 and conf == 1.0


def test_window_keeps_highest_level_and_upper_median():
    d, c = _maps(depth=NAN, level=0)
    # Level-1 samples are discarded once a level-2 sample appears (the list restarts).
    d[3, 3], c[3, 3] = 1.0, 1
    for x, value in zip((4, 5, 6, 7), (5.0, 3.0, 4.0, 6.0)):
        d[4, x], c[4, x] = value, 2
    d[8, 8], c[8, 8] = 0.5, 1
    z, conf = sample_depth(np.array([0.5, 0.5]), d, c, "balanced")
    # Level 2 samples sorted: [3, 4, 5, 6]; count 4 -> index 2 -> 5 (the upper median).
    assert z == 5.0 and conf == 1.0
    d[4, 8], c[4, 8] = 7.0, 2  # odd count 5: [3, 4, 5, 6, 7] -> index 2 -> 5
    d[4, 4] = 2.0  # [2, 3, 4, 6, 7] -> 4
    z, _ = sample_depth(np.array([0.5, 0.5]), d, c, "balanced")
    assert z == 4.0


def test_radius_per_mode():
    d, c = _maps(depth=NAN)
    d[5, 8] = 2.5  # three pixels from the centre
    assert np.isnan(sample_depth(np.array([0.5, 0.5]), d, c, "strict")[0])
    assert sample_depth(np.array([0.5, 0.5]), d, c, "balanced")[0] == 2.5


def test_minimum_levels_per_mode():
    d, c = _maps(level=0)
    z, conf = sample_depth(np.array([0.5, 0.5]), d, c, "lenient")
    assert z == 2.0 and conf == 0.0
    assert np.isnan(sample_depth(np.array([0.5, 0.5]), d, c, "balanced")[0])
    c[:] = 1
    assert sample_depth(np.array([0.5, 0.5]), d, c, "balanced")[1] == 0.5
    assert np.isnan(sample_depth(np.array([0.5, 0.5]), d, c, "strict")[0])


def test_invalid_depths_skipped():
    d, c = _maps(depth=0.0)
    d[4, 5], d[6, 5], d[5, 4] = -1.0, NAN, np.inf
    d[5, 6] = 1.5
    z, conf = sample_depth(np.array([0.5, 0.5]), d, c)
    assert z == 1.5 and conf == 1.0


def test_no_confidence_map_counts_as_high():
    d, _ = _maps()
    z, conf = sample_depth(np.array([0.5, 0.5]), d, None, "strict")
    assert z == 2.0 and conf == 1.0


def test_no_sample_gives_nan_and_zero():
    d, c = _maps(depth=NAN)
    z, conf = sample_depth(np.array([[0.5, 0.5]]), d, c)
    assert np.isnan(z[0]) and conf[0] == 0


def test_out_of_frame_joint_uses_the_pixels_within_reach():
    d, c = _maps()
    d[5, 0], d[5, 1] = 1.0, 3.0
    # x = round(10 * -0.2) = -2: outside; window columns -5..1 reach columns 0 and 1 (rows 2..8 of depth 2).
    z, _ = sample_depth(np.array([-0.2, 0.5]), d, c)
    assert z == 2.0
    assert np.isnan(sample_depth(np.array([-0.5, 0.5]), d, c)[0])  # x = -5: nothing within 3 pixels


def test_where_mask_and_shapes():
    d, c = _maps()
    uv = np.full((2, 3, 2), 0.5)
    where = np.array([[True, False, True], [False, False, True]])
    z, conf = sample_depth(uv, d, c, where=where)
    assert z.shape == (2, 3) and np.array_equal(np.isnan(z), ~where) and np.array_equal(conf, where * 1.0)


def test_any_resolution_samples_at_normalised_positions():
    small = np.arange(12, dtype=np.float32).reshape(3, 4) + 1  # 4 x 3
    big = np.kron(small, np.ones((10, 10), np.float32))  # 40 x 30: same picture
    uv = np.array([[0.1, 0.1], [0.9, 0.9], [0.4, 0.6]])
    assert np.array_equal(sample_depth(uv, small)[0], [1.0, 12.0, 6.0])
    assert np.array_equal(sample_depth(uv, big)[0], [1.0, 12.0, 6.0])


def test_confidence_map_smaller_than_depth_reads_as_high_outside():
    d = np.full((5, 5), 2.0, np.float32)
    c = np.zeros((2, 2), np.uint8)
    assert sample_depth(np.array([1.0, 1.0]), d, c, "strict")[1] == 1.0


def test_errors():
    d, c = _maps()
    with pytest.raises(ValueError, match="depth mode"):
        sample_depth(np.array([0.5, 0.5]), d, c, "fast")
    with pytest.raises(ValueError, match="uv"):
        sample_depth(np.array([0.5, 0.5, 0.5]), d, c)
    with pytest.raises(ValueError, match="depth map"):
        sample_depth(np.array([0.5, 0.5]), d[0], c)
    z, conf = sample_depth(np.array([0.5, 0.5]), np.zeros((0, 0), np.float32))
    assert np.isnan(z) and conf == 0


def test_lift_keypoints_backprojects_in_image_pixels():
    d, c = _maps(w=4, h=3, depth=2.0)
    uv = np.array([[0.75, 0.25], [0.5, 0.5]])
    points, conf = lift_keypoints(uv, d, c, (100.0, 100.0, 50.0, 40.0), (100, 80), where=np.array([True, False]))
    # Pixel (75, 20): x = (75 - 50) / 100 * 2 = 0.5, y = (20 - 40) / 100 * 2 = -0.4.
    assert np.allclose(points[0], [0.5, -0.4, 2.0]) and conf[0] == 1.0
    assert np.isnan(points[1]).all() and conf[1] == 0
