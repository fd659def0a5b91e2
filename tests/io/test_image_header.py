"""check_image_header: every image is bounded from its header, before a pixel is decoded (#16).

The measured case: a 690 KB RGBA PNG declaring 13300 x 13300 (708 MB of scanlines inflated) must be refused
with under 50 MB of extra memory (Python allocations and the process's peak RSS) and in under 0.5 s.
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from generators.hostile import jpeg_declaring, png_bomb, png_declaring

from posekit.io.captures._io import decode_image
from posekit.io.images import ImageError, ImageTooLargeError, check_image_header, read_image, to_bgr
from posekit.limits import LimitError, Limits

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "png_bomb.txt"
MAX_EXTRA_BYTES = 50 * 1024**2
MAX_SECONDS = 0.5


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS; False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _measure(call) -> tuple[BaseException | None, float, int, int]:
    """(error raised, seconds, tracemalloc peak bytes, peak RSS growth bytes) of ``call()``."""
    have_proc = Path("/proc/self/status").exists()
    resettable = have_proc and _reset_peak_rss()
    rss_before = _rss_kib("VmRSS") if have_proc else 0
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    start = time.perf_counter()
    error = None
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - returned to the caller
        error = exc
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    if resettable:
        rss_growth = (_rss_kib("VmHWM") - rss_before) * 1024
    else:  # the lifetime peak only shows growth above the earlier peak: a weaker, still useful bound
        rss_growth = max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - maxrss_before) * 1024
    return error, seconds, peak, rss_growth


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(png_bomb(13300, 13300))
    return path


def test_png_bomb_refused_from_the_header(bomb):
    size = bomb.stat().st_size
    assert 600_000 < size < 800_000
    lines = [f"RGBA PNG declaring 13300x13300: {size:,} bytes on disk, 707,573,300 bytes of scanlines inflated"]
    checks = {
        "check_image_header(path)": lambda: check_image_header(bomb, Limits()),
        "check_image_header(bytes)": lambda: check_image_header(bomb.read_bytes(), Limits(), "bomb.png"),
        "read_image(path)": lambda: read_image(bomb),
        "to_bgr(path)": lambda: to_bgr(str(bomb)),
        "capture decode_image(bytes)": lambda: decode_image(bomb.read_bytes(), Limits(), "rgbd/0.png"),
    }
    for label, call in checks.items():
        _measure(call)  # warm: imports and PIL's plugin registry are not the bomb's cost
        error, seconds, peak, rss = _measure(call)
        lines.append(f"{label:<30} {type(error).__name__:<20} {seconds * 1000:7.1f} ms  tracemalloc peak "
                     f"{peak / 1e6:6.2f} MB  RSS peak growth {rss / 1e6:6.2f} MB")  # fmt: skip
        assert isinstance(error, LimitError), f"{label}: {error!r}"
        assert "13300x13300" in str(error) and str(bomb.parent) not in str(error)
        assert seconds < MAX_SECONDS, f"{label}: {seconds:.3f} s"
        assert peak < MAX_EXTRA_BYTES and rss < MAX_EXTRA_BYTES, f"{label}: {peak:,} / {rss:,} bytes"
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


@pytest.mark.parametrize(
    "data, expect, match",
    [
        (lambda: png_declaring(60000, 60000, b""), ImageTooLargeError, "3,600,000,000 pixels"),
        (lambda: jpeg_declaring(_jpeg(), 65000, 65000), ImageTooLargeError, "pixels"),
        (lambda: png_declaring(8000, 8000, b""), ImageTooLargeError, "8000x8000"),
        (lambda: png_declaring(1, 50, b""), ImageError, "at least 2x2"),
        (lambda: b"", ImageError, "empty file"),
        (lambda: b"#EXTM3U\n/etc/passwd\n", ImageError, "got a text file starting '#EXTM3U' \\(an HLS playlist\\)"),
        (lambda: b"GIF89a" + b"\0" * 40, ImageError, "got a GIF image"),
        (lambda: _jpeg()[:40], ImageError, "damaged or truncated JPEG"),
    ],
)
def test_header_refusals(tmp_path, data, expect, match):
    path = tmp_path / "upload.png"
    path.write_bytes(data())
    limits = Limits(max_image_pixels=40_000_000)
    for source in (path, path.read_bytes()):
        with pytest.raises(expect, match=match) as info:
            check_image_header(source, limits)
        assert str(tmp_path) not in str(info.value)


def test_header_of_valid_images(tmp_path):
    import cv2

    image = np.zeros((48, 64, 3), np.uint8)
    for ext in (".png", ".jpg", ".webp", ".bmp", ".tiff"):
        path = tmp_path / f"ok{ext}"
        path.write_bytes(cv2.imencode(ext, image)[1].tobytes())
        assert check_image_header(path, Limits()) == (64, 48)
        assert check_image_header(path.read_bytes(), Limits(), "ok") == (64, 48)
    with pytest.raises(LimitError, match="ok.png: 64x48 = 3,072|expected at most 1,000 pixels"):
        check_image_header(tmp_path / "ok.png", Limits(max_image_pixels=1000))
    with pytest.raises(LimitError, match="MB is over the limit"):
        check_image_header(tmp_path / "ok.png", Limits(max_file_bytes=10))


def _jpeg() -> bytes:
    import cv2

    return cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))[1].tobytes()
