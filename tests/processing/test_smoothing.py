"""The app's EMA (exact numbers and NaN rules) and the One-Euro filter."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.processing.smoothing import (
    EMASmoother,
    OneEuroFilter,
    ema_alpha,
    one_euro_params,
    smooth_pose_sequence,
    smooth_sequence,
    smoothing_params,
)
from posekit.sequence import PoseSequence
from posekit.skeletons import POSEKIT_COCO17_2

NAN = float("nan")


def test_ema_hand_worked():
    f = EMASmoother()
    assert np.allclose(f.update([[1.0, 2.0, 3.0]]), [[1, 2, 3]])
    # 1 * 0.55 + 3 * 0.45 = 1.9
    assert np.allclose(f.update([[3.0, 2.0, 1.0]]), [[1.9, 2.0, 2.1]])
    # 1.9 * 0.55 + 0 * 0.45 = 1.045
    assert np.allclose(f.update([[0.0, 0.0, 0.0]]), [[1.045, 1.1, 1.155]])


def test_ema_nan_rules():
    f = EMASmoother()
    f.update([[1.0, 1.0, 1.0], [5.0, 5.0, 5.0]])
    # Joint 0: a NaN component makes the whole point pass through unchanged; joint 1 blends.
    out = f.update([[2.0, NAN, 2.0], [7.0, 7.0, 7.0]])
    assert out[0, 0] == 2.0 and np.isnan(out[0, 1]) and out[0, 2] == 2.0
    assert np.allclose(out[1], 5 * 0.55 + 7 * 0.45)
    # The NaN point became the previous value: the next valid value restarts the average.
    out = f.update([[4.0, 4.0, 4.0], [7.0, 7.0, 7.0]])
    assert np.array_equal(out[0], [4.0, 4.0, 4.0])


def test_ema_float32_matches_app_arithmetic():
    f = EMASmoother()
    a, b = np.float32([0.123, 1.7, 2.2]), np.float32([0.5, 1.1, 2.9])
    f.update(a)
    out = f.update(b)
    alpha = np.float32(0.55)
    assert out.dtype == np.float32
    assert np.array_equal(out, a * alpha + b * (np.float32(1) - alpha))


def test_ema_shape_change_is_a_clear_error():
    f = EMASmoother()
    f.update(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="reset"):
        f.update(np.zeros((3, 3)))
    f.reset()
    f.update(np.zeros((3, 3)))


def test_ema_elementwise():
    out = smooth_sequence(np.array([1.0, NAN, 3.0, 5.0]), method="ema", group_last_axis=False)
    assert out[0] == 1 and np.isnan(out[1]) and out[2] == 3 and np.isclose(out[3], 3 * 0.55 + 5 * 0.45)


def test_one_euro_constant_and_first_frame():
    x = np.full((10, 2, 3), 0.7)
    assert np.allclose(smooth_sequence(x, np.arange(10) / 30, "one_euro"), 0.7)


def test_one_euro_single_step_numbers():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0, d_cutoff=1.0)
    f.update([0.0], 0.0)
    out = f.update([1.0], 0.1)
    r = 2 * np.pi * 1.0 * 0.1
    assert np.isclose(out[0], r / (r + 1))


def test_one_euro_is_time_aware():
    """The same jump smooths less when more time passed since the previous frame."""
    short, long = OneEuroFilter(), OneEuroFilter()
    short.update([0.0, 0.0], 0.0)
    long.update([0.0, 0.0], 0.0)
    assert short.update([1.0, 0.0], 1 / 60)[0] < long.update([1.0, 0.0], 1 / 5)[0]


def _circle(speed: float, noise: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A joint circling at ``speed`` m/s (radius 1 m) at 30 fps, plus Gaussian noise of ``noise`` m."""
    t = np.arange(600) / 30
    truth = np.stack([np.sin(speed * t), np.cos(speed * t), 2 + 0 * t], axis=-1)
    return t, truth, truth + np.random.default_rng(0).normal(0, noise, truth.shape)


def _error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b, axis=-1)[30:].mean())


def test_one_euro_reduces_jitter_of_a_still_joint():
    t, truth, noisy = _circle(0.0, 0.01)
    assert _error(smooth_sequence(noisy, t, "one_euro"), truth) < 0.6 * _error(noisy, truth)


def test_one_euro_follows_fast_motion():
    t, truth, noisy = _circle(1.0, 0.01)
    err = _error(smooth_sequence(noisy, t, "one_euro"), truth)
    assert err < 1.6 * _error(noisy, truth)
    assert err < 0.7 * _error(smooth_sequence(noisy, t, "ema"), truth)


def test_one_euro_nan_restarts_point():
    f = OneEuroFilter()
    f.update([[0.0, 0.0, 0.0]], 0.0)
    out = f.update([[NAN, 1.0, 1.0]], 0.1)
    assert np.isnan(out[0, 0]) and out[0, 1] == 1.0
    out = f.update([[5.0, 5.0, 5.0]], 0.2)
    assert np.array_equal(out, [[5.0, 5.0, 5.0]])


def test_one_euro_bad_timestamps_fall_back():
    f = OneEuroFilter(fps=10)
    f.update([0.0], 1.0)
    a = f.update([1.0], 1.0)  # repeated timestamp: one 1/fps step assumed
    g = OneEuroFilter(fps=10)
    g.update([0.0], 1.0)
    assert np.allclose(a, g.update([1.0], 1.1))


def test_strength_knobs():
    assert one_euro_params(0.5)["min_cutoff"] == pytest.approx(1.0)
    assert one_euro_params(1.0)["min_cutoff"] < one_euro_params(0.0)["min_cutoff"]
    assert ema_alpha(0.5) == pytest.approx(0.55) and ema_alpha(0) == 0
    with pytest.raises(ValueError, match="strength"):
        one_euro_params(2)
    x = np.random.default_rng(1).normal(size=(50, 3))
    light = smooth_sequence(x, None, "one_euro", strength=0.1)
    heavy = smooth_sequence(x, None, "one_euro", strength=0.9)
    assert np.diff(heavy, axis=0).std() < np.diff(light, axis=0).std()


def test_smoothing_params_pass_one_strength_mapping():
    assert smoothing_params("ema", None) == {} and smoothing_params("none", 0.7) == {}
    assert smoothing_params("one_euro", 0.3) == {"strength": 0.3}
    # The EMA's strength goes through ema_alpha, whatever the caller (video, capture, CLI, app).
    x = np.random.default_rng(2).normal(size=(20, 3))
    via_knob = smooth_sequence(x, None, "ema", **smoothing_params("ema", 0.8))
    assert np.array_equal(via_knob, smooth_sequence(x, None, "ema", alpha=ema_alpha(0.8)))
    with pytest.raises(ValueError, match="expected one of"):
        smoothing_params("kalman", None)
    with pytest.raises(ValueError, match="0..1"):
        smoothing_params("ema", 1.5)


def test_methods_and_errors():
    x = np.arange(12.0).reshape(4, 3)
    assert np.array_equal(smooth_sequence(x, method="none", strength=0.3), x)
    with pytest.raises(ValueError, match="expected one of"):
        smooth_sequence(x, method="kalman")
    with pytest.raises(ValueError, match="timestamps"):
        smooth_sequence(x, [0.0, 1.0], "ema")


def test_smooth_pose_sequence_per_track():
    t, p, k = 6, 2, POSEKIT_COCO17_2.num_keypoints
    kp3 = np.zeros((t, p, k, 3))
    kp3[:, 0] = np.arange(t)[:, None, None]
    kp3[:, 1] = 10.0
    kp3[2, 1] = NAN  # person 1 absent in frame 2
    kp2 = np.full((t, p, k, 2), 50.0)
    seq = PoseSequence(np.arange(t) / 30, kp2, np.ones((t, p, k)), POSEKIT_COCO17_2, keypoints_3d=kp3,
                       image_size=(100, 80))  # fmt: skip
    out = smooth_pose_sequence(seq, "ema")
    expected = smooth_sequence(kp3[:, 0], method="ema")
    assert np.allclose(out.keypoints_3d[:, 0], expected)
    assert np.isnan(out.keypoints_3d[2, 1]).all() and np.allclose(out.keypoints_3d[3:, 1], 10.0)
    assert np.allclose(out.keypoints_2d, 50.0)
    assert out.meta["smoothing"]["method"] == "ema"
    assert seq.keypoints_3d[1, 0, 0, 0] == 1.0  # input untouched
