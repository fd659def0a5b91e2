import cv2
import numpy as np
import pytest
from PIL import Image

from posekit.io.images import ImageError, read_image, to_bgr


def test_accepts_bgr_gray_rgba_pil(tmp_path):
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 0] = 255  # blue
    assert to_bgr(bgr) is not None and to_bgr(bgr).shape == (4, 5, 3)
    assert to_bgr(np.full((4, 5), 7, np.uint8))[0, 0].tolist() == [7, 7, 7]
    assert to_bgr(np.dstack([bgr, np.full((4, 5), 255, np.uint8)])).shape == (4, 5, 3)
    pil = Image.fromarray(np.dstack([np.zeros((4, 5)), np.zeros((4, 5)), np.full((4, 5), 255)]).astype(np.uint8))
    assert to_bgr(pil)[0, 0].tolist() == [255, 0, 0]  # PIL's RGB blue becomes BGR blue
    path = tmp_path / "x.png"
    cv2.imwrite(str(path), bgr)
    assert to_bgr(path)[0, 0].tolist() == [255, 0, 0]


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((0, 0, 3), np.uint8), "at least 2x2"),
        (np.zeros((1, 1, 3), np.uint8), "at least 2x2"),
        (np.zeros((4, 4, 2), np.uint8), r"\(H, W, 3\)"),
        (np.zeros((4, 4, 3), np.int32), "dtype uint8"),
        (np.full((4, 4, 3), 200.0), "0..1"),
        ([[1, 2]], "numpy array"),
    ],
)
def test_refuses_with_clear_message(bad, match):
    with pytest.raises(ImageError, match=match):
        to_bgr(bad)


def test_unreadable_file(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageError, match="bad.jpg: expected an image .*got a text file"):
        read_image(bad)
    with pytest.raises(ImageError, match="does not exist"):
        read_image(tmp_path / "missing.jpg")


def test_pixel_bound_checked_before_decode(tmp_path):
    path = tmp_path / "big.png"
    cv2.imwrite(str(path), np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(ImageError, match="at most 1,000 pixels"):
        read_image(path, max_pixels=1000)


def test_real_coco_image(data_dir):
    img = read_image(data_dir / "coco" / "000000000785.jpg")
    assert img.shape == (425, 640, 3) and img.dtype == np.uint8
