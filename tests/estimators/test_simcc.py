import numpy as np
import torch

from posekit.estimators.simcc import decode_simcc3d, simcc_maximum


def logits(n: int, k: int, peaks: list[list[tuple[int, float]]], bins: int) -> torch.Tensor:
    x = torch.full((n, k, bins), -5.0)
    for i, row in enumerate(peaks):
        for j, (index, value) in enumerate(row):
            x[i, j, index] = value
    return x


def test_argmax_and_score_is_the_smaller_maximum_of_x_and_y():
    x = logits(1, 2, [[(10, 0.9), (0, 0.2)]], 576)
    y = logits(1, 2, [[(20, 0.4), (767, 0.7)]], 768)
    z = logits(1, 2, [[(288, 1.0), (5, 1.0)]], 576)
    locs, scores = simcc_maximum(x, y, z)
    np.testing.assert_array_equal(locs.numpy(), [[[10, 20, 288], [0, 767, 5]]])
    np.testing.assert_allclose(scores.numpy(), [[0.4, 0.2]])


def test_non_positive_score_sets_every_axis_to_minus_one():
    x = logits(1, 2, [[(10, 0.0), (11, 3.0)]], 576)
    y = logits(1, 2, [[(20, 2.0), (21, -0.5)]], 768)
    z = logits(1, 2, [[(30, 1.0), (31, 1.0)]], 576)
    locs, scores = simcc_maximum(x, y, z)
    np.testing.assert_array_equal(locs.numpy(), -np.ones((1, 2, 3)))
    np.testing.assert_allclose(scores.numpy(), [[0.0, -0.5]])


def test_ties_take_the_first_maximum_like_numpy():
    x = torch.zeros(1, 1, 576)
    x[..., [7, 9]] = 1.0
    locs, _ = simcc_maximum(x, x.new_ones(1, 1, 768), x)
    assert locs[0, 0, 0] == 7 and locs[0, 0, 2] == 7


def test_decode_maps_bins_to_image_pixels_and_metres():
    # crop 288 x 384 covering the image box x 100..388, y 50..434 (scale = crop size: 1 px per input px)
    x = logits(1, 1, [[(144, 1.0)]], 576)  # 72 crop px
    y = logits(1, 1, [[(768 - 2, 1.0)]], 768)  # 383 crop px
    z = logits(1, 1, [[(432, 1.0)]], 576)  # 216 input units
    center = torch.tensor([[244.0, 242.0]])
    scale = torch.tensor([[288.0, 384.0]])
    kp, z_rel, scores = decode_simcc3d(x, y, z, center, scale)
    np.testing.assert_allclose(kp.numpy(), [[[100 + 72, 50 + 383]]], atol=1e-4)
    np.testing.assert_allclose(z_rel.numpy(), [[(216 / 144 - 1) * 2.1744869]], rtol=1e-6)
    np.testing.assert_allclose(scores.numpy(), [[1.0]])


def test_decode_scales_with_the_box_and_takes_half_precision():
    x = logits(2, 1, [[(0, 1.0)], [(576 - 1, 1.0)]], 576).half()
    y = logits(2, 1, [[(0, 1.0)], [(768 - 1, 1.0)]], 768).half()
    z = logits(2, 1, [[(288, 1.0)], [(0, 1.0)]], 576).half()
    center = torch.tensor([[0.0, 0.0], [1000.0, 500.0]])
    scale = torch.tensor([[144.0, 192.0], [576.0, 768.0]])
    kp, z_rel, _ = decode_simcc3d(x, y, z, center, scale)
    assert kp.dtype == torch.float32
    np.testing.assert_allclose(kp[0, 0].numpy(), [-72, -96])  # top-left corner of the crop
    np.testing.assert_allclose(kp[1, 0].numpy(), [1000 - 288 + 287.5 * 2, 500 - 384 + 383.5 * 2])
    np.testing.assert_allclose(z_rel.numpy(), [[0.0], [-2.1744869]], atol=1e-6)
