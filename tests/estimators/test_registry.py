"""Models by name, shared by the CLI and the app (loading real weights is tested through both)."""

from __future__ import annotations

import pytest

from posekit import cli
from posekit.estimators.registry import ESTIMATORS, load_estimator


def test_cli_and_app_offer_the_same_estimators():
    pytest.importorskip("gradio")
    from posekit.ui.models import DEFAULT_LOADERS

    assert cli.MODELS == ESTIMATORS
    assert {loader.args[0] for loader in DEFAULT_LOADERS.values()} == set(ESTIMATORS)


def test_unknown_name_is_refused():
    with pytest.raises(ValueError, match="expected one of"):
        load_estimator("rtmw3d-m", "cpu")


def test_precision_and_compile_reach_the_models(tmp_path, monkeypatch):
    import torch
    from generators.weights import write_detector, write_posekit, write_rtmw3d

    from posekit.estimators.registry import load_person_detector

    write_detector(tmp_path)
    write_rtmw3d(tmp_path)
    write_posekit(tmp_path)
    monkeypatch.setenv("POSEKIT_WEIGHTS_DIR", str(tmp_path))
    model = load_estimator("rtmw3d-l", "cpu", "bf16", compile=True)
    assert model.dtype == torch.bfloat16 and model.pose_runner.compile
    assert model.person_detector.runner.dtype == torch.bfloat16
    assert load_estimator("rtmw3d-l", "cpu").dtype == torch.float32
    assert load_person_detector("cpu", "bf16").runner.dtype == torch.bfloat16
    posekit = load_estimator("posekit", "cpu", "fp32", compile=True)
    assert posekit.optimize == "compile" and posekit.dtype == torch.float32


@pytest.mark.parametrize(
    ("name", "precision", "device", "message"),
    [
        ("rtmw3d-l", "fp16", "cpu", "fp16 needs a CUDA device"),
        ("posekit", "bf16", "cpu", "PoseKit model runs in fp32 or fp16"),
        ("rtmw3d-l", "int8", "cpu", "expected one of"),
    ],
)
def test_precision_a_model_cannot_run_is_refused(name, precision, device, message):
    with pytest.raises(ValueError, match=message):
        load_estimator(name, device, precision)


def test_cli_refuses_such_a_precision_before_reading_inputs(tmp_path, capsys):
    assert cli.main(["x.mp4", "-o", str(tmp_path), "--device", "cpu", "--precision", "fp16"]) == 2
    assert "fp16 needs a CUDA device" in capsys.readouterr().err
    assert cli.main(["x.mp4", "-o", str(tmp_path), "--model", "posekit", "--precision", "bf16"]) == 2
