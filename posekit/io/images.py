"""Images into the library: BGR uint8 (H, W, 3) numpy arrays, from arrays, paths or PIL images.

Validators raise :class:`ImageError` (a ``ValueError``) whose message says what was expected and what came.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

MAX_IMAGE_PIXELS = 50_000_000
"""Default bound on width x height of an image the library decodes or accepts (about 8K x 6K)."""


class ImageError(ValueError):
    """An image that the library cannot use, with what was expected and what came."""


ImageLike = np.ndarray | str | os.PathLike | Any


def check_image_size(width: int, height: int, max_pixels: int = MAX_IMAGE_PIXELS) -> None:
    """Refuse an image smaller than 2x2 or larger than ``max_pixels`` before anything is decoded."""
    if width < 2 or height < 2:
        raise ImageError(f"expected an image of at least 2x2 pixels, got {width}x{height}")
    if width * height > max_pixels:
        raise ImageError(
            f"expected at most {max_pixels:,} pixels, got {width}x{height} = {width * height:,}; "
            "downscale the image first"
        )


def read_image(path: str | os.PathLike, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode an image file (anything OpenCV reads; EXIF rotation applied) to BGR uint8 (H, W, 3).

    The header is checked against ``max_pixels`` before the pixels are decoded.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"expected an image file, but {str(path)!r} does not exist or is not a file")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            check_image_size(*im.size, max_pixels=max_pixels)
    except UnidentifiedImageError:
        pass  # OpenCV reads a few formats PIL does not; it gets its chance below.
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH) if data.size else None
    if image is None:
        raise ImageError(f"expected an image file (JPEG, PNG, WebP, BMP, TIFF...), could not decode {str(path)!r}")
    image = _apply_exif_rotation(path, image)
    return to_bgr(image, max_pixels=max_pixels)


def _apply_exif_rotation(path: Path, image: np.ndarray) -> np.ndarray:
    """IMREAD_UNCHANGED skips EXIF orientation; phones rely on it, so apply it here."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            orientation = im.getexif().get(0x0112, 1)
    except Exception:  # not a PIL-readable file: nothing to apply
        return image
    ops = {3: cv2.ROTATE_180, 6: cv2.ROTATE_90_CLOCKWISE, 8: cv2.ROTATE_90_COUNTERCLOCKWISE}
    if orientation in ops:
        return cv2.rotate(image, ops[orientation])
    return image


def to_bgr(image: ImageLike, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Any accepted image -> contiguous BGR uint8 (H, W, 3).

    Accepts: a numpy array (H, W) grayscale, (H, W, 1), (H, W, 3) **BGR** or (H, W, 4) BGRA, uint8 (or
    uint16, scaled down; or float in 0..1); a path to an image file; a PIL image (its RGB is converted).
    """
    if isinstance(image, (str, os.PathLike)):
        return read_image(image, max_pixels=max_pixels)
    if type(image).__module__.startswith("PIL."):
        check_image_size(*image.size, max_pixels=max_pixels)
        rgb = np.asarray(image.convert("RGB"))
        return np.ascontiguousarray(rgb[..., ::-1])
    if not isinstance(image, np.ndarray):
        raise ImageError(
            "expected a BGR numpy array, an image path or a PIL image, "
            f"got {type(image).__module__}.{type(image).__name__}"
        )
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ImageError(f"expected an image array of shape (H, W), (H, W, 3) or (H, W, 4), got {image.shape}")
    check_image_size(image.shape[1], image.shape[0], max_pixels=max_pixels)
    image = _to_uint8(image)
    if image.shape[2] == 1:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if image.dtype in (np.float32, np.float64):
        if not np.isfinite(image).all():
            raise ImageError("expected finite pixel values, got NaN or infinity in a float image")
        if image.size and (image.min() < 0 or image.max() > 1):
            raise ImageError(
                f"expected float pixels in 0..1, got {image.min():.3g}..{image.max():.3g}; pass uint8 for 0..255"
            )
        return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    raise ImageError(f"expected pixel dtype uint8 (or uint16, or float in 0..1), got {image.dtype}")
