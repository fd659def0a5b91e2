"""The RTMPose3D API on random weights written as upstream (mmengine-style) checkpoint files.

The detector's weights are rigged so that it finds exactly one box (the whole letterboxed input: all
stride-32 locations score 0.95 with distances that clip to the input, NMS keeps one), so that each call
runs one RTMW3D crop. Models are built once per module; loading paths each build their own.
"""

from __future__ import annotations

import collections
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posekit.coords import camera_to_seed, project
from posekit.estimators.detector import DETECTOR_FILE, PersonDetector, resolve_checkpoint
from posekit.estimators.rtmpose3d import POSE_FILES, RTMPose3D, RTMPose3DInference, clear_cache
from posekit.io import hub
from posekit.io.checkpoints import CheckpointError
from posekit.io.images import ImageError
from posekit.models.rtmdet import rtmdet_m
from posekit.models.rtmw3d import rtmw3d_l, rtmw3d_x
from posekit.poses import Poses
from posekit.skeletons import COCO_WHOLEBODY

REPO = "rbarac/rtmpose3d"


class HistoryBuffer:
    """Stands for the mmengine objects in a real checkpoint's ``meta`` (a weights-only load refuses them)."""

    def __init__(self) -> None:
        self.values = np.arange(3.0)


def save_mmengine_style(module: torch.nn.Module, path: Path) -> Path:
    meta = {"mmengine_version": "0.10.7", "seed": np.int64(0), "history": HistoryBuffer()}
    state = collections.OrderedDict((k, v.detach().clone()) for k, v in module.state_dict().items())
    torch.save({"meta": meta, "state_dict": state, "message_hub": {"epoch": 1}}, path)
    return path


def rigged_detector() -> torch.nn.Module:
    model = rtmdet_m()
    head = model.bbox_head
    with torch.no_grad():
        for level, (cls, reg) in enumerate(zip(head.rtm_cls, head.rtm_reg, strict=True)):
            cls.weight.zero_()
            cls.bias.fill_(3.0 if level == 2 else -10.0)  # only stride 32 fires, score sigmoid(3) = 0.95
            reg.weight.zero_()
            reg.bias.fill_(5.0)  # exp(5) * 32 = 4749 px: every box clips to the whole 640 x 640 input
    return model


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    save_mmengine_style(rigged_detector(), folder / DETECTOR_FILE)
    save_mmengine_style(rtmw3d_l(), folder / POSE_FILES["l"])
    return folder


@pytest.fixture()
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No weights folder, offline hub with an empty cache: only explicit files can load."""
    monkeypatch.delenv(hub.WEIGHTS_DIR_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path / "posekit-cache"))
    return tmp_path / "hf-cache"


@pytest.fixture(scope="module")
def model(weights: Path) -> RTMPose3DInference:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(hub.WEIGHTS_DIR_ENV, str(weights))
        return RTMPose3D.from_pretrained(REPO, device="cpu")


@pytest.fixture(scope="module")
def image(data_dir: Path) -> np.ndarray:
    return cv2.imread(str(data_dir / "coco" / "000000000785.jpg"))


BOX = [60.0, 30.0, 330.0, 420.0]


@pytest.fixture(scope="module")
def boxed(model: RTMPose3DInference, image: np.ndarray) -> Poses:
    """One person at a given box: the reference the other calls are compared with."""
    return model(image, bboxes=[BOX])


def test_detects_and_returns_poses_in_the_library_convention(model, image):
    poses = model(image)
    h, w = image.shape[:2]
    assert isinstance(poses, Poses) and len(poses) == 1 and poses.skeleton is COCO_WHOLEBODY
    assert poses.keypoints_2d.shape == (1, 133, 2) and poses.keypoints_3d.shape == (1, 133, 3)
    assert poses.space_3d == "model" and poses.image_size == (w, h)
    scale = 640 / max(h, w)
    np.testing.assert_allclose(poses.bboxes, [[0, 0, 640 / scale, 640 / scale]], rtol=1e-5)
    np.testing.assert_allclose(poses.bbox_scores, [1 / (1 + np.exp(-3.0))], rtol=1e-5)
    fx, fy, cx, cy = poses.meta["intrinsics"]
    assert (fx, fy) == (1145.04940459, 1143.78109572) and (cx, cy) == (w / 2, h / 2)
    assert poses.meta["root_depth"] == 5.14388 and poses.meta["model"] == "rtmw3d-l"
    z_rel = poses.keypoints_3d[..., 2] - poses.meta["root_depth"]
    assert np.abs(z_rel).max() <= 2.1744869 * 1.01
    np.testing.assert_allclose(project(poses.keypoints_3d, poses.meta["intrinsics"]), poses.keypoints_2d, atol=1e-3)
    json.dumps(poses.meta)


def test_return_tensors_gives_the_seed_dict(model, image, boxed):
    out = model(image, bboxes=[BOX], return_tensors="np")
    assert list(out) == ["keypoints_3d", "keypoints_2d", "scores", "bboxes"]
    np.testing.assert_allclose(out["keypoints_3d"], camera_to_seed(boxed.keypoints_3d), rtol=1e-6)
    np.testing.assert_array_equal(out["keypoints_2d"], boxed.keypoints_2d)
    pt = model(image, bboxes=np.zeros((0, 4)), return_tensors="pt")
    assert isinstance(pt["scores"], torch.Tensor) and pt["scores"].shape == (0, 133)
    with pytest.raises(ValueError, match="return_tensors"):
        model(image, bboxes=[BOX], return_tensors="tf")


def test_given_boxes_skip_the_detector_and_single_person_takes_the_largest(model, image, monkeypatch):
    def no_detector(images):
        raise AssertionError("the detector must not run when boxes are given")

    monkeypatch.setattr(model.person_detector, "detect_batch", no_detector)
    boxes = [[0, 0, 50, 50], BOX, [20, 20, 100, 100]]
    poses = model(image, bboxes=boxes, single_person=True)
    assert poses.bboxes.tolist() == [BOX] and poses.bbox_scores.tolist() == [1.0]
    assert len(model(image, bboxes=np.zeros((0, 4)))) == 0


def test_nobody_gives_empty_arrays(model, image):
    poses = model(image, bbox_thr=0.99)
    assert len(poses) == 0 and poses.keypoints_3d.shape == (0, 133, 3)
    out = poses.to_dict()
    assert out["keypoints_3d"].shape == (0, 133, 3) and out["keypoints_2d"].shape == (0, 133, 2)
    assert out["scores"].shape == (0, 133) and out["bboxes"].shape == (0, 4)


def test_camera_and_root_depth_place_the_skeleton(model, image, boxed):
    camera = (500.0, 510.0, 300.0, 200.0)
    placed = model(image, bboxes=[BOX], camera=camera, root_depth=2.0)
    z_rel = boxed.keypoints_3d[..., 2] - 5.14388
    np.testing.assert_allclose(placed.keypoints_3d[..., 2], z_rel + 2.0, atol=1e-5)
    np.testing.assert_allclose(project(placed.keypoints_3d, camera), placed.keypoints_2d, atol=1e-3)
    assert placed.meta["intrinsics"] == list(camera) and placed.meta["root_depth"] == 2.0
    two = model(image, bboxes=[BOX, BOX], root_depth=[1.5, 3.0])
    np.testing.assert_allclose(two.keypoints_3d[1, :, 2] - two.keypoints_3d[0, :, 2], 1.5, atol=1e-5)
    assert two.meta["root_depth"] == [1.5, 3.0]
    with pytest.raises(ValueError, match="camera"):
        model(image, bboxes=[BOX], camera=(0, 1, 2))
    with pytest.raises(ValueError, match="root_depth"):
        model(image, bboxes=[BOX], root_depth=[1.0, 2.0, 3.0])


def test_predict_batch_equals_single_calls(model, image, boxed):
    flipped = np.ascontiguousarray(image[:, ::-1])
    batch = model.predict_batch([image, flipped], [np.array([BOX]), None])
    assert [len(p) for p in batch] == [1, 1]
    np.testing.assert_allclose(batch[0].keypoints_2d, boxed.keypoints_2d, atol=1e-3)
    np.testing.assert_allclose(batch[0].scores, boxed.scores, atol=1e-4)
    with pytest.raises(ValueError, match="one entry"):
        model.predict_batch([image], [None, None])


def test_bad_inputs_get_clear_errors(model, image):
    with pytest.raises(ValueError, match=r"\(M, 4\)"):
        model(image, bboxes=[[1, 2, 3]])
    with pytest.raises(ValueError, match="x2 > x1"):
        model(image, bboxes=[[10, 10, 5, 50]])
    with pytest.raises(ValueError, match="finite"):
        model(image, bboxes=[[0, 0, np.nan, 5]])
    with pytest.raises(ImageError):
        model(np.zeros((5, 5, 7), np.uint8))
    with pytest.raises(ValueError, match="model_size"):
        RTMPose3DInference(model_size="m")
    with pytest.raises(ValueError, match="dtype"):
        model.to(precision="int8")


def test_modules_keep_checkpoint_keys(model, weights):
    from posekit.io.checkpoints import load_state_dict

    assert list(model.pose_model.state_dict()) == list(load_state_dict(weights / POSE_FILES["l"]))
    assert set(model.detector.state_dict()) == set(load_state_dict(weights / DETECTOR_FILE))
    assert "RTMPose3DInference" not in repr(model) and "model_size='l'" in repr(model)


def test_bf16_mode_runs(model, image, boxed):
    model.to(precision="bf16")
    try:
        assert model.dtype == torch.bfloat16
        bf16 = model(image, bboxes=[BOX])
    finally:
        model.to(precision="fp32")
    assert bf16.keypoints_2d.shape == boxed.keypoints_2d.shape
    assert np.isfinite(bf16.keypoints_3d).all()


def test_save_pretrained_reloads_offline(model, image, boxed, offline, tmp_path):
    folder = model.save_pretrained(tmp_path / "saved")
    config = json.loads((folder / "config.json").read_text())
    assert config["model_size"] == "l" and not list(folder.glob(".*"))
    again = RTMPose3D.from_pretrained(folder, device="cpu")
    np.testing.assert_allclose(again(image, bboxes=[BOX]).keypoints_2d, boxed.keypoints_2d)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json"):
        RTMPose3D.from_pretrained(folder)


def test_loads_from_an_offline_hub_cache(weights, offline, monkeypatch):
    snapshot = offline / "models--rbarac--rtmpose3d" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (offline / "models--rbarac--rtmpose3d" / "refs").mkdir()
    (offline / "models--rbarac--rtmpose3d" / "refs" / "main").write_text("0123abcd")
    for name in (DETECTOR_FILE, POSE_FILES["l"]):
        (snapshot / name).symlink_to(weights / name)
    m = RTMPose3DInference(device="cpu", cache_dir=offline)
    assert m.checkpoints["pose"] == snapshot / POSE_FILES["l"]
    assert m.clear_cache() == [offline / "models--rbarac--rtmpose3d"]
    assert not (offline / "models--rbarac--rtmpose3d").exists() and (weights / DETECTOR_FILE).exists()
    assert clear_cache(offline) == []


def test_loads_from_a_folder_or_a_file(weights, offline, monkeypatch):
    m = RTMPose3D.from_pretrained(weights, device="cpu")
    assert m.checkpoints == {"detector": weights / DETECTOR_FILE, "pose": weights / POSE_FILES["l"]}
    monkeypatch.setenv(hub.WEIGHTS_DIR_ENV, str(weights))  # the detector of a lone pose file comes from here
    m = RTMPose3D.from_pretrained(weights / POSE_FILES["l"])
    assert m.checkpoints["detector"] == weights / DETECTOR_FILE
    detector = PersonDetector.from_pretrained(weights, device="cpu")
    assert list(detector.model.state_dict()) == list(m.detector.state_dict())


def test_missing_truncated_and_mismatched_checkpoints(weights, offline, tmp_path):
    with pytest.raises(hub.WeightsNotFoundError, match=POSE_FILES["x"]):
        RTMPose3DInference(model_size="x", detector_checkpoint=weights / DETECTOR_FILE, cache_dir=offline)
    with pytest.raises(hub.WeightsNotFoundError, match=DETECTOR_FILE):
        RTMPose3D.from_pretrained(REPO, cache_dir=offline)
    with pytest.raises(hub.WeightsNotFoundError, match="holds|hold"):
        resolve_checkpoint(tmp_path, DETECTOR_FILE)
    with pytest.raises(hub.WeightsNotFoundError, match="no such file"):
        resolve_checkpoint(tmp_path / "nope.pth", DETECTOR_FILE)
    data = (weights / DETECTOR_FILE).read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="cut.pth"):
        PersonDetector.from_pretrained(tmp_path / "cut.pth")
    with pytest.raises(CheckpointError, match=f"{DETECTOR_FILE}: does not fit RTMW3D"):
        RTMPose3DInference(detector_checkpoint=weights / DETECTOR_FILE, pose_checkpoint=weights / DETECTOR_FILE)


def test_model_size_x_loads_and_runs_one_crop(weights, offline, tmp_path, image):
    folder = tmp_path / "x"
    folder.mkdir()
    save_mmengine_style(rtmw3d_x(), folder / POSE_FILES["x"])
    shutil.copy(weights / DETECTOR_FILE, folder / DETECTOR_FILE)
    m = RTMPose3D.from_pretrained(folder, model_size="x", device="cpu")
    poses = m(image, bboxes=[BOX])
    assert poses.meta["model"] == "rtmw3d-x" and poses.keypoints_3d.shape == (1, 133, 3)
