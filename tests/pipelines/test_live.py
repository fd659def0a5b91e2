"""The live pipeline (posekit.pipelines.live) frame by frame, with the oracle models on generated clips: ids,
online smoothing equal to the batch smoother, box carrying, recording, empty frames, downscaling."""

from __future__ import annotations

import json

import numpy as np
import pytest
from generators.fake_models import FakeDetector, FakePoseModel
from generators.videos import BACKGROUND_BGR, crossing_video, walking_video

from posekit.io.export import read_result
from posekit.io.video import read_video
from posekit.pipelines.live import LiveSession, camera_frames, live_poses, live_settings
from posekit.pipelines.results import Outputs, write_results
from posekit.pipelines.video import _build_sequence
from posekit.processing.smoothing import smooth_pose_sequence
from posekit.processing.track_smoothing import TrackSmoother
from posekit.sequence import PoseSequence

TOLERANCE_PX = 3.0


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live")
    walk = walking_video(folder / "walk.mp4", num_frames=30)
    cross = crossing_video(folder / "cross.mp4", num_frames=30)
    return {name: (clip, [(f.image, f.time) for f in read_video(clip.path)]) for name, clip in
            {"walk": walk, "cross": cross}.items()}  # fmt: skip


def test_walking_clip_is_tracked_smoothed_and_recorded(clips, tmp_path):
    clip, frames = clips["walk"]
    model = FakePoseModel()
    session = LiveSession(model)
    session.start_recording()
    out = list(session.stream(frames))
    assert [p.track_ids.tolist() for p in out] == [[0]] * 30  # one id, kept the whole clip
    kp = np.stack([p.keypoints_2d[0] for p in out])
    truth = clip.keypoints()[:, 0]
    assert np.abs(kp[0] - truth[0]).max() < TOLERANCE_PX  # the first frame passes through the filter
    # One-Euro lags a figure walking 4 px a frame a little, never by much, and never leads it
    lag = (truth[:, :, 0] - kp[:, :, 0]).mean(axis=1)
    assert (lag[5:] > 0.05).all() and lag.max() < 3 * TOLERANCE_PX
    # Box carrying: the model framed the whole image (then refined on a crop) every 5th frame only
    assert model.boxes_given.count(0) == 6

    seq = session.stop_recording()
    assert isinstance(seq, PoseSequence) and not session.recording
    assert seq.num_frames == 30 and seq.track_ids.tolist() == [0] and seq.image_size == (320, 240)
    np.testing.assert_allclose(seq.timestamps, clip.times - clip.times[0], atol=1e-9)
    assert seq.fps == pytest.approx(25, rel=1e-3)
    assert seq.meta["smoothing"]["method"] == "one_euro" and seq.meta["source"]["kind"] == "live"
    np.testing.assert_allclose(seq.keypoints_2d[:, 0], kp, atol=1e-3)

    # The results file of a recording reads back (what the Live tab offers)
    settings = session.settings
    written = write_results(seq, seq.meta["source"], settings, None, Outputs(tmp_path, "live"), {}, zip=True)
    back = read_result(written.files["json"])
    assert isinstance(back, PoseSequence) and back.num_frames == 30 and back.track_ids.tolist() == [0]
    json.loads(written.files["json"].read_text())
    assert written.files["zip"].stat().st_size > 0


def test_online_smoothing_equals_the_batch_smoother(clips):
    _, frames = clips["cross"]
    raw = list(LiveSession(FakePoseModel(), FakeDetector(), live_settings(detector=True, smoothing="none"))
               .stream(frames))  # fmt: skip
    smoothed = list(LiveSession(FakePoseModel(), FakeDetector(), live_settings(detector=True)).stream(frames))
    assert {tuple(p.track_ids.tolist()) for p in raw} == {(0, 1)}  # both people, both ids, all along
    times = [t for _, t in frames]
    seq = _build_sequence(raw, times, raw[0].skeleton, (320, 240), 25.0, {})
    batch = smooth_pose_sequence(seq, "one_euro")
    online = _build_sequence(smoothed, times, raw[0].skeleton, (320, 240), 25.0, {})
    np.testing.assert_allclose(online.keypoints_2d, batch.keypoints_2d, atol=1e-3)
    assert np.abs(online.keypoints_2d - seq.keypoints_2d).max() > 0.1  # and it did smooth


def test_track_smoother_restarts_a_track_that_comes_back(clips):
    _, frames = clips["walk"]
    session = LiveSession(FakePoseModel(), settings=live_settings(smoothing="none"))
    poses = [session.process(f, t) for f, t in frames[:3]]
    smoother = TrackSmoother("one_euro")
    first = smoother.update(poses[0], 0.0)
    smoother.update(poses[1].select([]), 0.04)  # the person is gone for a frame
    back = smoother.update(poses[2], 0.08)
    np.testing.assert_allclose(first.keypoints_2d, poses[0].keypoints_2d)
    np.testing.assert_allclose(back.keypoints_2d, poses[2].keypoints_2d)  # starts afresh, no lag from before
    with pytest.raises(ValueError, match="tracked"):
        smoother.update(poses[0].__class__(**{**poses[0].__dict__, "track_ids": None}), 0.1)


def test_empty_frames_give_nobody_and_a_valid_sequence(clips):
    _, frames = clips["walk"]
    empty = np.empty((240, 320, 3), np.uint8)
    empty[:] = BACKGROUND_BGR
    session = LiveSession(FakePoseModel())
    session.start_recording()
    assert len(session.process(empty, 0.0)) == 0
    assert len(session.process(frames[0][0], 0.04)) == 1
    nobody = session.process(empty, 0.08)
    assert len(nobody) == 0 and nobody.track_ids.tolist() == [] and nobody.image_size == (320, 240)
    seq = session.to_sequence()
    assert seq.num_frames == 3 and seq.num_people == 1 and seq.present[:, 0].tolist() == [False, True, False]
    # Nothing recorded: an empty, still valid sequence
    assert LiveSession(FakePoseModel()).to_sequence().num_frames == 0


def test_frames_are_downscaled_for_the_model_and_poses_come_back_in_original_pixels(clips):
    clip, frames = clips["walk"]
    import cv2

    model = FakePoseModel()
    seen = []
    predict = model.predict_batch
    model.predict_batch = lambda images, boxes: seen.extend(im.shape for im in images) or predict(images, boxes)
    session = LiveSession(model, settings=live_settings(max_side=160))
    big = [cv2.resize(f, (640, 480), interpolation=cv2.INTER_NEAREST) for f, _ in frames[:6]]
    out = [session.process(f, t) for f, (_, t) in zip(big, frames)]
    assert set(seen) == {(120, 160, 3)}
    assert out[0].image_size == (640, 480)
    assert np.abs(out[0].keypoints_2d[0] - 2 * clip.keypoints()[0, 0]).max() < 4 * TOLERANCE_PX
    overlay = session.render(out[-1])
    assert overlay.shape == (120, 160, 3) and not np.array_equal(overlay, session.last_image)


def test_generator_api_timing_and_figures(clips):
    _, frames = clips["cross"]
    images = [f for f, _ in frames[:10]]
    out = list(live_poses(images, FakePoseModel(), FakeDetector(), live_settings(detector=True)))  # no times
    assert len(out) == 10 and all(p.track_ids.tolist() == [0, 1] for p in out)

    class Capture:  # cv2.VideoCapture's contract
        def __init__(self):
            self.left = list(images[:4])

        def read(self):
            return (True, self.left.pop(0)) if self.left else (False, None)

    timed = list(camera_frames(Capture()))
    assert len(timed) == 4 and all(b[1] > a[1] for a, b in zip(timed, timed[1:]))
    session = LiveSession(FakePoseModel())
    for _ in session.stream(timed + [(images[5], timed[-1][1])]):  # a repeated time is moved on, not refused
        pass
    stats = session.stats()
    assert stats["frames"] == 5 and stats["fps"] > 0 and 0 < stats["latency_median_ms"] <= stats["latency_p95_ms"]
    with pytest.raises(ValueError, match="uint8 BGR"):
        session.process(np.zeros((10, 10), np.uint8))


def test_single_person_and_a_new_resolution(clips):
    _, frames = clips["cross"]
    session = LiveSession(FakePoseModel(), FakeDetector(), live_settings(detector=True, single_person=True))
    session.start_recording()
    out = list(session.stream(frames[:8]))
    assert all(len(p) == 1 for p in out)
    assert session.to_sequence().num_people == 1
    import cv2

    bigger = cv2.resize(frames[8][0], (640, 480))
    assert session.process(bigger, frames[8][1]).track_ids.tolist() == [0]  # ids restart: a new camera
    assert session.to_sequence().num_frames == 1  # and the recording restarts with the new frame size
