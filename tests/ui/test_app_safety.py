"""The served app under hostile use (#16, the app's side): an image bomb refused from its header with little
memory, a work budget per request, light requests not waiting behind heavy ones, and every rejection a titled,
escaped, one-line message that names no server folder, also for parameters of the wrong type.

Served in-process on 127.0.0.1 with random-weight models (as ``test_app.py``), called through gradio_client.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import pytest

gradio_client = pytest.importorskip("gradio_client")
from generators.hostile import png_bomb  # noqa: E402
from generators.videos import walking_video  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from posekit.limits import LimitError  # noqa: E402
from posekit.pipelines import Settings  # noqa: E402
from posekit.ui import create_demo  # noqa: E402
from posekit.ui.files import APP_LIMITS  # noqa: E402
from posekit.ui.inference import STOP_AFTER, Progress, check_work, work_seconds  # noqa: E402

ASSETS = Path(__file__).resolve().parents[2] / "assets"
TAKE = ASSETS / "rgbd" / "PoseTake_2025-01-01T120000Z.zip"
IMAGE = ASSETS / "images" / "coco_000000000785.jpg"
BUDGET_LIMITS = replace(APP_LIMITS, max_work_s=5.0)


def _serve(tmp: Path, limits=BUDGET_LIMITS, **kwargs):
    demo = create_demo(limits=limits, **kwargs)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    return demo, Client(demo.local_url, verbose=False, download_files=str(tmp))


@pytest.fixture(scope="module")
def served(weights, tmp_path_factory):
    demo, client = _serve(tmp_path_factory.mktemp("downloads"))
    yield client
    demo.close()


def _error(client: Client, *args, api_name: str) -> AppError:
    with pytest.raises(AppError) as info:
        client.predict(*args, api_name=api_name)
    error = info.value
    assert "Traceback" not in error.message and 'File "' not in error.message
    assert "/gradio/" not in error.message and "/tmp/" not in error.message  # no server folder
    assert "upstream Gradio app has raised an exception" not in error.message
    return error


def _status(field: str) -> int:
    """A ``/proc/self/status`` memory field, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


# ---- 1. An image bomb is refused from its header -------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to measure peak RSS")
def test_png_bomb_refused_from_its_header_with_little_memory(served, tmp_path):
    bomb = tmp_path / "huge.png"
    bomb.write_bytes(png_bomb(13300, 13300))  # RGBA, about 690 KB on disk, 708 MB inflated
    assert bomb.stat().st_size < 1_000_000
    served.predict(handle_file(IMAGE), "PoseKit", api_name="/image")  # warm: model loaded, paths exercised
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak RSS (VmHWM) to the current RSS
    before = _status("VmRSS")
    start = time.perf_counter()
    error = _error(served, handle_file(bomb), "PoseKit", api_name="/image")
    seconds = time.perf_counter() - start
    extra = _status("VmHWM") - before
    print(f"13300x13300 RGBA PNG ({bomb.stat().st_size / 1e3:.0f} KB): refused in {seconds:.3f} s, "
          f"peak RSS +{extra / 1e6:.1f} MB")  # fmt: skip
    assert error.message.startswith("Could not process the image. huge.png: ")
    assert "13300x13300" in error.message and "40,000,000" in error.message
    assert error.title == "Could not process the image"
    assert extra < 50 * 1024**2
    assert seconds < 2.0  # about 0.1 s here; the bound leaves room for a loaded test machine


def test_image_reaches_the_handler_undecoded(served, tmp_path):
    """An RGBA PNG, a grayscale PNG and an EXIF-rotated JPEG are read by the library (not converted by Gradio)."""
    import cv2
    import numpy as np
    from PIL import Image

    image = cv2.imread(str(IMAGE))
    rgba = tmp_path / "rgba.png"
    cv2.imwrite(str(rgba), cv2.cvtColor(image, cv2.COLOR_BGR2BGRA))
    gray = tmp_path / "gray.png"
    cv2.imwrite(str(gray), cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[274] = 6  # rotate 90 degrees clockwise on display
    Image.fromarray(image[:, :, ::-1]).save(rotated, exif=exif)
    h, w = image.shape[:2]
    for path, size in ((rgba, (w, h)), (gray, (w, h)), (rotated, (h, w))):
        _, _, summary, json_path, _ = served.predict(handle_file(path), "PoseKit", api_name="/image")
        import json

        assert json.loads(Path(json_path).read_text())["source"]["width"] == size[0], path.name
        assert f"{size[0]}×{size[1]} image" in summary
    assert np.asarray(Image.open(rotated)).shape[:2] == (h, w)


# ---- 2. Work budget ----------------------------------------------------------------------------------------


def test_over_budget_video_is_refused_before_it_runs(served, tmp_path):
    clip = walking_video(tmp_path / "long.mp4", num_frames=40, size=(64, 48), fps=20.0)
    start = time.perf_counter()
    error = _error(served, handle_file(clip.path), "RTMW3D-L", 0.5, 0.3, False, "none", 0.5, 10.0, 1,
                   api_name="/video")  # fmt: skip
    assert time.perf_counter() - start < 5  # refused from the container's counts, not after running
    message = error.message
    assert "long.mp4: 40 frames with RTMW3D-L on CPU is about 14 s of work" in message
    assert "budget of 5 s a request" in message
    assert "Duration" in message and "Frame step of 3 or more" in message and "PoseKit" in message
    # what the message advises fits the budget (running it is for a faster machine than a loaded test runner)
    check_work(Settings(model="rtmw3d-l", frame_step=3), 14, "cpu", BUDGET_LIMITS, "long.mp4")
    check_work(Settings(model="posekit"), 40, "cpu", BUDGET_LIMITS, "long.mp4")


def test_work_budget_pieces():
    settings = Settings(model="rtmw3d-l")
    assert work_seconds("rtmw3d-l", 300, "cpu") == pytest.approx(105)  # the #16 trial: 103 s
    assert work_seconds("rtmw3d-l", 300, "cuda") < 15
    check_work(settings, 100, "cpu", APP_LIMITS, "a.mp4")  # 35 s: within 60
    check_work(settings, 10**6, "cpu", replace(APP_LIMITS, max_work_s=None), "a.mp4")  # no budget
    with pytest.raises(LimitError, match=r"a.mp4: 300 frames with RTMW3D-L on CPU is about 105 s"):
        check_work(settings, 300, "cpu", APP_LIMITS, "a.mp4")
    check_work(settings, 300, "cuda", APP_LIMITS, "a.mp4")
    # and a job that runs past twice the budget is stopped at its next progress call
    progress = Progress(deadline=time.time() - 1, budget_s=60.0)
    with pytest.raises(LimitError, match=f"stopped after {60 * STOP_AFTER:.0f} s, past this app's budget of 60 s"):
        progress(0.5, "poses")
    assert Progress().within(replace(APP_LIMITS, max_work_s=None)) == Progress()
    import pickle

    assert pickle.loads(pickle.dumps(Progress().within(APP_LIMITS))).budget_s == 60.0  # travels to ZeroGPU


def test_running_job_is_stopped_past_the_budget(served, tmp_path, monkeypatch):
    """The estimate can be wrong: the wall clock stops the job, with the same kind of message."""
    from posekit.ui import inference

    monkeypatch.setattr(inference, "STOP_AFTER", 0.0)  # every job is past its budget at its first progress call
    clip = walking_video(tmp_path / "clip.mp4", num_frames=4, size=(64, 48), fps=4.0)
    error = _error(served, handle_file(clip.path), "PoseKit", 0.5, 0.3, False, "none", 0.5, 10.0, 1,
                   api_name="/video")  # fmt: skip
    assert "past this app's budget of 5 s" in error.message and "Frame step" in error.message


# ---- 3. Light work does not wait behind heavy work ---------------------------------------------------------


def test_image_and_take_do_not_wait_behind_a_long_video(weights, tmp_path):
    demo, client = _serve(tmp_path, limits=replace(APP_LIMITS, max_work_s=None))
    try:
        client.predict(handle_file(IMAGE), "PoseKit", api_name="/image")  # load the models first
        client.predict(handle_file(IMAGE), "RTMW3D-L", 0.5, 0.3, api_name="/image")
        clip = walking_video(tmp_path / "long.mp4", num_frames=24, size=(96, 64), fps=8.0)  # ~8 s on a 2-core CPU
        video = client.submit(handle_file(clip.path), "RTMW3D-L", 0.5, 0.3, False, "none", 0.5, 10.0, 1,
                              api_name="/video")  # fmt: skip
        deadline = time.monotonic() + 60
        while video.status().code.name not in ("PROCESSING", "PROGRESS", "FINISHED") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # well into the video
        if video.done():
            pytest.skip("this machine ran the video in under a second: nothing left to wait behind")
        start = time.perf_counter()
        client.predict(handle_file(IMAGE), "PoseKit", api_name="/image")
        image_s = time.perf_counter() - start
        image_during_video = not video.done()
        start = time.perf_counter()
        client.predict(handle_file(TAKE), "PoseKit", api_name="/rgbd")
        take_s = time.perf_counter() - start
        take_during_video = not video.done()
        print(f"behind a running video: image {image_s:.2f} s, take {take_s:.2f} s")
        assert image_during_video and take_during_video
        assert "24 frames" in video.result(timeout=300)[2]
    finally:
        demo.close()


# ---- 4. Errors: titled, escaped, named by the upload, validated like the UI ----------------------------------


_IMG, _TAKE = handle_file(IMAGE), handle_file(TAKE)
BAD_PARAMETERS = [
    ((_IMG, "PoseKit", "abc"), "/image", "box_threshold: expected a number from 0.05 to 0.95, got 'abc'"),
    ((_IMG, "PoseKit", 0.5, "0.3"), "/image", "keypoint_threshold: expected a number from 0 to 1, got '0.3'"),
    ((_IMG, "PoseKit", 0.5, 0.3, "yes"), "/image", "single_person: expected true or false, got 'yes'"),
    ((_IMG, "Nope"), "/image", "model: expected one of RTMW3D-L, RTMW3D-X, PoseKit, got 'Nope'"),
    ((_IMG, None), "/image", "model: expected one of RTMW3D-L, RTMW3D-X, PoseKit, got None"),
    ((_TAKE, "PoseKit", 0.5, 0.3, False, "x"), "/rgbd", "smoothing: expected one of none, ema, one_euro, got 'x'"),
    ((_TAKE, "PoseKit", 0.5, 0.3, False, "ema", 0.5, None), "/rgbd",
     "depth_mode: expected one of strict, balanced, lenient, got None"),
    ((_TAKE, "PoseKit", 0.5, 0.3, False, "ema", 0.5, "balanced", 10, -1), "/rgbd",
     "frame_step: expected a number from 1 to 10, got -1"),
    ((_TAKE, "PoseKit", 0.5, 0.3, False, "ema", 0.5, "balanced", 10, 2.5), "/rgbd",
     "frame_step: expected a whole number from 1 to 100, got 2.5"),
    ((_TAKE, "PoseKit", 0.5, 0.3, False, "ema", [1], "balanced"), "/rgbd",
     "smoothing_strength: expected a number from 0 to 1, got [1]"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "api_name", "expected"), BAD_PARAMETERS)
def test_bad_parameters_say_what_was_expected(served, args, api_name, expected):
    error = _error(served, *args, api_name=api_name)
    assert expected in error.message
    assert error.title in ("Invalid input", "Could not process the image", "Could not process the upload")
    assert error.message.startswith(error.title + ". ")


def test_uploads_of_the_wrong_kind_say_so(served, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    error = _error(served, handle_file(notes), "PoseKit", api_name="/rgbd")
    assert error.message.startswith("Invalid input. file: ") and "file type" in error.message
    assert "notes.txt" not in error.message or "/" not in error.message
    error = _error(served, "not a file", "PoseKit", api_name="/image")
    assert error.message.startswith("Invalid input. image: expected an uploaded file")


def test_error_text_is_escaped_and_titled(served, tmp_path):
    fake = tmp_path / "<i>photo.png"
    fake.write_bytes(b"<i>not an image</i>")
    error = _error(served, handle_file(fake), "PoseKit", api_name="/image")
    assert "<i>" not in error.message and "&lt;i&gt;" in error.message  # shown literally, not as italics
    assert error.title == "Could not process the image"
    error = _error(served, handle_file(IMAGE), "<b>Bold</b>", api_name="/image")
    assert "<b>" not in error.message and "&lt;b&gt;Bold&lt;/b&gt;" in error.message


def test_rejections_log_one_line_and_no_traceback(served, tmp_path, capfd, caplog):
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    capfd.readouterr()
    with caplog.at_level(logging.INFO, logger="posekit.ui.handlers"):
        _error(served, handle_file(fake), "PoseKit", api_name="/image")
        _error(served, handle_file(IMAGE), "PoseKit", "abc", api_name="/image")
        _error(served, handle_file(TAKE), "PoseKit", 0.5, 0.3, False, "x", api_name="/rgbd")
    err = capfd.readouterr().err
    assert "Traceback" not in err, err[-2000:]
    refused = [r for r in caplog.records if r.getMessage().startswith("refused")]
    assert len(refused) == 3 and all(r.exc_info is None and "\n" not in r.getMessage() for r in refused)
    assert "fake.png" in refused[0].getMessage() and str(tmp_path) not in refused[0].getMessage()


def test_inline_data_url_image_is_checked_from_its_header(served):
    """An API caller may send an image inline (``data:`` URL): bounded and header-checked, never decoded first."""
    import base64

    bomb = base64.b64encode(png_bomb(13300, 13300)).decode()
    error = _error(served, {"url": f"data:image/png;base64,{bomb}", "meta": {"_type": "gradio.FileData"}}, "PoseKit",
                   api_name="/image")  # fmt: skip
    assert "13300x13300" in error.message
    good = base64.b64encode(IMAGE.read_bytes()).decode()
    inline = {"url": f"data:image/jpeg;base64,{good}", "meta": {"_type": "gradio.FileData"}}
    _, _, summary, _, _ = served.predict(inline, "PoseKit", api_name="/image")
    assert "image by PoseKit" in summary
