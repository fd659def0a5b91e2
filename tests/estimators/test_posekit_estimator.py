"""The PoseKit detector end to end: every weights format, the weights search, both framings, batching, bad
input, and a run on the real test images with random weights."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mlmodelc_writer import write_mlmodelc
from posekit_helpers import random_posekit_net, smooth_images

import posekit.estimators.posekit as detector_module
from posekit.estimators.posekit import APP_MODEL_FILES, UPSTREAM_COMMIT, PoseKit, load_network
from posekit.estimators.posekit_decode import decode
from posekit.estimators.posekit_framing import crop_transforms, invert_points, to_network_input, warp_images
from posekit.io.checkpoints import CheckpointError
from posekit.io.hub import WeightsNotFoundError
from posekit.io.images import ImageError
from posekit.models.posekit_net import PoseKitNet
from posekit.poses import Poses
from posekit.skeletons import POSEKIT_COCO17_2
from posekit.viz.drawing import draw_poses


@pytest.fixture(scope="module")
def net() -> PoseKitNet:
    return random_posekit_net(seed=4)


@pytest.fixture(scope="module")
def model(net: PoseKitNet) -> PoseKit:
    return PoseKit(copy.deepcopy(net))


@pytest.fixture(scope="module")
def weights(net: PoseKitNet, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The network in every format ``from_pretrained`` reads."""
    root = tmp_path_factory.mktemp("posekit_weights")
    state = net.state_dict()
    paths = {"raw.pth": root / "raw.pth", "safetensors": root / "net.safetensors"}
    torch.save(state, paths["raw.pth"])
    for key in ("model", "state_dict", "model_state", "net"):
        paths[f"{key}.pth"] = root / f"wrapped_{key}.pth"
        torch.save({key: state, "epoch": 3, "acc": 0.5}, paths[f"{key}.pth"])
    paths["last.pth"] = root / "last.pth"  # as upstream's Task.saveCheckpoint writes it
    optimizer = torch.optim.Adam(net.parameters())
    checkpoint = {
        "epoch": 9,
        "model": state,
        "optimizer": optimizer.state_dict(),
        "acc": 0.61,
        "cfg": {"lr": 0.1},
    }
    torch.save(checkpoint, paths["last.pth"])
    PoseKit(copy.deepcopy(net), fuse=False).save_pretrained(root / "saved")
    paths["safetensors"] = root / "saved" / "posekit.safetensors"
    paths["mlmodelc"] = write_mlmodelc(net, root / "pkmodel.mlmodelc")
    return paths


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    """A 320x240 BGR image with some structure."""
    rgb = smooth_images(1, seed=11)[0].permute(1, 2, 0).numpy().astype(np.uint8)
    return np.ascontiguousarray(cv2.resize(rgb, (320, 240))[..., ::-1])


def raw_outputs(module: torch.nn.Module | PoseKit, x: torch.Tensor) -> list[torch.Tensor]:
    if isinstance(module, PoseKit):
        return list(module.forward(x))
    with torch.no_grad():
        return list(module(x))


CHECKPOINTS = [
    "raw.pth",
    "model.pth",
    "state_dict.pth",
    "model_state.pth",
    "net.pth",
    "last.pth",
    "safetensors",
]


@pytest.mark.parametrize("fmt", CHECKPOINTS)
def test_checkpoints_load_exactly(net: PoseKitNet, weights: dict[str, Path], fmt: str) -> None:
    loaded = PoseKit.from_pretrained(weights[fmt], fuse=False)
    assert not loaded.net.fused
    want = net.state_dict()
    got = loaded.net.state_dict()
    assert list(got) == list(want)
    for key, value in want.items():
        torch.testing.assert_close(got[key], value, atol=0, rtol=0, msg=key)


def test_loaded_checkpoint_computes_what_the_network_does(net: PoseKitNet, weights: dict[str, Path]) -> None:
    loaded = PoseKit.from_pretrained(weights["last.pth"])
    x = smooth_images(1, seed=12)
    for want, got in zip(raw_outputs(net, x), raw_outputs(loaded, x), strict=True):
        torch.testing.assert_close(got, want, atol=1e-3, rtol=1e-3)


def test_core_ml_folder_loads_within_fp16(net: PoseKitNet, weights: dict[str, Path]) -> None:
    loaded = PoseKit.from_pretrained(weights["mlmodelc"])
    assert loaded.net.fused
    x = smooth_images(1, seed=12)
    for want, got in zip(raw_outputs(net, x), raw_outputs(loaded, x), strict=True):
        scale = max(want.abs().max().item(), 1)
        assert (got - want).abs().max() < 0.05 * scale and (got - want).abs().mean() < 0.005 * scale


def test_saved_folder_loads_and_fused_weights_save_too(
    net: PoseKitNet, weights: dict[str, Path], tmp_path: Path
) -> None:
    from_folder = PoseKit.from_pretrained(weights["safetensors"].parent)
    fused = PoseKit.from_pretrained(weights["mlmodelc"])
    again = PoseKit.from_pretrained(fused.save_pretrained(tmp_path))
    assert again.net.fused and not from_folder.net.fused
    x = smooth_images(1, seed=13)
    for a, b in zip(raw_outputs(fused, x), raw_outputs(again, x), strict=True):
        torch.testing.assert_close(b, a, atol=0, rtol=0)
    assert [p.name for p in tmp_path.iterdir()] == ["posekit.safetensors"]  # no temporary left behind


def test_weights_dir_is_searched_in_order(
    weights: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSEKIT_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("POSEKIT_OFFLINE", "1")
    shutil.copy(weights["raw.pth"], tmp_path / "e12_valacc0.41000.pth")
    shutil.copy(weights["raw.pth"], tmp_path / "e30_valacc0.52000.pth")
    assert detector_module.default_weights().name == "e30_valacc0.52000.pth"  # best accuracy
    shutil.copy(weights["last.pth"], tmp_path / "last.pth")
    assert detector_module.default_weights().name == "last.pth"
    shutil.copytree(weights["mlmodelc"], tmp_path / "pkmodel.mlmodelc")
    assert detector_module.default_weights().name == "pkmodel.mlmodelc"
    assert PoseKit.from_pretrained().net.fused


def test_no_weights_offline_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSEKIT_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("POSEKIT_OFFLINE", "1")
    with pytest.raises(
        WeightsNotFoundError,
        match=r"no PoseKit weights: looked in POSEKIT_WEIGHTS_DIR=.*"
        r"pkmodel\.mlmodelc.*offline.*Copy PoseKitApp/Sources/.*pkmodel\.mlmodelc",
    ):
        PoseKit.from_pretrained()
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.bin"))


def test_download_fetches_the_pinned_app_model(
    weights: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POSEKIT_WEIGHTS_DIR", raising=False)
    urls = []

    def fake_url_file(url: str, relative_path: str, sha256: str | None = None) -> Path:
        urls.append(url)
        name = relative_path.split("pkmodel.mlmodelc/")[1]
        target = tmp_path / relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        source = weights["mlmodelc"] / name
        target.write_bytes(source.read_bytes() if source.exists() else b"")
        return target

    monkeypatch.setattr(detector_module, "url_file", fake_url_file)
    loaded = PoseKit.from_pretrained()
    assert loaded.net.fused
    prefix = (
        f"https://raw.githubusercontent.com/surinrasu/PoseKit/{UPSTREAM_COMMIT}/"
        "PoseKitApp/Sources/PoseKitApp/Resources/Models/pkmodel.mlmodelc/"
    )
    assert urls == [prefix + name for name in APP_MODEL_FILES]


def test_bad_weights_are_clear_errors(net: PoseKitNet, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="missing.pth: weights not found"):
        PoseKit.from_pretrained(tmp_path / "missing.pth")
    (tmp_path / "corrupt.pth").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError, match="corrupt.pth: expected a PyTorch checkpoint"):
        PoseKit.from_pretrained(tmp_path / "corrupt.pth")
    torch.save({"conv.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="other.pth: does not fit PoseKitNet: .*missing keys"):
        PoseKit.from_pretrained(tmp_path / "other.pth")
    (tmp_path / "weights.onnx").write_bytes(b"x")
    with pytest.raises(CheckpointError, match=r"weights.onnx: expected a \.pth/\.pt or \.safetensors"):
        PoseKit.from_pretrained(tmp_path / "weights.onnx")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="empty: expected a .mlmodelc folder"):
        load_network(tmp_path / "empty")


def test_letterbox_gives_one_person_in_the_posekit_skeleton(model: PoseKit, image: np.ndarray) -> None:
    poses = model(image)
    assert isinstance(poses, Poses) and len(poses) == 1
    assert poses.skeleton is POSEKIT_COCO17_2 and poses.keypoints_2d.shape == (1, 19, 2)
    assert poses.keypoints_3d is None and poses.image_size == (320, 240)
    assert poses.meta["framing"] == "letterbox"
    xy = poses.keypoints_2d[0]
    assert (xy >= 0).all() and (xy[:, 0] <= 319).all() and (xy[:, 1] <= 239).all()  # clamped to the image
    valid = poses.scores[0] >= 0.1
    assert valid.any() and set(np.unique(poses.scores[0][~valid])) <= {0.0}
    np.testing.assert_allclose(poses.bboxes[0], [*xy[valid].min(0), *xy[valid].max(0)])
    assert 0 < poses.bbox_scores[0] <= 1  # the centre heatmap's peak


def test_derived_joints_are_midpoints(model: PoseKit, image: np.ndarray) -> None:
    poses = model(image, bboxes=np.array([[40, 30, 200, 220]]))
    xy, s = poses.keypoints_2d[0], poses.scores[0]
    np.testing.assert_allclose(xy[17], (xy[11] + xy[12]) / 2, atol=1e-4)
    np.testing.assert_allclose(xy[18], (xy[5] + xy[6]) / 2, atol=1e-4)
    assert s[17] == min(s[11], s[12]) and s[18] == min(s[5], s[6])


def test_box_crops_follow_the_manual_pipeline(model: PoseKit, net: PoseKitNet, image: np.ndarray) -> None:
    boxes = np.array([[40, 30, 200, 220], [150, 10, 310, 100], [0, 0, 20, 20]], np.float32)
    poses = model(image, bboxes=boxes)
    assert len(poses) == 3 and poses.meta["framing"] == "crop"
    np.testing.assert_array_equal(poses.bboxes, boxes)
    np.testing.assert_array_equal(poses.bbox_scores, [1, 1, 1])
    a = crop_transforms(boxes)
    with torch.no_grad():
        d = decode(*net(to_network_input(warp_images(image, a)).contiguous()))
    expected = invert_points(d.keypoints.double().numpy() * 192, a)
    np.testing.assert_allclose(poses.keypoints_2d[:, :17], expected, atol=0.02)
    np.testing.assert_allclose(poses.scores[:, :17], d.scores.numpy(), atol=2e-3)


def test_a_crop_equals_the_letterbox_of_the_same_pixels(model: PoseKit) -> None:
    # A box with w + h = 192 crops a 192x192 square at scale 1; letterboxing exactly that square is the same
    # network input, so the two framings must agree once shifted by the square's origin.
    big = np.random.default_rng(5).integers(0, 255, (300, 320, 3), dtype=np.uint8)
    big = cv2.GaussianBlur(big, (0, 0), 6)
    box = np.array([[100, 50, 196, 146]])  # square [52, 244] x [2, 194]
    from_crop = model(big, bboxes=box)
    from_letterbox = model(np.ascontiguousarray(big[2:194, 52:244]))
    crop_xy = np.clip(from_crop.keypoints_2d[0] - [52, 2], 0, 191)  # the letterbox clamps to its image
    np.testing.assert_allclose(crop_xy, from_letterbox.keypoints_2d[0], atol=1e-3)
    np.testing.assert_allclose(from_crop.scores, from_letterbox.scores, atol=1e-6)


def test_predict_batch_equals_single_calls(net: PoseKitNet, image: np.ndarray) -> None:
    model = PoseKit(copy.deepcopy(net), batch_size=2)  # forces several chunks
    other = np.ascontiguousarray(image[::-1, ::2])
    boxes = [np.array([[10, 10, 100, 200], [150, 20, 300, 230], [60, 60, 90, 90]]), None, np.zeros((0, 4))]
    batch = model.predict_batch([image, other, image], boxes)
    singles = [model(image, bboxes=boxes[0]), model(other), model(image, bboxes=boxes[2])]
    for got, want in zip(batch, singles, strict=True):
        assert len(got) == len(want)
        np.testing.assert_allclose(got.keypoints_2d, want.keypoints_2d, atol=1e-3)
        np.testing.assert_allclose(got.scores, want.scores, atol=1e-5)
    assert len(batch[2]) == 0 and batch[2].keypoints_2d.shape == (0, 19, 2)
    assert model.predict_batch([image])[0].meta["framing"] == "letterbox"


@pytest.mark.parametrize(
    ("image", "error", "message"),
    [
        (np.zeros((0, 0, 3), np.uint8), ImageError, "at least 2x2"),
        (np.zeros((1, 1, 3), np.uint8), ImageError, "at least 2x2 pixels, got 1x1"),
        (np.zeros((10, 10, 3), np.int64), ImageError, "expected pixel dtype uint8"),
        ("no/such/file.jpg", ImageError, "does not exist"),
    ],
)
def test_bad_images_are_clear_errors(model: PoseKit, image: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        model(image)


def test_bad_boxes_and_options_are_clear_errors(model: PoseKit, net: PoseKitNet, image: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"bboxes\[0\]: expected shape \(M, 4\)"):
        model(image, bboxes=np.zeros((2, 5)))
    with pytest.raises(ValueError, match="bboxes: expected one entry per image"):
        model.predict_batch([image, image], [None])
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        PoseKit(net, "cpu", precision="fp16")
    with pytest.raises(ValueError, match="runs in fp32, fp16, not bf16"):
        PoseKit(net, "cpu", precision="bf16")


def test_real_images_with_their_boxes(model: PoseKit, data_dir: Path, coco_boxes: dict[str, list[list[float]]]) -> None:
    names = sorted(coco_boxes)
    images = [cv2.imread(str(data_dir / "coco" / name)) for name in names]
    results = model.predict_batch(images, [np.array(coco_boxes[name]) for name in names])
    for name, img, poses in zip(names, images, results, strict=True):
        assert len(poses) == len(coco_boxes[name]) and poses.image_size == (img.shape[1], img.shape[0])
        assert np.isfinite(poses.keypoints_2d).all()
        drawn = draw_poses(img, poses, keypoint_threshold=0.1)
        assert drawn.shape == img.shape and (drawn != img).any()
    whole = model(data_dir / "coco" / names[0])  # a path, letterboxed
    assert len(whole) == 1 and whole.image_size == (images[0].shape[1], images[0].shape[0])
