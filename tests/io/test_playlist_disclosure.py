"""Issue #16: an uploaded playlist or concat list must never make FFmpeg open another file on the server.

A real, readable video lies outside the upload folder; playlists naming it (absolute path, ``file:``,
``subfile:``, ``concat:``, a relative path, an ffconcat list...) are uploaded under ``.m3u8``, ``.mp4``,
``.mov``, ``.mkv`` and ``.txt`` names. Each must end in a clear refusal with no frame, and the target must never
be opened: by Python (an audit hook) nor by FFmpeg in C (Linux inotify watches the file itself). A positive
control shows that FFmpeg's own probing does open it, so the watch would catch a regression.
"""

from __future__ import annotations

import ctypes
import io
import os
import struct
import sys
import zipfile
from pathlib import Path

import pytest
from generators.hostile import _playlists, _video_bytes

from posekit.io.captures.base import CaptureError
from posekit.io.captures.open import open_capture
from posekit.io.inputs import UnsupportedFileError, file_kind
from posekit.io.video import VideoReader, probe_video
from posekit.io.video_open import VideoError

TRICKS = ("hls-abs", "hls-file-url", "hls-subfile", "hls-concat-proto", "hls-relative", "hls-bom", "hls-master",
          "ffconcat", "ffconcat-bare", "ffconcat-url", "url-only")  # fmt: skip
EXTENSIONS = ("m3u8", "mp4", "mov", "mkv", "txt")


class OpenWatch:
    """Counts opens and reads of one file by anyone in this process, C code included (inotify, Linux)."""

    IN_ACCESS, IN_OPEN = 0x1, 0x20

    def __init__(self, path: Path) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0 or self.libc.inotify_add_watch(self.fd, os.fsencode(path), self.IN_OPEN | self.IN_ACCESS) < 0:
            raise OSError(ctypes.get_errno(), "inotify unavailable")

    def events(self) -> int:
        count = 0
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return count
            pos = 0
            while pos + 16 <= len(data):
                _, mask, _, name_len = struct.unpack_from("iIII", data, pos)
                count += bool(mask & (self.IN_OPEN | self.IN_ACCESS))
                pos += 16 + name_len

    def close(self) -> None:
        os.close(self.fd)


class PythonOpens:
    """Paths Python opens while active (audit hooks cannot be removed, so this one is switched)."""

    def __init__(self) -> None:
        self.active, self.paths = False, []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple) -> None:
        if self.active and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            self.paths.append(os.fsdecode(args[0]))


PYTHON_OPENS = PythonOpens()


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("server") / "outside" / "target.mp4"
    path.parent.mkdir()
    path.write_bytes(_video_bytes("mp4", "libx264"))
    assert probe_video(path).num_frames == 5  # a real video: following the playlist would succeed
    return path


@pytest.fixture
def watch(target):
    if not sys.platform.startswith("linux"):
        pytest.skip("inotify is Linux only")
    try:
        w = OpenWatch(target)
    except OSError as exc:
        pytest.skip(str(exc))
    yield w
    w.close()


def _upload(tmp_path: Path, target: Path, trick: str, ext: str) -> Path:
    uploads = tmp_path / "uploads"
    uploads.mkdir(exist_ok=True)
    path = uploads / f"clip.{ext}"
    text = _playlists(str(target))[trick]
    if trick == "hls-relative":  # relative to the upload folder, to the real target
        text = text.replace(b"../outside/target.mp4", os.path.relpath(target, uploads).encode())
    path.write_bytes(text)
    return path


def test_ffmpeg_probing_would_open_the_target(tmp_path, target, watch):
    """The control: how the reader used to open uploads (a name, FFmpeg probing) does read the target.

    This FFmpeg probes HLS only under an .m3u8/.m3u name (older ones under any name), so the control uses one."""
    import av

    path = _upload(tmp_path, target, "hls-abs", "m3u8")
    try:
        with av.open(str(path)) as container:
            frames = sum(1 for _ in container.decode(video=0))
    except av.FFmpegError:
        frames = 0
    assert watch.events() > 0, "FFmpeg did not open the target: the watch would not catch a regression"
    assert frames > 0


@pytest.mark.parametrize("ext", EXTENSIONS)
@pytest.mark.parametrize("trick", TRICKS)
def test_playlist_is_refused_and_target_never_opened(tmp_path, target, watch, trick, ext):
    path = _upload(tmp_path, target, trick, ext)
    assert watch.events() == 0
    PYTHON_OPENS.paths.clear()
    PYTHON_OPENS.active = True
    frames = []
    try:
        with pytest.raises(VideoError, match=r"clip\.\w+: expected a video file .*got ") as info:
            probe_video(path)
        with pytest.raises(VideoError):
            frames = list(VideoReader(path))
        if ext in ("m3u8", "txt"):
            with pytest.raises(UnsupportedFileError):
                file_kind(path)
        else:
            assert file_kind(path) == "video"
    finally:
        PYTHON_OPENS.active = False
    assert not frames
    assert str(target.parent) not in str(info.value) and str(tmp_path) not in str(info.value)
    assert str(target) not in PYTHON_OPENS.paths and os.path.realpath(target) not in PYTHON_OPENS.paths
    assert watch.events() == 0, "the target was opened"


@pytest.mark.parametrize("trick", ("hls-abs", "ffconcat", "hls-subfile"))
def test_capture_video_member_playlist_never_opens_the_target(tmp_path, target, watch, trick):
    """Stray Scanner's rgb.mp4 (and Record3D's rgbd.mp4) are opened the same way, from inside the ZIP."""
    from generators.captures import write_stray
    from generators.scene import make_scene

    scene = make_scene(num_frames=2, color_size=(64, 48), depth_size=(32, 24))
    base = write_stray(scene, tmp_path / "base.zip", root="")
    upload = tmp_path / "stray.zip"
    with zipfile.ZipFile(base) as zin, zipfile.ZipFile(upload, "w") as zout:
        for info in zin.infolist():
            data = _playlists(str(target))[trick] if info.filename == "rgb.mp4" else zin.read(info)
            zout.writestr(info.filename, data)
    assert watch.events() == 0
    with pytest.raises(CaptureError, match="rgb.mp4: expected a video file .*got a text file") as info:
        with open_capture(upload) as capture:
            list(capture.frames())
    assert str(tmp_path) not in str(info.value)
    assert watch.events() == 0, "the target was opened"


def test_real_videos_still_open_from_memory_streams(target):
    """Opening from a file object keeps working for every accepted container (the sniffing is not too strict)."""
    import av

    from posekit.io.video_open import open_video_stream, sniff_video_format

    containers = [("mp4", "libx264", "mov"), ("matroska", "libx264", "matroska"), ("webm", "libvpx", "matroska"),
                  ("avi", "mpeg4", "avi"), ("mov", "libx264", "mov")]  # fmt: skip
    for fmt, codec, expected in containers:
        data = _video_bytes(fmt, codec)
        assert sniff_video_format(data[:16]) == expected
        with open_video_stream(io.BytesIO(data), "x", av) as container:
            assert sum(1 for _ in container.decode(video=0)) == 5
