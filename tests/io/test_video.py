"""Video reading and writing: orientation, timestamps, bounds, limits, damaged files, browser-ready output."""

from __future__ import annotations

import warnings
from pathlib import Path

import av
import numpy as np
import pytest
from generators.videos import (
    corrupt_tail,
    draw_frame,
    variable_rate_times,
    walking_boxes,
    walking_video,
    write_video,
)

from posekit.io.video import ReadBounds, VideoReader, VideoWarning, inference_size, probe_video, read_video
from posekit.io.video_open import VideoError
from posekit.io.video_writer import VideoWriter, h264_encoder
from posekit.limits import LimitError, Limits

SIZE = (320, 240)


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.fixture(scope="module")
def walking(tmp_path_factory):
    return walking_video(tmp_path_factory.mktemp("v") / "walk.mp4", num_frames=24, size=SIZE, fps=25)


def test_reads_frames_with_their_times_and_pixels(walking):
    info = probe_video(walking.path)
    assert (info.width, info.height, info.rotation, info.codec) == (320, 240, 0, "h264")
    assert info.fps == pytest.approx(25) and info.num_frames == 24
    frames = list(read_video(walking.path))
    assert [f.index for f in frames] == list(range(24))
    np.testing.assert_allclose([f.time for f in frames], walking.times, atol=1e-9)
    for f in frames[::7]:
        assert f.size == SIZE and f.scale == 1.0 and f.inference_image is f.image
        assert _difference(f.image, draw_frame(SIZE, walking.boxes[f.index])) < 6  # H.264 noise only


@pytest.mark.parametrize(
    ("suffix", "codec"), [(".mov", "libx264"), (".mkv", "libx264"), (".webm", "libvpx"), (".avi", "mpeg4")]
)
def test_reads_other_containers(tmp_path, suffix, codec):
    clip = walking_video(tmp_path / f"walk{suffix}", num_frames=8, codec=codec)
    frames = list(read_video(clip.path))
    assert len(frames) == 8
    np.testing.assert_allclose([f.time for f in frames], clip.times, atol=1e-3)
    assert _difference(frames[5].image, draw_frame(clip.size, clip.boxes[5])) < 8


@pytest.mark.parametrize(("rotation", "rotate_tag", "suffix"), [(90, None, ".mp4"), (-90, None, ".mov"),
                                                                (180, None, ".mp4"), (0, 90, ".mkv")])  # fmt: skip
def test_frames_come_out_upright(tmp_path, rotation, rotate_tag, suffix):
    clip = walking_video(tmp_path / f"rot{suffix}", num_frames=6, rotation=rotation, rotate_tag=rotate_tag)
    stored = av.open(str(clip.path)).streams.video[0]
    if rotation % 180 or rotate_tag:
        assert (stored.width, stored.height) == (240, 320)  # the file really holds turned frames
    info = probe_video(clip.path)
    assert (info.width, info.height) == SIZE
    assert info.rotation == (rotation if rotate_tag is None else -rotate_tag) % 360
    frames = list(read_video(clip.path, ReadBounds(max_side=160)))
    upright = draw_frame(SIZE, clip.boxes[3])
    assert _difference(frames[3].image, upright) < 6
    assert frames[3].inference_image.shape == (120, 160, 3) and frames[3].scale == 2.0


def test_variable_frame_rate_keeps_true_timestamps(tmp_path):
    times = variable_rate_times(30, seed=1)
    clip = walking_video(tmp_path / "vfr.mp4", num_frames=30, times=times)
    frames = list(read_video(clip.path))
    np.testing.assert_allclose([f.time for f in frames], times, atol=1e-6)
    kept = list(read_video(clip.path, ReadBounds(target_fps=10)))
    kept_times = np.array([f.time for f in kept])
    assert np.all(np.diff(kept_times) >= 0.1 - 1e-6)
    assert len(kept) >= times[-1] * 10 * 0.5  # not starved either


def test_bounds_cut_and_thin_the_frames(walking):
    assert len(list(read_video(walking.path, ReadBounds(max_frames=5)))) == 5
    assert [f.index for f in read_video(walking.path, ReadBounds(stride=5))] == [0, 5, 10, 15, 20]
    assert len(list(read_video(walking.path, ReadBounds(max_duration_s=0.2)))) == 5  # 0, 0.04 .. 0.16
    assert [f.index for f in read_video(walking.path, ReadBounds(target_fps=12.5))] == list(range(0, 24, 2))
    small = next(read_video(walking.path, ReadBounds(max_side=100), keep_original=False))
    assert small.image is None and small.inference_image.shape == (75, 100, 3) and small.size == SIZE
    assert small.scale == pytest.approx(3.2)
    with pytest.raises(ValueError, match="stride or target_fps"):
        ReadBounds(stride=2, target_fps=10)
    assert inference_size(1920, 1080, 640) == (640, 360) and inference_size(300, 200, 640) == (300, 200)


def test_limits_are_checked_before_decoding(walking):
    with pytest.raises(LimitError, match="pixels"):
        VideoReader(walking.path, limits=Limits(max_image_pixels=320 * 239))
    with pytest.raises(LimitError, match="frames is over the limit of 10"):
        VideoReader(walking.path, limits=Limits(max_frames=10))
    with pytest.raises(LimitError, match="over the limit of 0.5 s"):
        VideoReader(walking.path, limits=Limits(max_duration_s=0.5))
    # Reading only the start is within the limits.
    assert len(list(VideoReader(walking.path, ReadBounds(max_frames=10), Limits(max_frames=10)))) == 10
    assert len(list(VideoReader(walking.path, ReadBounds(stride=3), Limits(max_frames=10)))) == 8
    with pytest.raises(LimitError, match="MB is over the limit"):
        VideoReader(walking.path, limits=Limits(max_file_bytes=100))


@pytest.mark.parametrize("mode", ["garbage", "truncate"])
def test_a_damaged_tail_keeps_the_frames_before(tmp_path, mode):
    rng = np.random.default_rng(0)
    drawn = [draw_frame((160, 120), b) for b in walking_boxes(40, (160, 120), speed=2)]
    noisy = [np.clip(d + rng.integers(-40, 40, d.shape), 0, 255).astype(np.uint8) for d in drawn]  # big frames
    src = write_video(tmp_path / "src.mp4", noisy, faststart=True)
    bad = corrupt_tail(src, tmp_path / "bad.mp4", keep=0.6, mode=mode)
    reader = VideoReader(bad)
    with pytest.warns(VideoWarning, match="damaged|ends early"):
        frames = list(reader)
    assert 5 < len(frames) < 40 and reader.warnings
    assert all(_difference(f.image, drawn[f.index]) < 25 for f in frames[:3])


def test_not_a_video_is_a_clear_error(tmp_path, data_dir):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all")
    with pytest.raises(VideoError, match="notes.mp4: expected a video file.*got a text file starting .not a video"):
        probe_video(text)
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match="empty.mov"):
        VideoReader(empty)
    with pytest.raises(VideoError, match="still image"):
        probe_video(data_dir / "coco" / "000000000785.jpg")
    with pytest.raises(LimitError, match="does not exist"):
        probe_video(tmp_path / "missing.mp4")


def test_real_clips(data_dir):
    street = list(read_video(data_dir / "video" / "street.mp4"))
    assert len(street) == 5 and street[0].image.shape == (540, 960, 3)
    np.testing.assert_allclose([f.time for f in street], [0, 0.2, 0.4, 0.6, 0.8], atol=1e-9)
    posetrack = list(read_video(data_dir / "video" / "posetrack_000001.mp4"))
    assert len(posetrack) == 5 and posetrack[0].image.shape == (720, 1280, 3)
    np.testing.assert_allclose(np.diff([f.time for f in posetrack]), 1 / 30, atol=1e-6)


def _mp4_box_order(path: Path) -> list[bytes]:
    data, order, pos = path.read_bytes(), [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        order.append(data[pos + 4 : pos + 8])
        if size < 8:
            break
        pos += size
    return order


def test_writer_makes_browser_ready_h264(tmp_path):
    assert h264_encoder() in ("libx264", "libopenh264")
    frames = [draw_frame((161, 121), walking_boxes(10, (161, 121))[i]) for i in range(10)]
    out = tmp_path / "out.mp4"
    with VideoWriter(out, fps=25) as writer:
        for f in frames:
            writer.write(f)
    assert writer.size == (160, 120) and writer.frames_written == 10
    boxes = _mp4_box_order(out)
    assert boxes.index(b"moov") < boxes.index(b"mdat")  # faststart: playable while downloading
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert float(stream.average_rate) == pytest.approx(25, rel=0.01)
        decoded = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
    assert len(decoded) == 10 and decoded[0].shape == (120, 160, 3)
    assert _difference(decoded[4], frames[4][:120, :160]) < 8
    assert not list(tmp_path.glob(".*partial"))


def test_writer_keeps_true_times_and_bounds_the_size(tmp_path):
    times = variable_rate_times(12, seed=3) + 5.0  # a clock that does not start at 0
    out = tmp_path / "vfr.mp4"
    with VideoWriter(out, fps=30, max_side=200) as writer:
        for t in times:
            writer.write(np.zeros((480, 640, 3), np.uint8), time=t)
    frames = list(read_video(out))
    assert frames[0].size == (200, 150)
    np.testing.assert_allclose([f.time for f in frames], times - 5.0, atol=2e-3)


def test_writer_leaves_nothing_half_written(tmp_path):
    out = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError), VideoWriter(out) as writer:
        writer.write(np.zeros((64, 64, 3), np.uint8))
        raise RuntimeError("the caller failed mid-way")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(VideoError, match="expected an \\(H, W, 3\\) uint8 BGR image, got float32"):
        VideoWriter(out).write(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(VideoError, match="no frame was written"):
        VideoWriter(out).close()
    with pytest.raises(VideoError, match="does not exist"):
        VideoWriter(tmp_path / "no" / "such" / "folder.mp4")
    assert not out.exists()


def test_writer_falls_back_clearly_without_h264(tmp_path, monkeypatch):
    import posekit.io.video_writer as video_io

    monkeypatch.setattr(video_io, "h264_encoder", lambda: None)
    writer = VideoWriter(tmp_path / "fallback.mp4", fps=10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with writer:
            for _ in range(3):
                writer.write(np.zeros((32, 48, 3), np.uint8))
    assert writer.codec == "mpeg4"
    assert any("no H.264 encoder" in str(w.message) for w in caught)
    assert len(list(read_video(tmp_path / "fallback.mp4"))) == 3
