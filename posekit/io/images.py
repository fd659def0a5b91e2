"""Images into the library: BGR uint8 (H, W, 3) numpy arrays, from arrays, paths or PIL images.

Validators raise :class:`ImageError` (a ``ValueError``) whose message says what was expected and what came.
"""

from __future__ import annotations

import io
import os
import re
import struct
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posekit.limits import DEFAULT_LIMITS, LimitError, Limits, error_reason

MAX_IMAGE_PIXELS = 50_000_000
"""Default bound on width x height of an image the library decodes or accepts (about 8K x 6K)."""

IMAGE_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WebP", "BMP": "BMP", "DIB": "BMP",
                 "TIFF": "TIFF"}  # fmt: skip
"""PIL format names of the images the library reads (an iPhone JPEG with a depth map reads as MPO)."""
_PIL_OPENERS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF")
EXPECTED_IMAGE = "an image (JPEG, PNG, WebP, BMP or TIFF)"


class ImageError(ValueError):
    """An image that the library cannot use, with what was expected and what came."""


class ImageTooLargeError(ImageError, LimitError):
    """An image over the pixel bound: both an :class:`ImageError` and a :class:`~posekit.limits.LimitError`."""


ImageLike = np.ndarray | str | os.PathLike | Any


def check_image_size(width: int, height: int, max_pixels: int = MAX_IMAGE_PIXELS, what: str = "") -> None:
    """Refuse an image smaller than 2x2 or larger than ``max_pixels`` before anything is decoded."""
    prefix = f"{what}: " if what else ""
    if width < 2 or height < 2:
        raise ImageError(f"{prefix}expected an image of at least 2x2 pixels, got {width}x{height}")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{prefix}expected at most {max_pixels:,} pixels, got {width}x{height} = {width * height:,}; "
            "downscale the image first"
        )


_PIL_BOMB = re.compile(r"\((\d+) pixels\)")


def image_header(source: str | os.PathLike | bytes, what: str | None = None) -> tuple[int, int, str]:
    """``(width, height, format)`` from an image's header, reading no pixel data (PIL reads the header only).

    Only the formats of :data:`IMAGE_FORMATS` count as images; PIL's own decompression-bomb error (raised from
    the header, for about 179 MP and more) becomes an :class:`ImageTooLargeError`.

    Args:
        source: a path or the encoded bytes.
        what: the name used in messages (default: the file's name; never its folder).

    Raises:
        ImageError: not one of the accepted image formats, or an unreadable header.
        ImageTooLargeError: PIL refused the header as a decompression bomb.
    """
    from PIL import Image, UnidentifiedImageError

    if what is None:
        what = "image" if isinstance(source, (bytes, bytearray, memoryview)) else Path(source).name
    if isinstance(source, (bytes, bytearray, memoryview)):
        head, fp = bytes(source[:16]), io.BytesIO(source)
    else:
        try:
            with open(source, "rb") as f:
                head = f.read(16)
        except OSError as exc:
            raise ImageError(f"{what}: expected {EXPECTED_IMAGE}, could not read it ({error_reason(exc)})") from None
        fp = source
    if not head:
        raise ImageError(f"{what}: expected {EXPECTED_IMAGE}, got an empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(fp, formats=_PIL_OPENERS) as im:
                width, height = im.size
                fmt = IMAGE_FORMATS.get(im.format or "", im.format or "?")
    except Image.DecompressionBombError as exc:
        found = _PIL_BOMB.search(str(exc))
        got = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise ImageTooLargeError(f"{what}: the image header declares {got}, refused before decoding") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error, EOFError, IndexError,
            KeyError, TypeError, ZeroDivisionError, MemoryError, OverflowError, RecursionError) as exc:  # fmt: skip
        from posekit.io.video_open import describe_content

        got = describe_content(head)
        if got.removeprefix("a ").removesuffix(" image") in ("JPEG", "PNG", "WebP", "BMP", "TIFF"):
            got = "a damaged or truncated " + got.removeprefix("a ")
        detail = "" if isinstance(exc, UnidentifiedImageError) else f" ({error_reason(exc)})"
        raise ImageError(f"{what}: expected {EXPECTED_IMAGE}, got {got}{detail}") from None
    return int(width), int(height), fmt


def check_image_header(
    source: str | os.PathLike | bytes, limits: Limits = DEFAULT_LIMITS, what: str | None = None
) -> tuple[int, int]:
    """Check an image upload (a path or the encoded bytes) from its header alone, before any decode: its file
    size (paths), that it is an image the library reads, at least 2x2 pixels and at most
    ``limits.max_image_pixels``. The app calls this on every uploaded image.

    Returns:
        ``(width, height)`` from the header.

    Raises:
        LimitError: the file is over ``limits.max_file_bytes``, or the pixels over the bound
            (:class:`ImageTooLargeError`, also an :class:`ImageError`).
        ImageError: not an image of an accepted format, unreadable header, smaller than 2x2.
    """
    if not isinstance(source, (bytes, bytearray, memoryview)):
        limits.check_file(source)
    width, height, _ = image_header(source, what)
    name = what or ("image" if isinstance(source, (bytes, bytearray, memoryview)) else Path(source).name)
    check_image_size(width, height, limits.max_image_pixels, what=name)
    return width, height


def read_image(path: str | os.PathLike, max_pixels: int = MAX_IMAGE_PIXELS, limits: Limits | None = None) -> np.ndarray:
    """Decode an image file (JPEG, PNG, WebP, BMP or TIFF; EXIF rotation applied) to BGR uint8 (H, W, 3).

    The header is checked (:func:`check_image_header`: file size, format, pixel count against ``max_pixels``
    or ``limits.max_image_pixels``) before the pixels are decoded.

    Raises:
        ImageError: missing, not an accepted image, corrupt. ImageTooLargeError: over the pixel bound.
        LimitError: over ``limits.max_file_bytes``.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"expected an image file, but {path.name!r} does not exist or is not a file")
    if limits is None:
        limits = replace(DEFAULT_LIMITS, max_image_pixels=max_pixels)
    width, height = check_image_header(path, limits)
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH) if data.size else None
    if image is None:
        raise ImageError(f"{path.name}: expected {EXPECTED_IMAGE}, could not decode it (corrupt or truncated?)")
    if (image.shape[1], image.shape[0]) != (width, height):
        raise ImageError(
            f"{path.name}: the header says {width}x{height} but the pixels decode to {image.shape[1]}x{image.shape[0]}"
        )
    image = _apply_exif_rotation(path, image)
    return to_bgr(image, max_pixels=limits.max_image_pixels)


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
