"""Capture readers against the synthetic scene: every format returns the scene's frames, is recognised by its
content, and every malformed or oversized input is refused with a clear error."""

import json
import shutil
import zipfile
from pathlib import Path

import cv2
import lzfse
import numpy as np
import pytest
from generators import captures as write
from generators.scene import make_scene

from posekit.coords import scale_intrinsics
from posekit.io.captures.base import CaptureError
from posekit.io.captures.generic import GenericCapture
from posekit.io.captures.open import open_capture
from posekit.io.captures.record3d import Record3DCapture
from posekit.io.captures.stray import StrayCapture
from posekit.limits import LimitError, Limits

# Depth quantisation of each format (metres): float32 exact, float16 half a step below 4 m, millimetre PNG.
HALF_STEP = 2.0**-10 * 2
MM = 0.0005 + 1e-6
# Colour: JPEG quality 95 vs HEVC/H.264 with 4:2:0 chroma, as mean absolute difference in 0..255.
JPEG_MAE, VIDEO_MAE = 2.0, 6.0

FORMATS = {
    "r3d": ("record3d", lambda s, p: write.write_r3d(s, p / "take.r3d"), 0.0, JPEG_MAE, True),
    "r3d-video": ("record3d", lambda s, p: write.write_r3d(s, p / "v.r3d", video=True), 0.0, VIDEO_MAE, True),
    "r3d-exr": ("record3d-exr", lambda s, p: write.write_r3d_exr(s, p / "exr.zip", root="Export/"), HALF_STEP,
                JPEG_MAE, False),
    "stray": ("stray", lambda s, p: write.write_stray(s, p / "stray.zip"), MM, VIDEO_MAE, True),
    "stray-npy": ("stray", lambda s, p: write.write_stray(s, p / "old.zip", npy=True, old_odometry=True, root=""),
                  MM, VIDEO_MAE, True),
    "generic": ("generic", lambda s, p: write.write_generic(s, p / "g.zip"), MM, JPEG_MAE, True),
    "generic-npy": ("generic", lambda s, p: write.write_generic(s, p / "n.zip", depth="npy", root="cap/",
                    timestamps=False, confidence=False), 0.0, JPEG_MAE, False),
}  # fmt: skip


@pytest.fixture(scope="module")
def scene():
    return make_scene(num_frames=3, color_size=(320, 240), depth_size=(128, 96))


@pytest.fixture(scope="module")
def files(scene, tmp_path_factory):
    root = tmp_path_factory.mktemp("captures")
    return {name: spec[1](scene, root) for name, spec in FORMATS.items()}


def check_frames(capture, scene, depth_tol, color_mae, has_conf, intrinsics=None):
    frames = list(capture.frames())
    assert [f.index for f in frames] == list(range(scene.num_frames))
    for f in frames:
        t = f.index
        assert f.color.shape == scene.color[t].shape and f.color.dtype == np.uint8
        assert np.abs(f.color.astype(int) - scene.color[t]).mean() < color_mae
        assert f.depth.dtype == np.float32 and f.depth.shape == scene.depth[t].shape
        np.testing.assert_array_equal(np.isnan(f.depth), np.isnan(scene.depth[t]))
        assert np.nanmax(np.abs(f.depth - scene.depth[t])) <= depth_tol
        if has_conf:
            np.testing.assert_array_equal(f.confidence, scene.confidence[t])
        else:
            assert f.confidence is None
        assert f.intrinsics == pytest.approx(intrinsics[t] if intrinsics else scene.intrinsics, abs=1e-9)
        assert f.timestamp == pytest.approx(scene.timestamps[t], abs=1e-9)


@pytest.mark.parametrize("name", FORMATS)
def test_reads_the_scene(name, files, scene):
    fmt, _, depth_tol, color_mae, has_conf = FORMATS[name]
    with open_capture(files[name]) as capture:
        assert capture.info.format == fmt
        assert len(capture) == capture.info.num_frames == scene.num_frames
        assert capture.info.color_size == scene.color_size and capture.info.depth_size == scene.depth_size
        check_frames(capture, scene, depth_tol, color_mae, has_conf)


def test_frame_ranges(files, scene):
    for name in ("r3d", "stray"):
        with open_capture(files[name]) as capture:
            assert [f.index for f in capture.frames(1)] == [1, 2]
            assert [f.index for f in capture.frames(0, None, 2)] == [0, 2]
            assert [f.index for f in capture.frames(0, 1)] == [0]
            assert [round(f.timestamp, 9) for f in capture.frames(2)] == [round(scene.timestamps[2], 9)]
            with pytest.raises(ValueError, match="step >= 1"):
                next(capture.frames(0, None, 0))


def test_detected_by_content_not_name(files, tmp_path):
    for name, fmt in (("r3d", "record3d"), ("generic", "generic"), ("stray", "stray"), ("r3d-exr", "record3d-exr")):
        renamed = shutil.copy(files[name], tmp_path / f"{name}.jpg")
        with open_capture(renamed) as capture:
            assert capture.info.format == fmt


def test_folders_open_like_zips(files, scene, tmp_path):
    for name in ("stray", "r3d", "generic"):
        with zipfile.ZipFile(files[name]) as z:
            z.extractall(tmp_path / name)
    (tmp_path / "stray" / "8c2f1e0a" / "outside").symlink_to("/etc")  # links are never followed
    with open_capture(tmp_path / "stray") as capture:
        check_frames(capture, scene, MM, VIDEO_MAE, True)
    with open_capture(tmp_path / "r3d") as capture:
        assert capture.info.format == "record3d"


def test_record3d_variants(scene, tmp_path):
    # Per-frame intrinsics, invalid depth stored as 0, no confidence, no frameTimestamps (index / fps).
    path = write.write_r3d(scene, tmp_path / "a.r3d", per_frame_intrinsics=True, invalid_as_zero=True,
                           confidence=False, timestamps=False)  # fmt: skip
    fx, fy, cx, cy = scene.intrinsics
    per_frame = [(fx, fy, cx + i, cy - i) for i in range(scene.num_frames)]
    with Record3DCapture(path) as capture:
        check_frames(capture, scene, 0.0, JPEG_MAE, False, per_frame)
    # Without dw/dh the depth size follows from the frame size in the colour aspect.
    meta = write._record3d_metadata(scene, False, True)
    del meta["dw"], meta["dh"]
    fixed = write.rewrite_zip(path, tmp_path / "b.r3d", replace={"metadata": json.dumps(meta).encode()})
    with Record3DCapture(fixed) as capture:
        assert capture.info.depth_size == scene.depth_size


def test_record3d_intrinsics_scale_to_stored_jpegs(scene, tmp_path):
    # Older versions stored JPEGs smaller than the w x h that K refers to.
    path = write.write_r3d(scene, tmp_path / "a.r3d")
    small = {f"rgbd/{i}.jpg": cv2.imencode(".jpg", scene.color[i][::2, ::2])[1].tobytes() for i in range(3)}
    path = write.rewrite_zip(path, tmp_path / "small.r3d", replace=small)
    with Record3DCapture(path) as capture:
        w, h = scene.color_size
        assert capture.info.color_size == (w // 2, h // 2)
        frame = next(capture.frames())
        assert frame.intrinsics == pytest.approx(scale_intrinsics(scene.intrinsics, (w, h), (w // 2, h // 2)))


def test_not_a_capture_lists_the_formats(tmp_path):
    (tmp_path / "x.r3d").write_bytes(b"definitely not a zip")
    with pytest.raises(CaptureError, match="expected an RGB-D capture, one of: Record3D .r3d.*Stray Scanner.*generic"):
        open_capture(tmp_path / "x.r3d")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(CaptureError, match=r"not a recognised RGB-D capture \(it holds notes.txt\).*generic RGB-D"):
        open_capture(tmp_path / "other.zip")


def lzfse_bomb(size: int) -> bytes:
    """An LZFSE stream whose header declares ``size`` bytes but which inflates to 20 MB."""
    data = bytearray(lzfse.compress(b"\0" * 20_000_000))
    data[4:8] = size.to_bytes(4, "little")
    return bytes(data)


def r3d_member(path, name):
    with zipfile.ZipFile(path) as z:
        return z.read(name)


MALFORMED = {
    # name: (format of the source file, how to break it, error type, message pattern, raised when opening?)
    "truncated archive": ("r3d", "truncate", CaptureError, "expected an RGB-D capture", True),
    "missing depth": ("r3d", {"drop": "rgbd/1.depth"}, CaptureError, r"rgbd/<i>.depth\): frame 1 is missing", True),
    "extra depth": ("r3d", {"drop": "rgbd/2.depth"}, CaptureError, "found 3 colour frames .* for 2 frames", True),
    "gap in numbering": ("generic", {"rename": ("depth/000001.png", "depth/000007.png")}, CaptureError,
                         "frame 1 is missing", True),
    "missing colour": ("generic", {"drop": "color/000002.jpg"}, CaptureError, "found 3 depth maps .* for 2 frames",
                       True),
    "missing confidence": ("stray", {"drop": "8c2f1e0a/confidence/000002.png"}, CaptureError,
                           "found 2 confidence maps .* for 3 frames", True),
    "video shorter than depth": ("stray", {"add": {"8c2f1e0a/depth/000003.png": "copy:8c2f1e0a/depth/000000.png",
                                           "8c2f1e0a/confidence/000003.png": "copy:8c2f1e0a/confidence/000000.png"}},
                                 CaptureError, "rgb.mp4 has 3 frames but depth/ has 4", True),
    "odometry without a frame": ("stray", {"text": ("8c2f1e0a/odometry.csv", "\n", "\n", 3)}, CaptureError,
                                 "no row for frame 2", True),
    "wrong depth size": ("r3d", {"meta": {"dw": 100}}, CaptureError, "holds 49,152 bytes, expected 38,400", False),
    "truncated depth": ("r3d", {"cut": "rgbd/1.depth"}, CaptureError, "LZFSE", False),
    "lzfse bomb": ("r3d", {"bomb": "rgbd/0.depth"}, CaptureError, "inflates past the 49,152 bytes", False),
    "bad confidence level": ("generic", {"conf": "confidence/000001.png"}, CaptureError, "levels 0, 1 or 2", False),
    "wrong K": ("r3d", {"meta": {"K": [1, 2, 3]}}, CaptureError, "'K' to be a list of 9 numbers", True),
    "timestamps backwards": ("generic", {"json": {"timestamps": [0.0, 0.2, 0.1]}}, CaptureError, "never decrease",
                             True),
    "timestamp count": ("r3d", {"meta": {"frameTimestamps": [0.0, 1.0]}}, CaptureError, "2 timestamps for 3", True),
    "wrong colour size": ("generic", {"json": {"width": 640}}, CaptureError, "intrinsics.json says 640x240", False),
    "corrupt jpeg": ("generic", {"cut": "color/000001.jpg"}, CaptureError, "corrupt or truncated", False),
    "truncated video": ("stray", {"cut": "8c2f1e0a/rgb.mp4"}, CaptureError, "rgb.mp4: expected a video", True),
    "truncated exr": ("r3d-exr", {"cut": "Export/depth/1.exr"}, CaptureError, "EXR", False),
    "not json": ("generic", {"replace": {"intrinsics.json": b"{fx: 1"}}, CaptureError, "not valid JSON", True),
    "pickled npy": ("generic-npy", {"pickle": "cap/depth/000001.npy"}, CaptureError, "dtype object", False),
    "zip slip": ("generic", {"add": {"../../evil.sh": b"rm -rf /"}}, CaptureError, "leave the archive", True),
    "zip bomb": ("generic", {"replace": {"color/000000.jpg": b"\0" * 40_000_000}}, LimitError, "zip bomb", False),
}  # fmt: skip


def make_malformed(src: Path, dst: Path, how) -> Path:
    if how == "truncate":
        dst.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
        return dst
    replace, add, drop = dict(how.get("replace", {})), {}, set()
    if "drop" in how:
        drop.add(how["drop"])
    if "rename" in how:
        old, new = how["rename"]
        drop.add(old)
        add[new] = r3d_member(src, old)
    for name, data in how.get("add", {}).items():
        add[name] = r3d_member(src, data[5:]) if isinstance(data, str) else data
    if "text" in how:
        name, old, new, keep = how["text"]
        lines = r3d_member(src, name).decode().strip().split("\n")
        replace[name] = ("\n".join(lines[:keep]) + "\n").encode()
    if "meta" in how:
        meta = json.loads(r3d_member(src, "metadata"))
        replace["metadata"] = json.dumps({**meta, **how["meta"]}).encode()
    if "json" in how:
        spec = json.loads(r3d_member(src, "intrinsics.json"))
        replace["intrinsics.json"] = json.dumps({**spec, **how["json"]}).encode()
    if "cut" in how:
        data = r3d_member(src, how["cut"])
        replace[how["cut"]] = data[: len(data) // 2]
    if "bomb" in how:
        replace[how["bomb"]] = lzfse_bomb(128 * 96 * 4)
    if "nan" in how:
        replace[how["nan"]] = lzfse.compress(np.full(128 * 96, np.nan, "<f4").tobytes())
    if "conf" in how:
        replace[how["conf"]] = cv2.imencode(".png", np.full((96, 128), 7, np.uint8))[1].tobytes()
    if "pickle" in how:
        import io

        buffer = io.BytesIO()
        np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        replace[how["pickle"]] = buffer.getvalue()
    return write.rewrite_zip(src, dst, drop=drop.__contains__, replace=replace, add=add)


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_input_is_refused_clearly(case, files, tmp_path):
    source, how, error, pattern, on_open = MALFORMED[case]
    path = make_malformed(files[source], tmp_path / f"bad{files[source].suffix}", how)
    if on_open:
        with pytest.raises(error, match=pattern):
            open_capture(path)
        return
    with open_capture(path) as capture, pytest.raises(error, match=pattern):
        list(capture.frames())


def test_a_frame_with_no_valid_depth_reads_as_all_nan(files, tmp_path):
    path = make_malformed(files["r3d"], tmp_path / "nan.r3d", {"nan": "rgbd/2.depth"})
    with open_capture(path) as capture:
        depths = [f.depth for f in capture.frames()]
    assert np.isnan(depths[2]).all() and np.isfinite(depths[1]).any()


@pytest.mark.parametrize(
    ("limits", "pattern"),
    [
        (Limits(max_file_bytes=1000), "over the limit of 0.0 MB"),
        (Limits(max_frames=2), "3 frames is over the limit of 2"),
        (Limits(max_duration_s=0.05), "0.07 s is over the limit of 0.05 s"),
        (Limits(max_image_pixels=320 * 240 - 1), "over the limit of 76,799"),
        (Limits(max_archive_members=5), "archive members is over the limit of 5"),
        (Limits(max_inflated_bytes=20_000), "inflates past the limit"),
    ],
)
def test_limits_refuse_before_decoding(files, limits, pattern):
    with pytest.raises(LimitError, match=pattern):
        for name in ("r3d", "stray", "generic"):
            with open_capture(files[name], limits) as capture:
                list(capture.frames())


def test_video_ending_early_without_a_frame_count(files, tmp_path, monkeypatch):
    # Containers that do not declare their frame count: the shortfall shows while streaming.
    from posekit.io.captures import _io

    header = _io.video_header
    monkeypatch.setattr(_io, "video_header", lambda stream, what: (header(stream, what)[0], 0, 30.0))
    extra = {"8c2f1e0a/depth/000003.png": r3d_member(files["stray"], "8c2f1e0a/depth/000000.png")}
    path = write.rewrite_zip(
        files["stray"], tmp_path / "s.zip", drop=lambda n: "confidence/" in n or "odometry" in n, add=extra
    )
    with open_capture(path) as capture, pytest.raises(CaptureError, match="rgb.mp4 ends before frame 3 of 4"):
        list(capture.frames())


def test_reader_classes_open_directly(files):
    with StrayCapture(files["stray"]) as s, GenericCapture(files["generic"]) as g:
        assert s.info.format == "stray" and g.info.format == "generic"
    with pytest.raises(CaptureError, match="expected a 'metadata' member"):
        Record3DCapture(files["generic"])


def test_reading_writes_no_files(files, tmp_path, monkeypatch):
    import tempfile

    def refuse(*args, **kwargs):
        raise AssertionError("a reader tried to create a temporary file")

    for name in ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile"):
        monkeypatch.setattr(tempfile, name, refuse)
    repo = Path(__file__).parents[2]
    before = {p for p in repo.rglob("*") if ".git" not in p.parts and "__pycache__" not in p.parts}
    for path in files.values():
        with open_capture(path) as capture:
            list(capture.frames())
    after = {p for p in repo.rglob("*") if ".git" not in p.parts and "__pycache__" not in p.parts}
    assert after == before
