"""The web app, served in-process and called through gradio_client as a user's script would call it.

Models load from random weights in the real formats (``generators.weights``) through ``POSEKIT_WEIGHTS_DIR``,
with the network off; the person detector is the tame one (exactly one person, the whole image), so outputs
have known shapes. Every limit and bad upload must come back as a readable message, never a traceback.
"""

from __future__ import annotations

import json
import pickle
import struct
import time
import zipfile
import zlib
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

gradio_client = pytest.importorskip("gradio_client")
from generators.captures import write_r3d  # noqa: E402
from generators.scene import make_scene  # noqa: E402
from generators.takes import make_take, write_zip  # noqa: E402
from generators.videos import walking_video  # noqa: E402
from generators.weights import write_rtmw3d  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from posekit.io.export import SCHEMA, SCHEMA_VERSION, read_result  # noqa: E402
from posekit.io.takes import load_take  # noqa: E402
from posekit.limits import Limits  # noqa: E402
from posekit.pipelines import Models, Settings  # noqa: E402
from posekit.sequence import PoseSequence  # noqa: E402
from posekit.ui import create_demo  # noqa: E402
from posekit.ui.files import WorkDirs, rgbd_kind  # noqa: E402
from posekit.ui.handlers import app_settings  # noqa: E402
from posekit.ui.inference import gpu_seconds  # noqa: E402
from posekit.ui.models import ModelRegistry  # noqa: E402

ASSETS = Path(__file__).resolve().parents[2] / "assets"
TAKE = ASSETS / "rgbd" / "PoseTake_2025-01-01T120000Z.zip"
LIMITS = Limits(
    max_file_bytes=4 * 1024**2,
    max_image_pixels=1_000_000,
    max_frames=60,
    max_duration_s=20.0,
    max_archive_members=50,
    max_inflated_bytes=64 * 1024**2,
    max_compression_ratio=200.0,
)
OFFLINE = {"HF_HUB_OFFLINE": "1", "POSEKIT_OFFLINE": "1"}


def _serve(tmp: Path, **kwargs) -> tuple[object, Client]:
    demo = create_demo(limits=LIMITS, **kwargs)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    return demo, Client(demo.local_url, verbose=False, download_files=str(tmp))


@pytest.fixture(scope="module")
def served(weights, tmp_path_factory):
    demo, client = _serve(tmp_path_factory.mktemp("downloads"))
    yield client
    demo.close()


@pytest.fixture(scope="module")
def small_image(tmp_path_factory):
    """A 320x213 person photo: the smallest input that still looks like one."""
    image = cv2.imread(str(Path(__file__).parents[1] / "data" / "coco" / "000000040083.jpg"))
    path = tmp_path_factory.mktemp("img") / "small.jpg"
    cv2.imwrite(str(path), cv2.resize(image, (320, 213), interpolation=cv2.INTER_AREA))
    return path


def _error(client: Client, *args, api_name: str) -> str:
    with pytest.raises(AppError) as info:
        client.predict(*args, api_name=api_name)
    message = str(info.value)
    assert "Traceback" not in message and 'File "' not in message
    return message


def _video_path(value) -> str | None:
    return value.get("video") if isinstance(value, dict) else value


def _plot(value) -> dict:
    return json.loads(value["plot"]) if isinstance(value, dict) else json.loads(value)


def _zip_names(path: str) -> list[str]:
    with zipfile.ZipFile(path) as z:
        return z.namelist()


def _document(path: str) -> dict:
    data = json.loads(Path(path).read_text())
    assert data["schema"] == SCHEMA and data["version"] == SCHEMA_VERSION
    return data


def test_api_endpoints_are_named(served):
    endpoints = served.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert set(endpoints) == {"/image", "/video", "/rgbd"}
    params = [p["parameter_name"] for p in endpoints["/video"]["parameters"]]
    assert params[:2] == ["video", "model"] and "smoothing" in params and "frame_step" in params


def test_unavailable_model_says_so(served, small_image):  # before the RTMW3D-X test writes its weights
    message = _error(served, handle_file(small_image), "RTMW3D-X", api_name="/image")
    assert "RTMW3D-X model is unavailable" in message and "POSEKIT_WEIGHTS_DIR" in message


@pytest.mark.parametrize(("model", "skeleton", "k"), [("RTMW3D-L", "coco_wholebody", 133), ("PoseKit", "COCO17+2", 19)])
def test_image_endpoint(served, small_image, model, skeleton, k):
    overlay, plot, summary, json_path, zip_path = served.predict(
        handle_file(small_image), model, 0.5, 0.3, False, api_name="/image"
    )
    assert cv2.imread(overlay).shape == (213, 320, 3)
    data = _document(json_path)
    result = data["result"]
    assert data["kind"] == "image" and data["model"] == model.lower() and result["skeleton"] == skeleton
    assert result["num_people"] == 1 and np.array(result["keypoints_2d"]).shape == (1, k, 2)
    assert result["image_size"] == [320, 213]
    assert "**1 person**" in summary and model in summary
    figure = _plot(plot)
    names = _zip_names(zip_path)
    assert {"results.json", "keypoints.csv", "overlay.jpg"} <= set(names)
    if model == "PoseKit":  # 2D only: the figure says so; an app-compatible take comes with the ZIP
        assert result["keypoints_3d"] is None and "2D" in json.dumps(figure["layout"]["annotations"])
        take = next(n for n in names if n.startswith("take/PoseTake_") and n.endswith(".zip"))
        with zipfile.ZipFile(zip_path) as z:
            inner = Path(json_path).parent / "inner_take.zip"
            inner.write_bytes(z.read(take))
        assert load_take(inner).num_frames == 1
        assert "3D: **none**" in summary
    else:
        assert np.array(result["keypoints_3d"]).shape == (1, k, 3) and result["space_3d"] == "model"
        assert sum(t["type"] == "scatter3d" for t in figure["data"]) == 2
        assert "model-relative" in summary


def test_image_below_box_threshold_finds_nobody(served, small_image):
    _, plot, summary, json_path, _ = served.predict(handle_file(small_image), "RTMW3D-L", 0.9, api_name="/image")
    assert _document(json_path)["result"]["num_people"] == 0
    assert "**0 people**" in summary and "No person" in json.dumps(_plot(plot)["layout"])


@pytest.mark.slow
def test_image_rtmw3d_x_loads_when_its_weights_appear(served, small_image, weights):
    write_rtmw3d(weights, "x")  # about 370 MB: written only for this test
    try:
        _, _, summary, json_path, _ = served.predict(handle_file(small_image), "RTMW3D-X", api_name="/image")
    finally:
        next(weights.glob("rtmw3d-x_*.pth")).unlink()
    assert _document(json_path)["model"] == "rtmw3d-x" and "RTMW3D-X" in summary


def test_video_endpoint(served, tmp_path):
    clip = walking_video(tmp_path / "walk.mp4", num_frames=8, size=(160, 120), fps=8.0)
    overlay, plot, summary, json_path, zip_path = served.predict(
        handle_file(clip.path), "RTMW3D-L", 0.5, 0.3, True, "one_euro", 0.5, 10.0, 2, api_name="/video"
    )
    with av.open(_video_path(overlay)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert stream.codec_context.name == "h264" and (stream.width, stream.height) == (160, 120)
    assert len(frames) == 4  # every 2nd of 8
    data = _document(json_path)
    seq = PoseSequence.from_json(data["result"])
    assert data["kind"] == "sequence" and seq.num_frames == 4 and seq.num_people == 1
    assert seq.keypoints_3d.shape == (4, 1, 133, 3) and seq.image_size == (160, 120)
    figure = _plot(plot)
    assert len(figure["frames"]) == 4 and figure["layout"]["sliders"]
    assert "4 frames" in summary and "One-Euro" in summary
    assert {"results.json", "keypoints.csv", "overlay.mp4"} <= set(_zip_names(zip_path))


def test_take_plays_back(served, tmp_path):
    overlay, plot, summary, json_path, zip_path = served.predict(handle_file(TAKE), "RTMW3D-L", api_name="/rgbd")
    assert _video_path(overlay) is None
    data = _document(json_path)
    assert data["model"] == "iphone-take" and data["result"]["space_3d"] == "phone"
    original = load_take(TAKE)
    replayed = read_result(json_path)
    np.testing.assert_array_equal(replayed.keypoints_3d, original.keypoints_3d)
    figure = _plot(plot)
    assert len(figure["frames"]) == 60 and "iPhone take" in summary and "from the phone" in summary
    with zipfile.ZipFile(zip_path) as z:
        take_name = next(n for n in z.namelist() if n.startswith("take/"))
        (tmp_path / "again.zip").write_bytes(z.read(take_name))
    again = load_take(tmp_path / "again.zip")
    np.testing.assert_array_equal(again.keypoints_3d, original.keypoints_3d)
    np.testing.assert_array_equal(again.keypoints_2d, original.keypoints_2d)


@pytest.mark.parametrize("model", ["PoseKit", "RTMW3D-L"])
def test_capture_endpoint(served, tmp_path, model):
    scene = make_scene(num_frames=8, color_size=(160, 120), depth_size=(64, 48), fps=4.0)
    capture = write_r3d(scene, tmp_path / "capture.r3d")
    overlay, plot, summary, json_path, zip_path = served.predict(
        handle_file(capture), model, 0.5, 0.3, False, "ema", 0.5, "lenient", 1.0, 1, api_name="/rgbd"
    )
    with av.open(_video_path(overlay)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 4  # 1 s at 4 fps: the first 4 of 8 frames
    data = _document(json_path)
    seq = PoseSequence.from_json(data["result"])
    k = 19 if model == "PoseKit" else 133
    assert data["source"]["format"] == "record3d" and data["settings"]["depth_mode"] == "lenient"
    assert seq.space_3d == "metric_depth" and seq.keypoints_3d.shape == (4, 1, k, 3)
    assert np.isfinite(seq.keypoints_3d).any() and seq.image_size == (160, 120)
    assert len(_plot(plot)["frames"]) == 4 and "record3d capture" in summary and "metric, from depth" in summary
    names = _zip_names(zip_path)
    assert {"results.json", "keypoints.csv", "overlay.mp4"} <= set(names)
    assert any(n.startswith("take/PoseTake_") for n in names)  # both skeletons map to an app take


# ---- Limits and bad uploads: friendly messages -------------------------------------------------------------


def test_missing_inputs_and_bad_settings(served, small_image):
    assert "Upload an image" in _error(served, None, "RTMW3D-L", api_name="/image")
    assert "Upload a video" in _error(served, None, "RTMW3D-L", api_name="/video")
    assert "Upload a PoseKit take" in _error(served, None, "RTMW3D-L", api_name="/rgbd")
    assert "OpenPose" in _error(served, handle_file(small_image), "OpenPose", api_name="/image")
    message = _error(served, handle_file(TAKE), "PoseKit", 0.5, 0.3, False, "gaussian", api_name="/rgbd")
    assert "gaussian" in message


def test_image_limits(served, tmp_path):
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.zeros((1000, 1200, 3), np.uint8))  # 1.2 MP > 1 MP, a small file
    assert "expected at most 1,000,000 pixels, got 1200x1000" in _error(served, handle_file(big), "PoseKit",
                                                                         api_name="/image")  # fmt: skip
    heavy = tmp_path / "heavy.png"
    heavy.write_bytes(b"\x89PNG" + np.random.default_rng(0).bytes(5 * 1024**2))
    assert "MB is over the limit" in _error(served, handle_file(heavy), "PoseKit", api_name="/image")


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels and holds almost none: only decoding would find out."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_image_bomb_refused_from_its_header(served, tmp_path):
    for side in (2_000, 40_000):  # over our bound; over PIL's own decompression-bomb bound too
        bomb = tmp_path / f"bomb{side}.png"
        bomb.write_bytes(_png_header(side, side))
        message = _error(served, handle_file(bomb), "PoseKit", api_name="/image")
        assert message.startswith(f"Could not process the image. bomb{side}.png: ")
        assert f"got {side}x{side}" in message or f"declares {side * side:,} pixels" in message  # ours, PIL's bound


def test_not_an_image(served, tmp_path):
    fake = tmp_path / "photo.png"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really" * 100)
    message = _error(served, handle_file(fake), "PoseKit", api_name="/image")
    assert "image" in message.lower()


def test_video_limits_and_corrupt_video(served, tmp_path):
    long = walking_video(tmp_path / "long.mp4", num_frames=70, size=(64, 48), fps=25.0)
    message = _error(served, handle_file(long.path), "PoseKit", 0.5, 0.3, False, "none", 0.5, 20.0, 1,
                     api_name="/video")  # fmt: skip
    assert "frames is over the limit of 60" in message
    slow = walking_video(tmp_path / "slow.mp4", num_frames=25, size=(64, 48), fps=1.0)
    message = _error(served, handle_file(slow.path), "PoseKit", 0.5, 0.3, False, "none", 0.5, 100.0, 1,
                     api_name="/video")  # fmt: skip
    assert "max_duration_s: expected a number from 1 to 20, got 100" in message  # the control stops at the limit
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(np.random.default_rng(1).bytes(20_000))
    assert "video" in _error(served, handle_file(broken), "PoseKit", api_name="/video").lower()


def test_archive_limits_and_unknown_files(served, tmp_path):
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as z:
        for i in range(60):
            z.writestr(f"rgb/{i}.jpg", b"x")
    assert "archive members is over the limit of 50" in _error(served, handle_file(many), "PoseKit", api_name="/rgbd")
    bomb = tmp_path / "bomb.zip"
    take = make_take(num_frames=4)
    write_zip(bomb, take, members=("meta.json",))
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("frames.bin", bytes(80 * 1024**2))  # 80 MB of zeros: ~80 kB deflated
    message = _error(served, handle_file(bomb), "PoseKit", api_name="/rgbd")
    assert "limit" in message or "zip bomb" in message
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    assert "file type" in _error(served, handle_file(other), "PoseKit", api_name="/rgbd")  # refused by Gradio
    renamed = tmp_path / "notes.r3d"
    renamed.write_text("hello")
    assert "expected a ZIP" in _error(served, handle_file(renamed), "PoseKit", api_name="/rgbd")
    garbage = tmp_path / "PoseTake.json"
    garbage.write_text('{"frames": [{"timestamp": 1}]}')
    assert _error(served, handle_file(garbage), "PoseKit", api_name="/rgbd")


# ---- No weights at all: the app starts, says so, and still plays takes back ----------------------------------


def test_app_starts_without_weights_and_replays_a_take(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEKIT_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path / "cache"))
    for key, value in OFFLINE.items():
        monkeypatch.setenv(key, value)
    registry = ModelRegistry(device="cpu")
    start = time.perf_counter()
    demo, client = _serve(tmp_path, registry=registry)
    try:
        assert time.perf_counter() - start < 10  # the page first: no model is loaded before serving
        assert registry.status_markdown() == "" and set(registry.status().values()) == {"not loaded yet"}
        _, plot, summary, json_path, _ = client.predict(handle_file(TAKE), "PoseKit", api_name="/rgbd")
        assert len(_plot(plot)["frames"]) == 60 and _document(json_path)["model"] == "iphone-take"
        message = _error(client, handle_file(ASSETS / "images" / "coco_000000000785.jpg"), "PoseKit",
                         api_name="/image")  # fmt: skip
        assert "PoseKit model is unavailable" in message and "pkmodel.mlmodelc" in message
        assert "PoseKit** is unavailable" in registry.status_markdown()
    finally:
        demo.close()


# ---- Pieces, without a server ------------------------------------------------------------------------------


def test_settings_validation_says_what_was_expected():
    with pytest.raises(ValueError, match="bbox_threshold: expected a number from 0 to 1, got 1.5"):
        app_settings("PoseKit", box_threshold=1.5)
    with pytest.raises(ValueError, match="bbox_threshold: expected a number from 0 to 1, got 'abc'"):
        app_settings("PoseKit", box_threshold="abc")
    with pytest.raises(ValueError, match="frame_step"):
        app_settings("PoseKit", frame_step=0)
    with pytest.raises(ValueError, match="max_duration_s"):
        app_settings("PoseKit", max_duration_s=0)
    with pytest.raises(ValueError, match="model: expected one of RTMW3D-L, RTMW3D-X, PoseKit, got 'OpenPose'"):
        app_settings("OpenPose")
    assert app_settings("PoseKit", frame_step=3.0).frame_step == 3
    assert app_settings("PoseKit").keypoint_threshold == 0.1 and app_settings("RTMW3D-L").keypoint_threshold == 0.3


def test_rgbd_kind(tmp_path):
    assert rgbd_kind(TAKE, LIMITS) == "take"
    capture = tmp_path / "capture.zip"
    with zipfile.ZipFile(capture, "w") as z:
        z.writestr("intrinsics.json", "{}")
        z.writestr("color/000000.jpg", b"x")
    assert rgbd_kind(capture, LIMITS) == "capture"
    (tmp_path / "a.r3d").write_bytes(b"PK")
    assert rgbd_kind(tmp_path / "a.r3d", LIMITS) == "capture"


def test_workdirs_purge_old_folders(tmp_path):
    dirs = WorkDirs(tmp_path / "work", max_age_s=3600)
    old = dirs.new("image")
    (old / "overlay.jpg").write_bytes(b"x")
    import os

    os.utime(old, (0, 0))
    fresh = dirs.new("video")
    assert not old.exists() and fresh.exists()
    dirs.cleanup()
    assert not (tmp_path / "work").exists()


def test_registry_reports_and_retries():
    calls = []

    def flaky(name, device, precision, compile):
        calls.append(name)
        if len(calls) == 1:
            raise FileNotFoundError("rtmw3d-l.pth is missing")
        return object()

    models = Models("cpu", estimator_loader=flaky, detector_loader=lambda *args: "detector")
    registry = ModelRegistry(models, names=("RTMW3D-L",))
    assert registry.preload() == {"RTMW3D-L": "rtmw3d-l.pth is missing"}
    assert "RTMW3D-L** is unavailable" in registry.status_markdown()
    registry.load("RTMW3D-L")  # the weights appeared: the next request loads it
    assert models.detector() == "detector" and registry.status_markdown() == ""
    with pytest.raises(ValueError, match="expected one of"):
        registry.load("nope")


def test_gpu_handler_arguments_pickle_light():
    """ZeroGPU pickles a GPU handler's arguments into a forked worker: the models must travel as a reference."""
    estimator = np.zeros(10_000_000, np.uint8)  # stands in for hundreds of megabytes of weights
    models = Models("cpu", estimator_loader=lambda *args: estimator, detector_loader=lambda *args: "det")
    registry = ModelRegistry(models)
    registry.load("PoseKit")
    settings = Settings(model="posekit")
    args = (registry, "clip.mp4", settings, "/tmp/out", "clip", "video", LIMITS, "clip.mp4")
    data = pickle.dumps((args, {"expected_frames": 90}))
    assert len(data) < 10_000
    (back, kwargs) = pickle.loads(data)
    assert back[0] is registry and back[2:7] == args[2:7] and kwargs["expected_frames"] == 90
    assert gpu_seconds(*args, expected_frames=90) == int(20 + 90 * 0.04)
    assert gpu_seconds(*args, expected_frames=100_000) == 240
    assert gpu_seconds(*args, expected_frames=1) == 20


def test_gpu_decorator_asks_zero_gpu_for_the_duration(monkeypatch):
    from posekit.ui import gpu as gpu_module

    requested = []

    class FakeSpaces:
        @staticmethod
        def GPU(duration):  # noqa: N802 - the spaces package's name
            def wrap(fn):
                requested.append((duration, fn.__name__))
                return fn

            return wrap

    def handler(x):
        return x

    monkeypatch.setattr(gpu_module, "spaces", None)
    assert gpu_module.gpu(20)(handler) is handler  # without the spaces package: unchanged
    monkeypatch.setattr(gpu_module, "spaces", FakeSpaces)
    assert gpu_module.gpu(gpu_seconds)(handler)(3) == 3
    assert requested == [(gpu_seconds, "handler")]


def test_friendly_errors_never_show_a_traceback():
    import gradio as gr

    from posekit.ui.handlers import friendly_errors

    class OutOfMemoryError(RuntimeError):  # as torch.cuda names it
        pass

    cases = [
        (ValueError("video.mp4: 901 frames is over the limit of 900"), "901 frames is over the limit"),
        (OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "GPU ran out of memory"),
        (KeyError("internal detail"), "Something went wrong while processing the video (KeyError)"),
    ]
    for exc, expected in cases:
        with pytest.raises(gr.Error) as info, friendly_errors("video"):
            raise exc
        assert expected in info.value.message and "Traceback" not in info.value.message
        assert info.value.__cause__ is None and info.value.__suppress_context__


def test_zero_gpu_start_up_builds_every_model_before_serving(monkeypatch):
    """On a ZeroGPU Space the weights are on disk (preload_from_hub) and no GPU call may spend its time loading:
    every model is built at start-up; locally none is."""
    loaded = []

    def loader(name, device, precision, compile):
        loaded.append(name)
        return object()

    def registry():
        return ModelRegistry(Models("cpu", estimator_loader=loader, detector_loader=lambda *args: "detector"))

    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    create_demo(registry=registry(), limits=LIMITS)
    assert loaded == []  # locally: the page first, each model on its first request
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    ready = registry()
    create_demo(registry=ready, limits=LIMITS)
    assert loaded == ["rtmw3d-l", "rtmw3d-x", "posekit"] and set(ready.status().values()) == {None}
