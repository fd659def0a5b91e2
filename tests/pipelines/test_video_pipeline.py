"""process_video end to end with an oracle estimator: frames, times, accuracy, ids, batching, bounds, overlay."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
from generators.fake_models import FakeDetector, FakePoseModel
from generators.videos import (
    corrupt_tail,
    crossing_video,
    draw_frame,
    occlusion_video,
    variable_rate_times,
    walking_video,
    write_video,
)

from posekit.io.video import VideoWarning, read_video
from posekit.io.video_open import VideoError
from posekit.limits import LimitError, Limits
from posekit.pipelines.video import STAGES, VideoResult, process_video
from posekit.processing.people import check_boxes

TOLERANCE_PX = 3.0  # the oracle finds the figures' boxes again in H.264-decoded pixels


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {
        "walk": walking_video(folder / "walk.mp4", num_frames=20),
        "cross": crossing_video(folder / "cross.mp4", num_frames=30),
        "vfr": walking_video(folder / "vfr.mp4", num_frames=20, times=variable_rate_times(20, seed=2)),
        "rotated": walking_video(folder / "rotated.mov", num_frames=12, rotation=-90),
    }


def _overlay_frames(path) -> tuple[int, list[float], tuple[int, int], str]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [f.time for f in container.decode(stream)]
        return len(times), times, (stream.width, stream.height), stream.codec_context.name


def test_frames_times_and_keypoints(clips):
    clip = clips["walk"]
    result = process_video(clip.path, FakePoseModel(), smoothing="none")
    seq = result.sequence
    assert isinstance(result, VideoResult) and result.num_frames == 20
    np.testing.assert_allclose(seq.timestamps, clip.times, atol=1e-9)
    assert seq.image_size == (320, 240) and seq.fps == pytest.approx(25) and seq.track_ids.tolist() == [0]
    assert np.abs(seq.keypoints_2d[:, 0] - clip.keypoints()[:, 0]).max() < TOLERANCE_PX
    assert seq.meta["source"]["file"] == "walk.mp4" and seq.meta["model"] == "FakePoseModel"
    assert set(STAGES) - {"detect", "draw", "encode"} <= set(result.timings) and result.timings["total"] > 0
    json.dumps(result.to_dict())  # serialisable as it is


def test_variable_frame_rate_times_reach_the_sequence_and_the_overlay(clips, tmp_path):
    clip = clips["vfr"]
    result = process_video(clip.path, FakePoseModel(), overlay_path=tmp_path / "o.mp4", smoothing="one_euro")
    np.testing.assert_allclose(result.sequence.timestamps, clip.times, atol=1e-9)
    count, times, size, codec = _overlay_frames(tmp_path / "o.mp4")
    assert (count, size, codec) == (20, (320, 240), "h264")
    np.testing.assert_allclose(times, clip.times, atol=2e-3)
    assert result.overlay_path == tmp_path / "o.mp4"


@pytest.mark.parametrize(("detect_every", "batch_size"), [(1, 8), (4, 3), (30, 8)])
def test_two_people_crossing_keep_their_ids(clips, detect_every, batch_size):
    clip = clips["cross"]
    model, detector = FakePoseModel(), FakeDetector()
    result = process_video(clip.path, model, detector, detect_every=detect_every, batch_size=batch_size,
                           smoothing="none")  # fmt: skip
    seq = result.sequence
    assert seq.num_people == 2 and sorted(seq.track_ids.tolist()) == [0, 1]
    truth = clip.keypoints()  # (T, 2 figures, K, 2)
    for figure in range(2):
        # The track that is figure `figure` at the first frame stays on it to the end.
        p = int(np.argmin([np.abs(seq.keypoints_2d[0, p] - truth[0, figure]).max() for p in range(2)]))
        assert np.abs(seq.keypoints_2d[:, p] - truth[:, figure]).max() < TOLERANCE_PX
    assert max(model.calls) <= batch_size
    detected = sum(detector.calls)
    assert detected == -(-30 // detect_every)  # detection frames only (nobody gets lost)
    assert model.boxes_given.count(1) == 30


def test_single_person_follows_one_track(clips):
    clip = clips["cross"]
    result = process_video(clip.path, FakePoseModel(), FakeDetector(), single_person=True, detect_every=5,
                           smoothing="none")  # fmt: skip
    seq = result.sequence
    assert seq.num_people == 1 and seq.present.all()
    truth = clip.keypoints()
    errors = [np.abs(seq.keypoints_2d[:, 0] - truth[:, f]).max() for f in range(2)]
    assert min(errors) < TOLERANCE_PX


def test_max_people_keeps_the_highest_scores(clips):
    result = process_video(clips["cross"].path, FakePoseModel(), FakeDetector(), max_people=1, smoothing="none")
    assert result.sequence.present.sum(axis=1).max() == 1


def test_a_short_occlusion_keeps_the_id(tmp_path):
    clip = occlusion_video(tmp_path / "occ.mp4", num_frames=30, hidden=(12, 16))
    result = process_video(clip.path, FakePoseModel(), FakeDetector(), detect_every=3, smoothing="ema")
    seq = result.sequence
    assert seq.num_people == 1
    assert (seq.present[:, 0] == ~np.isnan(clip.boxes[:, 0, 0])).all()
    assert np.isnan(seq.keypoints_2d[12:16]).all()


def test_bounds_and_downscaled_inference(clips):
    clip = clips["walk"]
    model = FakePoseModel(with_3d=True)
    result = process_video(clip.path, model, max_frames=7, frame_step=2, max_side=160, smoothing="none")
    seq = result.sequence
    np.testing.assert_allclose(seq.timestamps, clip.times[0:14:2], atol=1e-9)
    assert seq.image_size == (320, 240) and seq.fps == pytest.approx(12.5)
    # Found on half-size frames, reported in original pixels.
    assert np.abs(seq.keypoints_2d[:, 0] - clip.keypoints()[0:14:2, 0]).max() < 2 * TOLERANCE_PX
    # The same camera at twice the resolution: intrinsics double, the 3D points stay.
    np.testing.assert_allclose(seq.intrinsics[0], [2000, 2000, 160, 120])
    assert seq.space_3d == "model" and seq.meta["root_depth"] == 5.0
    z = seq.keypoints_3d[..., 2]
    np.testing.assert_allclose(z[np.isfinite(z)], 5.0)
    short = process_video(clip.path, FakePoseModel(), max_duration_s=0.2, target_fps=12.5, smoothing="none")
    np.testing.assert_allclose(short.sequence.timestamps, [0.0, 0.08, 0.16], atol=1e-9)
    with pytest.raises(LimitError, match="frames is over the limit"):
        process_video(clip.path, FakePoseModel(), limits=Limits(max_frames=5))


def test_rotated_phone_video_gives_upright_poses(clips, tmp_path):
    clip = clips["rotated"]
    result = process_video(clip.path, FakePoseModel(), smoothing="none", overlay_path=tmp_path / "r.mp4")
    assert result.sequence.image_size == (320, 240) and result.info.rotation == 270
    assert np.abs(result.sequence.keypoints_2d[:, 0] - clip.keypoints()[:, 0]).max() < TOLERANCE_PX
    count, _, size, _ = _overlay_frames(tmp_path / "r.mp4")
    assert (count, size) == (12, (320, 240))


def test_overlay_is_bounded_and_progress_is_reported(clips, tmp_path):
    calls = []
    result = process_video(
        clips["cross"].path, FakePoseModel(), FakeDetector(), overlay_path=tmp_path / "o.mp4", overlay_max_side=161,
        progress=lambda fraction, message: calls.append((fraction, message)), batch_size=4,
    )  # fmt: skip
    count, _, size, _ = _overlay_frames(result.overlay_path)
    assert count == 30 and size == (160, 120)
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in calls)
    assert {"draw", "encode"} <= set(result.timings)
    frames = list(read_video(result.overlay_path))
    assert frames[10].image[..., 2].max() > 200  # something is drawn (the figures are there anyway)


def test_damaged_tail_and_not_a_video(clips, tmp_path):
    bad = corrupt_tail(
        walking_video(tmp_path / "src.mp4", num_frames=40, faststart=True).path, tmp_path / "bad.mp4", keep=0.8,
        mode="truncate",
    )  # fmt: skip
    with pytest.warns(VideoWarning):
        result = process_video(bad, FakePoseModel(), overlay_path=tmp_path / "bad_overlay.mp4")
    assert 0 < result.num_frames < 40 and result.warnings
    assert _overlay_frames(tmp_path / "bad_overlay.mp4")[0] == result.num_frames
    text = tmp_path / "clip.mp4"
    text.write_text("hello")
    with pytest.raises(VideoError, match="clip.mp4: expected a video"):
        process_video(text, FakePoseModel(), overlay_path=tmp_path / "none.mp4")
    assert not (tmp_path / "none.mp4").exists()


def test_bad_options_are_refused(clips):
    path = clips["walk"].path
    for kwargs, message in [({"detect_every": 0}, "detect_every"), ({"batch_size": 0}, "batch_size"),
                            ({"smoothing": "kalman"}, "smoothing"), ({"smoothing_strength": 2.0}, "from 0 to 1"),
                            ({"max_people": 0}, "max_people"), ({"frame_step": 0}, "frame_step")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            process_video(path, FakePoseModel(), **kwargs)


@pytest.mark.parametrize(("name", "size", "times"), [
    ("street.mp4", (960, 540), [0, 0.2, 0.4, 0.6, 0.8]),
    ("posetrack_000001.mp4", (1280, 720), np.arange(5) / 30),
])  # fmt: skip
def test_real_clips(data_dir, tmp_path, name, size, times):
    result = process_video(data_dir / "video" / name, FakePoseModel(), FakeDetector(), detect_every=2,
                           overlay_path=tmp_path / "overlay.mp4", max_side=640)  # fmt: skip
    seq = result.sequence
    assert seq.num_frames == 5 and seq.image_size == size
    np.testing.assert_allclose(seq.timestamps, times, atol=1e-6)
    count, overlay_times, overlay_size, codec = _overlay_frames(tmp_path / "overlay.mp4")
    assert (count, overlay_size, codec) == (5, size, "h264")
    np.testing.assert_allclose(overlay_times, np.asarray(times) - times[0], atol=2e-3)


class StrictModel(FakePoseModel):
    """The oracle, refusing boxes exactly as the real estimators do (:func:`~posekit.processing.people.check_boxes`),
    and placing joints ahead of the figure, as a real model does past the image edge (keypoints outside it)."""

    def predict_batch(self, images, bboxes):
        for i, boxes in enumerate(bboxes):
            if boxes is not None:
                check_boxes(boxes, f"bboxes[{i}]")
        results = super().predict_batch(images, bboxes)
        for poses in results:
            poses.keypoints_2d += 40.0
        return results


def _leaving_clip(path, num_frames: int = 30, size: tuple[int, int] = (160, 120)):
    """One figure walking out of the frame through its bottom-right corner, then an empty frame or two."""
    w, h = size
    t = np.arange(num_frames, dtype=np.float64)
    x1, y1 = 20 + 6 * t, 20 + 4 * t
    boxes = np.stack([x1, y1, x1 + 24, y1 + 60], axis=-1)[:, None]
    frames = [draw_frame(size, b) for b in boxes]
    write_video(path, frames, fps=10.0)
    return path


@pytest.mark.parametrize("detect_every", [1, 5])
def test_people_walking_out_of_the_frame_do_not_break_carried_boxes(tmp_path, detect_every):
    """Regression: a box carried from keypoints clipped to a zero-height box at the edge crashed the crop."""
    clip = _leaving_clip(tmp_path / "leaving.mp4")
    result = process_video(clip, StrictModel(), FakeDetector(), detect_every=detect_every, smoothing="none")
    seq = result.sequence
    assert seq.num_frames == 30 and seq.present[0].all() and not seq.present[-1].any()  # seen inside, gone out
