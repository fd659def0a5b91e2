"""PoseKit decoding: hand-made outputs with known answers, and a per-joint reference on random outputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from posekit.estimators.posekit_decode import add_pelvis_neck, center_weight, decode, decode_torch

G = 48


def blank(batch: int = 1, joints: int = 17) -> list[torch.Tensor]:
    """All-zero heatmaps, centers, regs, offsets."""
    return [
        torch.zeros(batch, joints, G, G),
        torch.zeros(batch, 1, G, G),
        torch.zeros(batch, 2 * joints, G, G),
        torch.zeros(batch, 2 * joints, G, G),
    ]


def reference_decode(heatmaps, centers, regs, offsets, th=0.1):  # noqa: ANN001, ANN201
    """The spec's steps written plainly, one person and one joint at a time (numpy, float64)."""
    heatmaps = np.where(heatmaps < th, 0, heatmaps).astype(np.float64)
    ys, xs = np.mgrid[0:G, 0:G]
    w = 1 / (np.sqrt((xs - 24.0) ** 2 + (ys - 24.0) ** 2) + 1.8)
    b, k = heatmaps.shape[:2]
    out_xy, out_s = np.zeros((b, k, 2)), np.zeros((b, k))
    for i in range(b):
        c = int(np.argmax(centers[i, 0] * w))
        cy, cx = divmod(c, G)
        for n in range(k):
            rx = int(np.float64(regs[i, 2 * n, cy, cx]) + 0.5) + cx
            ry = int(np.float64(regs[i, 2 * n + 1, cy, cx]) + 0.5) + cy
            d = np.sqrt((xs - rx) ** 2 + (ys - ry) ** 2) + 1.8
            py, px = divmod(int(np.argmax(heatmaps[i, n] / d)), G)
            score = heatmaps[i, n, py, px]
            out_xy[i, n] = [(px + offsets[i, 2 * n, py, px]) / G, (py + offsets[i, 2 * n + 1, py, px]) / G]
            out_s[i, n] = score if score >= th else 0.0
    return out_xy, out_s


def test_center_weight_is_the_upstream_table() -> None:
    w = center_weight()
    assert w.shape == (48, 48)
    assert w[24, 24] == pytest.approx(1 / 1.8)
    assert w[0, 0] == pytest.approx(1 / (math.sqrt(2 * 24**2) + 1.8))
    assert w[24, 47] == pytest.approx(1 / (23 + 1.8))
    # Values of upstream center_weight_origin.npy (float32), as the Swift app lists them.
    assert w[0, 0] == pytest.approx(0.027979, abs=1e-6)
    assert w[0, 24] == pytest.approx(0.038760, abs=1e-6)


def test_centre_is_the_weighted_not_the_raw_maximum() -> None:
    hm, ct, rg, of = blank()
    ct[0, 0, 0, 0] = 0.9  # raw maximum, far from the middle: 0.9 * 0.028 = 0.025
    ct[0, 0, 24, 30] = 0.5  # 0.5 / (6 + 1.8) = 0.064
    ct[0, 0, 20, 20] = 0.3  # 0.3 / (sqrt(32) + 1.8) = 0.04
    d = decode(hm, ct, rg, of)
    assert d.center.tolist() == [[30, 24]]
    assert d.center_score.item() == pytest.approx(0.5)


def test_regression_pulls_the_peak_towards_the_regressed_cell() -> None:
    hm, ct, rg, of = blank()
    ct[0, 0, 24, 24] = 1.0
    hm[0, 0, 10, 10] = 0.6  # stronger, far from the regressed cell
    hm[0, 0, 40, 40] = 0.5
    rg[0, 0, 24, 24] = 16.0  # joint 0 regressed to (40, 40)
    rg[0, 1, 24, 24] = 16.0
    d = decode(hm, ct, rg, of)
    assert d.keypoints[0, 0].tolist() == pytest.approx([40 / 48, 40 / 48])
    assert d.scores[0, 0].item() == pytest.approx(0.5)
    rg[0, :2, 24, 24] = -14.0  # now regressed to (10, 10)
    assert decode(hm, ct, rg, of).keypoints[0, 0].tolist() == pytest.approx([10 / 48, 10 / 48])


def test_sub_cell_offsets_are_added_at_the_peak() -> None:
    hm, ct, rg, of = blank()
    ct[0, 0, 24, 24] = 1.0
    hm[0, 3, 30, 12] = 0.8  # joint 3 at x=12, y=30
    of[0, 6, 30, 12] = 0.25
    of[0, 7, 30, 12] = -0.5
    d = decode(hm, ct, rg, of)
    assert d.keypoints[0, 3].tolist() == pytest.approx([12.25 / 48, 29.5 / 48])
    assert d.scores[0, 3].item() == pytest.approx(0.8)


def test_threshold_zeroes_weak_heat_before_the_peak_search() -> None:
    hm, ct, rg, of = blank()
    ct[0, 0, 24, 24] = 1.0
    hm[0, 0, 24, 24] = 0.09  # right at the regressed cell but below 0.1: ignored
    hm[0, 0, 2, 2] = 0.2  # weaker once weighted by distance, but the only heat left
    d = decode(hm, ct, rg, of)
    assert d.keypoints[0, 0].tolist() == pytest.approx([2 / 48, 2 / 48])
    assert d.scores[0, 0].item() == pytest.approx(0.2)
    hm[0, 0, 2, 2] = 0.0999
    d = decode(hm, ct, rg, of)
    assert d.scores[0, 0].item() == 0.0  # no heat at all: invalid
    assert d.keypoints[0, 0].tolist() == pytest.approx([0.0, 0.0])  # argmax of all zeros is the first cell


def test_regression_cast_truncates_toward_zero() -> None:
    hm, ct, rg, of = blank()
    ct[0, 0, 24, 24] = 1.0
    hm[0, 0, 24, 22] = 0.5  # two equal peaks on the centre row
    hm[0, 0, 24, 23] = 0.5
    rg[0, 0, 24, 24] = -1.7  # int(-1.7 + 0.5) = int(-1.2) = -1 -> rx = 23 (flooring would give 22)
    assert decode(hm, ct, rg, of).keypoints[0, 0, 0].item() == pytest.approx(23 / 48)
    rg[0, 0, 24, 24] = -2.6  # int(-2.1) = -2 -> rx = 22
    assert decode(hm, ct, rg, of).keypoints[0, 0, 0].item() == pytest.approx(22 / 48)
    hm[0, 0, 24, 22:24] = 0.0
    hm[0, 0, 24, 25:27] = 0.5
    rg[0, 0, 24, 24] = 1.4  # int(1.4 + 0.5) = 1 -> rx = 25 (rounding 1.9 would give 26)
    assert decode(hm, ct, rg, of).keypoints[0, 0, 0].item() == pytest.approx(25 / 48)


def test_ties_take_the_first_cell_in_row_major_order() -> None:
    hm, ct, rg, of = blank()
    ct[0, 0, 24, 20] = 0.5
    ct[0, 0, 24, 28] = 0.5  # same weight, same value: the first (x = 20) wins
    d = decode(hm, ct, rg, of)
    assert d.center.tolist() == [[20, 24]]


def test_batched_decoding_equals_the_per_joint_reference() -> None:
    gen = torch.Generator().manual_seed(0)
    b = 5
    heatmaps = torch.rand(b, 17, G, G, generator=gen) ** 4  # many cells below the threshold
    centers = torch.rand(b, 1, G, G, generator=gen)
    regs = (torch.rand(b, 34, G, G, generator=gen) - 0.5) * 60  # reaches outside the grid too
    offsets = torch.rand(b, 34, G, G, generator=gen) - 0.5
    d = decode(heatmaps, centers, regs, offsets)
    xy, s = reference_decode(heatmaps.numpy(), centers.numpy(), regs.numpy(), offsets.numpy())
    np.testing.assert_allclose(d.keypoints.numpy(), xy, atol=1e-6)
    np.testing.assert_array_equal(d.scores.numpy(), s.astype(np.float32))
    assert d.keypoints.dtype == d.scores.dtype == torch.float32
    # each person decodes as if alone
    one = decode(heatmaps[2:3], centers[2:3], regs[2:3], offsets[2:3])
    torch.testing.assert_close(one.keypoints[0], d.keypoints[2], atol=0, rtol=0)


def test_torch_and_numpy_paths_agree() -> None:
    gen = torch.Generator().manual_seed(1)
    outputs = [
        torch.rand(4, 17, G, G, generator=gen) ** 3,
        torch.rand(4, 1, G, G, generator=gen),
        (torch.rand(4, 34, G, G, generator=gen) - 0.5) * 40,
        torch.rand(4, 34, G, G, generator=gen) - 0.5,
    ]
    a, b = decode(*outputs), decode_torch(*outputs)
    for name, x, y in zip(a._fields, a, b, strict=True):
        assert x.dtype == y.dtype, name
        torch.testing.assert_close(x, y, atol=1e-6, rtol=0, msg=name)


def test_shapes_are_checked() -> None:
    hm, ct, rg, of = blank()
    with pytest.raises(ValueError, match=r"regs: expected shape \(1, 34, 48, 48\)"):
        decode(hm, ct, rg[:, :17], of)
    with pytest.raises(ValueError, match="heatmaps: expected shape"):
        decode(hm[0], ct, rg, of)


def test_pelvis_and_neck_are_midpoints_with_the_weaker_score() -> None:
    kpts = np.zeros((2, 17, 2))
    scores = np.full((2, 17), 0.9)
    kpts[:, 11], kpts[:, 12] = [10, 20], [30, 40]  # hips
    kpts[:, 5], kpts[:, 6] = [0, 0], [4, 2]  # shoulders
    scores[:, 12] = 0.3
    scores[1, 5] = 0.0  # an invalid shoulder makes the neck invalid
    out, out_s = add_pelvis_neck(kpts, scores)
    assert out.shape == (2, 19, 2) and out_s.shape == (2, 19)
    np.testing.assert_array_equal(out[:, 17], [[20, 30], [20, 30]])
    np.testing.assert_array_equal(out[:, 18], [[2, 1], [2, 1]])
    np.testing.assert_allclose(out_s[:, 17], [0.3, 0.3])
    np.testing.assert_allclose(out_s[:, 18], [0.9, 0.0])
