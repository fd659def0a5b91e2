"""The posekit command: every input kind on small files, with the oracle model standing in for real weights."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from generators.fake_models import FakeDetector, FakePoseModel
from generators.videos import draw_frame, walking_boxes, walking_video

from posekit import cli
from posekit.io.export import read_result
from posekit.pipelines import input_jobs
from posekit.poses import Poses
from posekit.sequence import PoseSequence

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake_models(monkeypatch):
    """Route every model the CLI loads to the oracles."""
    from posekit.pipelines import models

    monkeypatch.setattr(models, "load_estimator", lambda *args: FakePoseModel())
    monkeypatch.setattr(models, "load_person_detector", lambda *args: FakeDetector())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    images = folder / "images"
    images.mkdir()
    for i in range(2):
        cv2.imwrite(str(images / f"frame{i}.png"), draw_frame((200, 160), walking_boxes(2, (200, 160))[i]))
    (images / "notes.txt").write_text("ignored: not an image")
    return {
        "video": walking_video(folder / "walk.mp4", num_frames=10).path,
        "image": images / "frame0.png",
        "images": images,
        "folder": folder,
    }


def _errors(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("posekit: error:")]


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for action in cli.build_parser()._actions:
        assert action.help, f"{action.option_strings or action.dest} has no help"
        for option in action.option_strings:
            assert option in text
    for model in cli.MODELS:
        assert model in text


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "posekit", "--version"], capture_output=True, text=True, cwd=ROOT,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0 and result.stdout.startswith("posekit ")


def test_image_and_folder_of_images(fake_models, inputs, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main([str(inputs["image"]), str(inputs["images"]), "-o", str(out), "--zip", "--model", "posekit"])
    assert code == 0 and not _errors(capsys)
    poses = read_result(out / "frame0.json")
    assert isinstance(poses, Poses) and len(poses) == 1 and poses.image_size == (200, 160)
    # The folder's two images; frame0 came twice, so its second result gets another name.
    assert {p.name for p in out.glob("*.json")} == {"frame0.json", "frame0-2.json", "frame1.json"}
    assert (out / "frame1_overlay.jpg").is_file()
    with zipfile.ZipFile(out / "frame0.zip") as z:
        names = set(z.namelist())
    assert {"results.json", "keypoints.csv", "overlay.jpg"} < names  # and an app-compatible take for PoseKit
    assert [n for n in names if n.startswith("take/PoseTake_")]


def test_video_with_detector_every_k_frames(fake_models, inputs, tmp_path, capsys):
    out = tmp_path / "out"
    args = [str(inputs["video"]), "-o", str(out), "--zip", "--detect-every", "3", "--batch-size", "2",
            "--smoothing", "ema", "--max-frames", "8"]  # fmt: skip
    assert cli.main(args) == 0 and not _errors(capsys)
    seq = read_result(out / "walk.json")
    assert isinstance(seq, PoseSequence) and seq.num_frames == 8 and seq.num_people == 1
    settings = json.loads((out / "walk.json").read_text())["settings"]
    assert settings["smoothing"] == "ema" and settings["detect_every"] == 3 and settings["model"] == "rtmw3d-l"
    with zipfile.ZipFile(out / "walk.zip") as z:
        assert {"results.json", "keypoints.csv", "overlay.mp4"} < set(z.namelist())
    assert (out / "walk_overlay.mp4").stat().st_size > 0


def test_real_posekit_model_with_random_weights(inputs, tmp_path, capsys, monkeypatch):
    from posekit.estimators.posekit import SAFETENSORS_NAME
    from posekit.io.checkpoints import save_safetensors
    from posekit.models.posekit_net import PoseKitNet

    weights = tmp_path / "weights"
    weights.mkdir()
    save_safetensors(PoseKitNet().state_dict(), weights / SAFETENSORS_NAME)
    monkeypatch.setenv("POSEKIT_WEIGHTS_DIR", str(weights))
    out = tmp_path / "out"
    code = cli.main([str(inputs["image"]), str(inputs["video"]), "-o", str(out), "--model", "posekit",
                     "--device", "cpu", "--max-frames", "4", "-q"])  # fmt: skip
    assert code == 0 and not _errors(capsys)
    seq = read_result(out / "walk.json")
    assert seq.num_frames == 4 and seq.skeleton.name == "COCO17+2" and seq.image_size == (320, 240)
    assert len(read_result(out / "frame0.json")) <= 1


@pytest.mark.slow
def test_real_rtmw3d_with_random_weights(tmp_path, capsys, monkeypatch):
    import torch

    from posekit.estimators.detector import DETECTOR_FILE
    from posekit.estimators.rtmpose3d import POSE_FILES
    from posekit.models.rtmdet import rtmdet_m
    from posekit.models.rtmw3d import rtmw3d_l

    weights = tmp_path / "weights"
    weights.mkdir()
    torch.manual_seed(0)
    torch.save({"state_dict": rtmdet_m().state_dict()}, weights / DETECTOR_FILE)
    torch.save({"state_dict": rtmw3d_l().state_dict()}, weights / POSE_FILES["l"])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    clip = walking_video(tmp_path / "walk.mp4", num_frames=3, size=(160, 120)).path
    out = tmp_path / "out"
    code = cli.main([str(clip), "-o", str(out), "--weights-dir", str(weights), "--device", "cpu", "--single-person",
                     "--detect-every", "2", "--bbox-threshold", "0", "--keypoint-threshold", "0", "-q"])  # fmt: skip
    assert code == 0 and not _errors(capsys)
    seq = read_result(out / "walk.json")
    assert seq.num_frames == 3 and seq.num_people == 1 and seq.skeleton.name == "coco_wholebody"
    assert seq.space_3d == "model" and seq.keypoints_3d.shape == (3, 1, 133, 3) and seq.intrinsics.shape == (3, 4)


def test_bad_inputs_are_one_line_each_and_the_rest_still_runs(fake_models, inputs, tmp_path, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "broken.mp4").write_text("not a video")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (folder / "table.xlsx").write_bytes(b"PK")
    out = tmp_path / "out"
    paths = [folder / "broken.mp4", folder / "missing.mov", folder / "table.xlsx", folder / "broken.jpg",
             inputs["video"]]  # fmt: skip
    code = cli.main([str(p) for p in paths] + ["-o", str(out), "--no-overlay", "--max-frames", "3"])
    errors = _errors(capsys)
    assert code == 1 and len(errors) == 4
    assert "broken.mp4: expected a video" in errors[0]
    assert "missing.mov: no such file" in errors[1]
    assert "table.xlsx: expected an image" in errors[2]
    assert "broken.jpg" in errors[3]
    assert {p.name for p in out.iterdir()} == {"walk.json"}  # nothing half-written, the good input done


def test_bad_options_exit_2(capsys):
    for args in (["x.mp4", "--keypoint-threshold", "2"], ["x.mp4", "--detect-every", "0"], ["x.mp4", "--model", "y"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(args)
        assert exit_info.value.code == 2
    assert cli.main(["x.mp4", "--device", "tpu"]) == 2
    assert "--device" in capsys.readouterr().err


def test_a_model_that_cannot_load_is_one_clear_line(inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("POSEKIT_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    empty = tmp_path / "weights"
    empty.mkdir()
    for model in cli.MODELS:
        code = cli.main([str(inputs["image"]), str(inputs["video"]), "-o", str(tmp_path / "out"),
                         "--model", model, "--weights-dir", str(empty), "--device", "cpu"])  # fmt: skip
        errors = _errors(capsys)
        assert code == 1 and len(errors) == 1  # stops at the first input: the next would fail alike
        assert "is unavailable" in errors[0] and "POSEKIT_WEIGHTS_DIR" in errors[0]


def test_takes_and_captures_are_recognised(inputs, tmp_path):
    take = tmp_path / "take.zip"
    with zipfile.ZipFile(take, "w") as z:
        z.writestr("meta.json", "{}")
        z.writestr("frames.bin", b"")
    other = tmp_path / "scan.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("rgb/0.jpg", b"")
    assert input_jobs(take) == [(take, "take")] and input_jobs(other) == [(other, "capture")]
    (tmp_path / "scan.r3d").write_bytes(b"")
    assert input_jobs(tmp_path / "scan.r3d") == [(tmp_path / "scan.r3d", "capture")]
    assert {kind for _, kind in input_jobs(inputs["images"])} == {"image"}
    assert input_jobs(inputs["video"]) == [(inputs["video"], "video")]


def test_take_is_exported_as_it_is(tmp_path, capsys):
    from generators.takes import make_take, write_zip

    take = write_zip(tmp_path / "PoseTake.zip", make_take(num_frames=12))
    assert cli.main([str(take), "-o", str(tmp_path / "out"), "--zip"]) == 0 and not _errors(capsys)
    seq = read_result(tmp_path / "out" / "PoseTake.json")
    assert seq.num_frames == 12 and seq.space_3d == "phone"
    with zipfile.ZipFile(tmp_path / "out" / "PoseTake.zip") as z:
        assert {"results.json", "keypoints.csv"} < set(z.namelist())


def _generic_capture(path: Path, frames: int = 6) -> Path:
    """A generic RGB-D ZIP: the drawn figure walking in front of a flat 2 m depth."""
    size = (200, 160)
    boxes = walking_boxes(frames, size)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("intrinsics.json", json.dumps({"fx": 180.0, "fy": 180.0, "cx": 100.0, "cy": 80.0,
                                                  "width": size[0], "height": size[1], "fps": 10}))  # fmt: skip
        for i in range(frames):
            z.writestr(f"color/{i:06d}.png", cv2.imencode(".png", draw_frame(size, boxes[i]))[1].tobytes())
            z.writestr(f"depth/{i:06d}.png", cv2.imencode(".png", np.full((40, 50), 2000, np.uint16))[1].tobytes())
    return path


def test_rgbd_capture_gets_metric_3d(fake_models, tmp_path, capsys):
    capture = _generic_capture(tmp_path / "scan.zip")
    assert cli.main([str(capture), "-o", str(tmp_path / "out"), "--model", "posekit"]) == 0 and not _errors(capsys)
    seq = read_result(tmp_path / "out" / "scan.json")
    assert seq.num_frames == 6 and seq.space_3d == "metric_depth"
    z = seq.keypoints_3d[..., 2]
    np.testing.assert_allclose(z[np.isfinite(z)], 2.0, atol=0.05)


def test_no_people_is_a_result_not_an_error(fake_models, tmp_path, capsys):
    blank = tmp_path / "blank.jpg"
    cv2.imwrite(str(blank), np.full((120, 160, 3), 60, np.uint8))
    assert cli.main([str(blank), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert capsys.readouterr().out == ""
    assert len(read_result(tmp_path / "out" / "blank.json")) == 0
