import cv2
import numpy as np
import pytest
import torch

from posekit.estimators import topdown as td


def legacy_warp_affine(image: np.ndarray, mat: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """OpenCV < 4.11 ``warpAffine`` (INTER_LINEAR, BORDER_CONSTANT 0) for uint8, pixel by pixel, written from
    its source (imgwarp.cpp: WarpAffineInvoker + remapBilinear with the fixed-point tables)."""
    m = mat.astype(np.float64).ravel().copy()
    d = m[0] * m[4] - m[1] * m[3]
    d = 1.0 / d if d != 0 else 0.0
    a11, a22 = m[4] * d, m[0] * d
    m[0], m[4] = a11, a22
    m[1] *= -d
    m[3] *= -d
    b1 = -m[0] * m[2] - m[1] * m[5]
    b2 = -m[3] * m[2] - m[4] * m[5]
    m[2], m[5] = b1, b2
    h, w, c = image.shape
    out = np.zeros((size[1], size[0], c), np.uint8)
    for y in range(size[1]):
        x0 = int(np.rint((m[1] * y + m[2]) * 1024)) + 16
        y0 = int(np.rint((m[4] * y + m[5]) * 1024)) + 16
        for x in range(size[0]):
            fx = (x0 + int(np.rint(m[0] * x * 1024))) >> 5
            fy = (y0 + int(np.rint(m[3] * x * 1024))) >> 5
            sx, sy, ax, ay = fx >> 5, fy >> 5, fx & 31, fy & 31
            weights = [(32 - ay) * (32 - ax) * 32, (32 - ay) * ax * 32, ay * (32 - ax) * 32, ay * ax * 32]
            acc = np.zeros(c, np.int64)
            for (dy, dx), wgt in zip(((0, 0), (0, 1), (1, 0), (1, 1)), weights, strict=True):
                yy, xx = sy + dy, sx + dx
                if 0 <= yy < h and 0 <= xx < w:
                    acc += wgt * image[yy, xx].astype(np.int64)
            out[y, x] = (acc + (1 << 14)) >> 15
    return out


def test_bbox_to_center_scale_pads_and_fixes_the_aspect():
    center, scale = td.bbox_to_center_scale(np.array([[10, 20, 110, 220], [0, 0, 400, 100]]))
    np.testing.assert_allclose(center, [[60, 120], [200, 50]])
    # tall box: height 250 after padding, width widened to 250 * 288 / 384
    # wide box: width 500 after padding, height widened to 500 * 384 / 288
    np.testing.assert_allclose(scale, [[187.5, 250], [500, 500 * 384 / 288]], rtol=1e-6)
    assert center.dtype == scale.dtype == np.float32


def test_warp_matrix_maps_the_box_centre_to_the_crop_centre():
    center, scale = td.bbox_to_center_scale(np.array([[30.5, 40.25, 130.5, 290.25]]))
    (mat,) = td.warp_matrices(center, scale)
    pts = np.array([[*center[0], 1.0], [center[0, 0] - scale[0, 0] / 2, center[0, 1] - scale[0, 1] / 2, 1.0]])
    np.testing.assert_allclose(pts @ mat.T, [[144, 192], [0, 0]], atol=1e-4)


def test_crop_to_image_inverts_the_warp():
    boxes = np.array([[10, 20, 110, 220], [-50, 5, 300, 90]], np.float32)
    center, scale = td.bbox_to_center_scale(boxes)
    mats = td.warp_matrices(center, scale)
    crop_pts = torch.tensor([[[0.0, 0.0], [144.0, 192.0], [287.5, 383.5]]] * 2)
    img_pts = td.crop_to_image(crop_pts, torch.from_numpy(center), torch.from_numpy(scale)).numpy()
    back = np.einsum("bij,bkj->bki", mats[:, :, :2], img_pts) + mats[:, None, :, 2]
    np.testing.assert_allclose(back, crop_pts.numpy(), atol=1e-3)


@pytest.mark.parametrize("box", [[3.3, 2.1, 13.7, 19.9], [-8.0, -4.5, 6.25, 30.0], [20.0, 1.0, 40.0, 9.0]])
def test_warp_affine_matches_opencv_legacy_fixed_point_bit_for_bit(box):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (24, 26, 3), dtype=np.uint8)
    size = (12, 16)
    center, scale = td.bbox_to_center_scale(np.array([box]), input_size=size)
    mats = td.warp_matrices(center, scale, size)
    got = td.warp_affine(torch.from_numpy(image), mats, size).numpy()[0]
    np.testing.assert_array_equal(got, legacy_warp_affine(image, mats[0], size))


def test_warp_affine_is_close_to_the_installed_opencv(data_dir):
    image = cv2.imread(str(data_dir / "coco" / "000000196141.jpg"))
    boxes = np.array([[100, 50, 300, 400], [-40, 200, 120, 500], [500, 10, 700, 300]], np.float32)
    center, scale = td.bbox_to_center_scale(boxes)
    mats = td.warp_matrices(center, scale)
    got = td.warp_affine(torch.from_numpy(image), mats).numpy()
    expected = np.stack([cv2.warpAffine(image, m, td.INPUT_SIZE, flags=cv2.INTER_LINEAR) for m in mats])
    diff = np.abs(got.astype(int) - expected)
    major, minor = (int(v) for v in cv2.__version__.split(".")[:2])
    if (major, minor) < (4, 11):
        assert diff.max() == 0  # the very algorithm
    else:
        assert diff.max() <= 8 and diff.mean() < 0.2  # OpenCV 4.11+ interpolates in floating point


def test_warp_affine_rejects_what_it_cannot_take():
    with pytest.raises(ValueError, match="uint8"):
        td.warp_affine(torch.zeros(4, 4, 3), np.eye(2, 3)[None])


def test_normalize_crops_is_rgb_mean_std_channels_last():
    crop = torch.zeros(1, 2, 3, 3, dtype=torch.uint8)
    crop[..., 0] = 10  # B
    crop[..., 2] = 200  # R
    x = td.normalize_crops(crop)
    assert x.shape == (1, 3, 2, 3) and x.is_contiguous(memory_format=torch.channels_last)
    expected = [(200 - 123.675) / 58.395, (0 - 116.28) / 57.12, (10 - 103.53) / 57.375]
    np.testing.assert_allclose(x[0, :, 0, 0].numpy(), expected, rtol=1e-6)


def test_prepare_crops_shapes(data_dir):
    image = cv2.imread(str(data_dir / "coco" / "000000000785.jpg"))
    x, center, scale = td.prepare_crops(td.image_to_tensor(image, "cpu"), np.array([[10, 20, 200, 300]] * 2))
    assert x.shape == (2, 3, 384, 288) and x.dtype == torch.float32
    assert center.shape == scale.shape == (2, 2)
