"""One product behind every door: the CLI, the app (through gradio_client) and the Python API give the same
keypoints for the same input with default settings, for each kind of input (image, video, take, capture).

Models are random weights in the real formats (``generators.weights``) with a tame detector (one person, the
whole image), loaded through ``POSEKIT_WEIGHTS_DIR`` with the network off.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

gradio_client = pytest.importorskip("gradio_client")
from generators.captures import write_r3d  # noqa: E402
from generators.scene import make_scene  # noqa: E402
from generators.takes import make_take, write_zip  # noqa: E402
from generators.videos import walking_video  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402

from posekit import Models, Settings, cli, run_file  # noqa: E402
from posekit.io.export import result_from_document  # noqa: E402


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("doors")
    photo = cv2.imread(str(Path(__file__).parent / "data" / "coco" / "000000040083.jpg"))
    image = folder / "photo.jpg"
    cv2.imwrite(str(image), cv2.resize(photo, (320, 213), interpolation=cv2.INTER_AREA))
    scene = make_scene(num_frames=4, color_size=(160, 120), depth_size=(64, 48), fps=4.0)
    return {
        "image": image,
        "video": walking_video(folder / "walk.mp4", num_frames=6, size=(160, 120), fps=6.0).path,
        "take": write_zip(folder / "PoseTake.zip", make_take(num_frames=8)),
        "capture": write_r3d(scene, folder / "capture.r3d"),
    }


@pytest.fixture(scope="module")
def app(weights, tmp_path_factory):
    from posekit.ui import create_demo

    demo = create_demo()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    yield Client(demo.local_url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))
    demo.close()


def _python(path: Path, out: Path) -> dict:
    settings = Settings()  # the defaults: RTMW3D-L
    return run_file(path, settings, Models.for_settings(settings), out).document


def _cli(path: Path, out: Path) -> dict:
    assert cli.main([str(path), "-o", str(out), "-q"]) == 0
    return json.loads((out / f"{path.stem}.json").read_text())


def _app(client: Client, kind: str, path: Path) -> dict:
    api = {"image": "/image", "video": "/video", "take": "/rgbd", "capture": "/rgbd"}[kind]
    outputs = client.predict(handle_file(path), "RTMW3D-L", api_name=api)  # every other setting: its default
    return json.loads(Path(outputs[3]).read_text())


@pytest.mark.parametrize("kind", ["image", "video", "take", "capture"])
def test_cli_app_and_python_agree(kind, inputs, weights, app, tmp_path):
    path = inputs[kind]
    documents = {
        "python": _python(path, tmp_path / "python"),
        "cli": _cli(path, tmp_path / "cli"),
        "app": _app(app, kind, path),
    }
    results = {door: result_from_document(doc) for door, doc in documents.items()}
    reference = results["python"]
    assert reference.keypoints_2d.size, "nothing to compare"
    for door, result in results.items():
        np.testing.assert_allclose(result.keypoints_2d, reference.keypoints_2d, rtol=0, atol=1e-4, err_msg=door)
        np.testing.assert_allclose(result.scores, reference.scores, rtol=0, atol=1e-5, err_msg=door)
        if reference.keypoints_3d is not None:
            np.testing.assert_allclose(result.keypoints_3d, reference.keypoints_3d, rtol=0, atol=1e-5, err_msg=door)
    if kind != "take":  # a take ran no model: nothing to record
        settings = {door: doc["settings"] for door, doc in documents.items()}
        for key in ("model", "bbox_threshold", "keypoint_threshold", "smoothing", "detect_every", "depth_mode"):
            assert len({json.dumps(s[key]) for s in settings.values()}) == 1, key
        assert documents["cli"]["runtime"]["precision"] == "fp32"


def test_the_cli_draws_an_overlay_for_captures_as_the_app_does(inputs, weights, tmp_path):
    assert cli.main([str(inputs["capture"]), "-o", str(tmp_path), "-q"]) == 0
    assert (tmp_path / "capture_overlay.mp4").stat().st_size > 0
