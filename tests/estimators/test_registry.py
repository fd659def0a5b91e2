"""Models by name, and the one contract for device and precision that every estimator shares."""

from __future__ import annotations

import pytest
import torch

from posekit import cli
from posekit.estimators.base import DeviceUnavailableError, resolve_device, resolve_precision
from posekit.estimators.registry import ESTIMATORS, load_estimator, load_person_detector


def test_cli_and_app_offer_the_same_estimators():
    pytest.importorskip("gradio")
    from posekit.ui.models import MODEL_IDS

    assert cli.MODELS == ESTIMATORS
    assert set(MODEL_IDS.values()) == set(ESTIMATORS)


def test_unknown_name_is_refused():
    with pytest.raises(ValueError, match="expected one of"):
        load_estimator("rtmw3d-m", "cpu")


def test_precision_and_compile_reach_the_models(tmp_path, monkeypatch):
    from generators.weights import write_detector, write_posekit, write_rtmw3d

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
    assert posekit.compile and posekit.dtype == torch.float32


@pytest.mark.parametrize(
    ("name", "precision", "device", "message"),
    [
        ("rtmw3d-l", "fp16", "cpu", "fp16 needs a CUDA device"),
        ("posekit", "bf16", "cpu", "runs in fp32, fp16, not bf16"),
        ("rtmw3d-l", "int8", "cpu", "expected one of"),
    ],
)
def test_precision_a_model_cannot_run_is_refused_before_any_weights(name, precision, device, message):
    with pytest.raises(ValueError, match=message):
        load_estimator(name, device, precision)  # no weights anywhere: the precision is what is reported


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_every_estimator_says_the_same_when_cuda_is_missing():
    from posekit import PersonDetector, PoseKit, RTMPose3D

    calls = [
        lambda: RTMPose3D.from_pretrained("rbarac/rtmpose3d", device="cuda"),
        lambda: RTMPose3D.from_pretrained("rbarac/rtmpose3d", device="cuda:0"),
        lambda: PoseKit.from_pretrained(device="cuda"),
        lambda: PersonDetector.from_pretrained(device="cuda"),
        lambda: load_estimator("posekit", "cuda"),
    ]
    messages = []
    for call in calls:
        with pytest.raises(DeviceUnavailableError) as info:
            call()
        messages.append(str(info.value).split(": ", 1)[1])
    assert len(set(messages)) == 1 and "use device='cpu'" in messages[0]


def test_device_and_precision_names():
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    with pytest.raises(ValueError, match="expected 'auto', 'cpu', 'cuda' or 'cuda:N', got 'gpu0'"):
        resolve_device("gpu0")
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == torch.float32
    assert resolve_precision(torch.bfloat16, cpu) == torch.bfloat16
    assert resolve_precision("float32", cpu) == torch.float32


def test_cli_refuses_such_a_precision_before_reading_inputs(tmp_path, capsys):
    assert cli.main(["x.mp4", "-o", str(tmp_path), "--device", "cpu", "--precision", "fp16"]) == 2
    assert "fp16 needs a CUDA device" in capsys.readouterr().err
    assert cli.main(["x.mp4", "-o", str(tmp_path), "--model", "posekit", "--precision", "bf16"]) == 2
