"""PoseKit framing: exact letterbox and crop matrices, the warps they drive, and exact inverse mapping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.estimators.posekit_framing import (
    clamp_to_image,
    crop_transforms,
    invert_points,
    letterbox_transform,
    to_network_input,
    warp_images,
)
from posekit.processing.people import check_boxes


def apply(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ transform[:, :2].T + transform[:, 2]


def test_letterbox_of_a_landscape_frame() -> None:
    a = letterbox_transform(640, 480)  # s = min(0.3, 0.4) = 0.3; bars of (192 - 144) / 2 = 24 rows
    np.testing.assert_allclose(a, [[0.3, 0, 0], [0, 0.3, 24]], atol=1e-15)


def test_letterbox_of_a_portrait_frame_has_fractional_offsets() -> None:
    a = letterbox_transform(1000, 1920)  # s = 0.1; x offset (192 - 100) / 2 = 46
    np.testing.assert_allclose(a, [[0.1, 0, 46], [0, 0.1, 0]], atol=1e-12)
    b = letterbox_transform(333, 192)  # s = 192 / 333; y offset (192 - 192 * 192 / 333) / 2
    s = 192 / 333
    np.testing.assert_allclose(b, [[s, 0, 0], [0, s, (192 - 192 * s) / 2]], atol=1e-12)
    assert b[1, 2] % 1 != 0  # fractional, never rounded


def test_letterbox_rejects_an_empty_size() -> None:
    with pytest.raises(ValueError, match="positive image size, got 0x10"):
        letterbox_transform(0, 10)


def test_crop_is_the_square_of_side_w_plus_h_centred_on_the_box() -> None:
    a = crop_transforms(np.array([[10, 20, 110, 70]]))[0]  # w 100, h 50: S = 150, s = 1.28, centre (60, 45)
    np.testing.assert_allclose(a, [[1.28, 0, 19.2], [0, 1.28, 38.4]], atol=1e-12)
    corners = np.array([[60 - 75, 45 - 75], [60 + 75, 45 + 75]])  # the square's corners
    np.testing.assert_allclose(apply(a, corners), [[0, 0], [192, 192]], atol=1e-12)


def test_crop_transforms_are_batched_and_accept_one_box() -> None:
    boxes = np.array([[0, 0, 48, 48], [100, 50, 196, 146]])
    a = crop_transforms(boxes)
    assert a.shape == (2, 2, 3)
    np.testing.assert_allclose(a[0], [[2, 0, 48], [0, 2, 48]])
    np.testing.assert_allclose(a[1], [[1, 0, -52], [0, 1, -2]])
    with pytest.raises(ValueError, match="box 0 is"):  # zero width: the one box rule refuses it everywhere
        crop_transforms([5, 5, 5, 25])
    np.testing.assert_allclose(crop_transforms([0, 0, 48, 48])[0], a[0])
    assert crop_transforms([]).shape == (0, 2, 3)


def test_inverse_mapping_is_exact() -> None:
    gen = np.random.default_rng(0)
    boxes = np.array([[13.5, 7.25, 250.0, 400.75], [0, 0, 1, 1], [-40, -10, 30, 90]])
    a = np.concatenate([crop_transforms(boxes), letterbox_transform(1919, 1081)[None]])
    points = gen.uniform(-50, 2000, size=(4, 19, 2))
    mapped = np.stack([apply(t, p) for t, p in zip(a, points, strict=True)])
    np.testing.assert_allclose(invert_points(mapped, a), points, rtol=1e-12, atol=1e-9)


def test_letterbox_maps_back_to_pixels_and_clamps_the_bars() -> None:
    a = letterbox_transform(640, 480)
    input_points = np.array([[[96, 96], [0, 0], [191.7, 180], [50, 30]]])
    back = clamp_to_image(invert_points(input_points, a[None]), 640, 480)
    np.testing.assert_allclose(back[0], [[320, 240], [0, 0], [639, 479], [50 / 0.3, 20]], atol=1e-12)


def test_crop_warp_puts_a_pixel_where_the_matrix_says() -> None:
    image = np.zeros((30, 30, 3), np.uint8)
    image[20, 10] = (255, 128, 7)  # BGR pixel at x=10, y=20
    a = crop_transforms(np.array([[0, 0, 48, 48]]))  # s = 2: u = 2x + 48, v = 2y + 48
    crop = warp_images(image, a)
    assert crop.shape == (1, 192, 192, 3) and crop.dtype == np.uint8
    np.testing.assert_array_equal(crop[0, 88, 68], (255, 128, 7))  # exact at integer positions
    assert crop[0, 87, 68, 0] == crop[0, 89, 68, 0] == 128  # half way to the black neighbours (bilinear)
    assert crop[0, :48].max() == 0 and crop[0, :, :48].max() == 0  # above / left of the image: black
    assert crop[0, 108:].max() == 0  # beyond the last row (y = 29 -> v = 106): black


def test_letterbox_warp_has_black_bars() -> None:
    image = np.full((480, 640, 3), 200, np.uint8)
    out = warp_images(image, letterbox_transform(640, 480)[None])[0]
    assert out[:24].max() == 0 and out[169:].max() == 0
    assert (out[24:167] == 200).all()


def test_warp_of_several_crops_is_one_array() -> None:
    image = np.random.default_rng(1).integers(0, 255, (100, 120, 3), dtype=np.uint8)
    a = crop_transforms(np.array([[0, 0, 60, 60], [30, 20, 100, 90]]))
    crops = warp_images(image, a)
    assert crops.shape == (2, 192, 192, 3)
    np.testing.assert_array_equal(crops[1], warp_images(image, a[1:])[0])


def test_network_input_is_rgb_float_in_channels_last_memory() -> None:
    crops = np.zeros((2, 192, 192, 3), np.uint8)
    crops[..., 0], crops[..., 1], crops[..., 2] = 10, 20, 30  # B, G, R
    x = to_network_input(crops)
    assert x.shape == (2, 3, 192, 192) and x.dtype == torch.float32
    assert x[:, 0].unique().tolist() == [30.0] and x[:, 2].unique().tolist() == [10.0]
    assert x.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize(
    ("boxes", "message"),
    [
        (np.zeros((2, 3)), r"expected shape \(M, 4\)"),
        ([[0, 0, np.nan, 4]], "finite"),
        ([[10, 0, 5, 4]], r"x2 > x1.*box 0 is \[10.0, 0.0, 5.0, 4.0\]"),
        ([[0, 0, 10, 10], [3, 3, 3, 3]], r"x2 > x1.*box 1 is"),
        ("abc", r"\(M, 4\) array"),
    ],
)
def test_bad_boxes_are_refused(boxes: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_boxes(boxes)
