"""The Live tab's handlers without a browser: frames in, overlays and figures out, Record poses to files; which
model runs where (CPU, GPU, ZeroGPU); the tab's events stay out of the public API."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from generators.fake_models import FakeDetector, FakePoseModel
from generators.videos import walking_video

from posekit.io.export import read_result
from posekit.io.video import read_video
from posekit.pipelines.models import Models
from posekit.sequence import PoseSequence
from posekit.ui.files import WorkDirs
from posekit.ui.live import Live, Stream
from posekit.ui.models import ModelRegistry


def _models(with_3d: bool = False) -> Models:
    return Models("cpu", estimator_loader=lambda *a: FakePoseModel(with_3d=with_3d),
                  detector_loader=lambda *a: FakeDetector())  # fmt: skip


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    clip = walking_video(tmp_path_factory.mktemp("live_ui") / "walk.mp4", num_frames=20)
    return [cv2.cvtColor(f.image, cv2.COLOR_BGR2RGB) for f in read_video(clip.path)]  # what Gradio hands over


def test_frames_stream_and_a_recording_becomes_files(frames, tmp_path):
    live = Live(ModelRegistry(_models()), WorkDirs(tmp_path))
    assert live.default == "PoseKit"  # on a CPU
    overlay, stats, stream = live.frame(None, None, "PoseKit", False)
    assert overlay is None and stream is None
    state = None
    for i, frame in enumerate(frames):
        if i == 5:
            summary, *files, state = live.record(True, state)
            assert "Recording" in summary and files == [None, None, None]
        overlay, stats, state = live.frame(frame, state, "PoseKit", False)
        assert isinstance(state, Stream) and overlay.shape == frame.shape and overlay.dtype == np.uint8
    assert "frames/s" in stats and "server time per frame" in stats and "PoseKit on CPU" in stats
    assert "recording: 15 frames" in stats
    summary, json_path, zip_path, animations, state = live.record(False, state)
    assert summary.startswith("Recorded **15 frames**") and animations is None  # PoseKit: 2D only
    seq = read_result(json_path)
    assert isinstance(seq, PoseSequence) and seq.num_frames == 15 and seq.num_people == 1
    document = json.loads(open(json_path).read())
    assert document["source"]["kind"] == "live" and document["settings"]["max_side"] == 640
    assert zip_path.endswith(".zip") and not state.session.recording
    # Unticked again with nothing new: says so, writes nothing
    summary, json_path, *_ = live.record(False, state)
    assert "Nothing was recorded" in summary and json_path is None


def test_record_ticked_before_the_stream_starts_records_from_the_first_frame(frames, tmp_path):
    live = Live(ModelRegistry(_models()), WorkDirs(tmp_path))
    summary, *_, state = live.record(True, None)
    assert state is None
    for frame in frames[:4]:
        _, _, state = live.frame(frame, state, "PoseKit", True)
    assert state.session.recorded_frames == 4
    _, _, state = live.frame(frames[4], state, "RTMW3D-L", True)  # another model: a new session
    assert state.name == "RTMW3D-L" and state.session.recorded_frames == 1
    assert state.session.detector is not None  # RTMW3D finds people with the detector


def test_a_3d_recording_also_gives_bvh_and_glb_animations(frames, tmp_path):
    live = Live(ModelRegistry(_models(with_3d=True)), WorkDirs(tmp_path))
    state = None
    for frame in frames:
        _, _, state = live.frame(frame, state, "RTMW3D-L", state is None or state.session.recording)
    summary, json_path, zip_path, animations, state = live.record(False, state)
    seq = read_result(json_path)
    assert seq.keypoints_3d is not None and seq.num_frames == 20
    assert "BVH and GLB" in summary and sorted(p.rsplit(".", 1)[1] for p in animations) == ["bvh", "glb"]


def test_on_zero_gpu_streams_run_posekit_on_the_cpu(monkeypatch, tmp_path):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    registry = ModelRegistry(_models())
    live = Live(registry, WorkDirs(tmp_path))
    assert live.zero_gpu and live.choices == ["PoseKit"] and live.default == "PoseKit"
    assert live.models is not registry.models and live.models.device == "cpu"


def test_live_events_are_not_api_endpoints(tmp_path, monkeypatch):
    from posekit.ui import create_demo

    demo = create_demo(registry=ModelRegistry(_models()))
    api = demo.get_api_info()
    assert set(api["named_endpoints"]) == {"/image", "/video", "/rgbd"}
    streams = [d for d in demo.config["dependencies"] if any(t[1] == "stream" for t in d["targets"])]
    assert len(streams) == 1 and streams[0]["stream_every"] == pytest.approx(0.06)
    assert streams[0]["time_limit"] == 60
