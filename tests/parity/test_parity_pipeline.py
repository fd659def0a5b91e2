"""End-to-end parity with OpenMMLab: crops, keypoints at given boxes, and detections, on the real test images.

Both sides load the same random-weight checkpoints (``ref_build.py networks``: random BN statistics). Their
output layers are then rescaled here so that the outputs have the ranges of a trained model (detector
logits around -1 +- 1.5 and box distances of a few strides, pose logits of order 1): raw random heads give
logits in the thousands (every score saturates at 1.0, every box clips to the input), which would leave
NMS and the score comparison meaningless. The reference runs mmdet's ``inference_detector`` and mmpose's
``inference_topdown`` (``ref_pipeline.py``); posekit runs :class:`posekit.estimators.rtmpose3d.RTMPose3DInference`
as users do (BatchNorm folded, channels-last).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import reference
import torch

from posekit.estimators import topdown
from posekit.estimators.rtmdet_post import normalize_images, resize_and_pad
from posekit.estimators.rtmpose3d import RTMPose3DInference
from posekit.io.checkpoints import load_into, load_state_dict
from posekit.models.rtmdet import rtmdet_m
from posekit.models.rtmw3d import rtmw3d_l

pytestmark = [
    pytest.mark.parity,
    pytest.mark.skipif(reference.skip_reason() is not None, reason=str(reference.skip_reason())),
]

REF_PIPELINE = reference.HERE / "ref_pipeline.py"


@pytest.fixture(scope="module")
def images(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "coco").glob("*.jpg"))


def _capture_inputs(layers: list[torch.nn.Module], run) -> list[torch.Tensor]:  # noqa: ANN001
    seen: list[torch.Tensor] = [None] * len(layers)

    def hook(index: int):  # noqa: ANN202
        def keep(_module, inputs, _output):  # noqa: ANN001, ANN202
            seen[index] = inputs[0].detach()

        return keep

    handles = [layer.register_forward_hook(hook(i)) for i, layer in enumerate(layers)]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return seen


def _rescale(layer: torch.nn.Module, x: torch.Tensor, mean: float, std: float) -> None:
    """Scale a conv/linear output layer so that its outputs on ``x`` have this mean and spread."""
    with torch.no_grad():
        bias = layer.bias
        if bias is not None:
            layer.bias = None
        y = layer(x)
        a = std / float(y.std())
        layer.weight.mul_(a)
        if bias is not None:
            bias.copy_(torch.full_like(bias, mean - a * float(y.mean())))
            layer.bias = bias


@pytest.fixture(scope="module")
def checkpoints(reference_networks, images, tmp_path_factory) -> dict[str, Path]:  # noqa: ANN001
    """The reference checkpoints with trained-like output ranges, as mmengine-style files for both sides."""
    out = tmp_path_factory.mktemp("pipeline_checkpoints")
    image = cv2.imread(str(images[0]))

    det_path = reference_networks["rtmdet-m"].checkpoint
    det = rtmdet_m()
    load_into(det, load_state_dict(det_path), det_path)
    batch = normalize_images(torch.from_numpy(resize_and_pad(image)[0])[None])
    head = det.bbox_head
    cls_in = _capture_inputs(list(head.rtm_cls), lambda: det(batch))
    reg_in = _capture_inputs(list(head.rtm_reg), lambda: det(batch))
    for level in range(len(head.rtm_cls)):
        _rescale(head.rtm_cls[level], cls_in[level], mean=-1.0, std=1.5)
        _rescale(head.rtm_reg[level], reg_in[level], mean=1.5, std=0.5)

    pose_path = reference_networks["rtmw3d-l"].checkpoint
    pose = rtmw3d_l()
    load_into(pose, load_state_dict(pose_path), pose_path)
    crops, _, _ = topdown.prepare_crops(torch.from_numpy(image), np.array([[50.0, 40.0, 300.0, 420.0]]))
    layers = [pose.head.cls_x, pose.head.cls_y, pose.head.cls_z]
    for layer, x in zip(layers, _capture_inputs(layers, lambda: pose(crops)), strict=True):
        _rescale(layer, x, mean=0.0, std=0.5)

    paths = {"detector": out / "rtmdet-m.pth", "pose": out / "rtmw3d-l.pth"}
    for name, model in (("detector", det), ("pose", pose)):
        state = {k: v.clone() for k, v in model.state_dict().items()}
        torch.save({"state_dict": state, "meta": {"note": "parity test weights"}}, paths[name])
    return paths


@pytest.fixture(scope="module")
def boxes(coco_boxes) -> dict[str, list[list[float]]]:  # noqa: ANN001
    return coco_boxes


@pytest.fixture(scope="module")
def reference_pipeline(checkpoints, images, boxes, tmp_path_factory) -> np.lib.npyio.NpzFile:  # noqa: ANN001
    out = tmp_path_factory.mktemp("reference_pipeline")
    (out / "boxes.json").write_text(json.dumps(boxes))
    reference.run_reference(
        REF_PIPELINE, "pipeline", "--detector", str(checkpoints["detector"]),
        "--pose", str(checkpoints["pose"]), "--images", *map(str, images),
        "--boxes", str(out / "boxes.json"), "--out", str(out / "ref.npz"),
    )  # fmt: skip
    return np.load(out / "ref.npz")


@pytest.fixture(scope="module")
def model(checkpoints) -> RTMPose3DInference:  # noqa: ANN001
    return RTMPose3DInference(
        detector_checkpoint=checkpoints["detector"], pose_checkpoint=checkpoints["pose"], device="cpu"
    )


def test_crops_are_bit_identical_to_mmpose(images, boxes, tmp_path):
    rng = np.random.default_rng(0)
    all_boxes = {}
    for path in images:
        h, w = cv2.imread(str(path)).shape[:2]
        xy = rng.uniform([-0.3 * w, -0.3 * h], [w, h], (6, 2))
        wh = rng.uniform([2, 2], [1.2 * w, 1.2 * h], (6, 2))
        all_boxes[path.name] = boxes[path.name] + np.concatenate([xy, xy + wh], 1).tolist()
    (tmp_path / "boxes.json").write_text(json.dumps(all_boxes))
    reference.run_reference(
        REF_PIPELINE, "crops", "--images", *map(str, images), "--boxes", str(tmp_path / "boxes.json"),
        "--out", str(tmp_path / "crops.npz"),
    )  # fmt: skip
    ref = np.load(tmp_path / "crops.npz")
    for path in images:
        image = torch.from_numpy(cv2.imread(str(path)))
        center, scale = topdown.bbox_to_center_scale(np.array(all_boxes[path.name]))
        np.testing.assert_array_equal(center, ref[f"{path.name}:center"])
        np.testing.assert_array_equal(scale, ref[f"{path.name}:scale"])
        crops = topdown.warp_affine(image, topdown.warp_matrices(center, scale)).numpy()
        np.testing.assert_array_equal(crops, ref[f"{path.name}:crops"], err_msg=path.name)


def test_keypoints_at_given_boxes_match_mmpose(model, reference_pipeline, images, boxes):
    for path in images:
        poses = model(cv2.imread(str(path)), bboxes=boxes[path.name])
        ref_kp = reference_pipeline[f"{path.name}:keypoints"]
        ref_scores = reference_pipeline[f"{path.name}:scores"]
        z_rel = poses.keypoints_3d[..., 2] - poses.meta["root_depth"]
        assert np.abs(poses.keypoints_2d - ref_kp).max() <= 0.05, path.name
        assert np.abs(poses.scores - ref_scores).max() <= 1e-3, path.name
        assert np.abs(z_rel - reference_pipeline[f"{path.name}:z"]).max() <= 1e-3, path.name
        assert np.ptp(ref_scores) > 0.1  # the rescaled head gives informative scores


def test_detections_match_mmdet(model, reference_pipeline, images):
    from posekit.processing.tracking import box_iou

    for path in images:
        found, scores = model.person_detector(cv2.imread(str(path)))
        ref_boxes = reference_pipeline[f"{path.name}:det_bboxes"]
        ref_scores = reference_pipeline[f"{path.name}:det_scores"]
        assert (reference_pipeline[f"{path.name}:det_labels"] == 0).all()
        assert found.shape == ref_boxes.shape, path.name
        assert len(found) > 1 and np.unique(ref_scores).size > len(ref_scores) // 2  # scores not saturated
        # The same boxes with the same scores: coordinates agree to float32 noise amplified through the random
        # network and exp() of the box head (hundredths of a pixel), which also differs with the CPU's conv
        # kernels. That noise can reorder two boxes of nearly equal score, or swap which of two nearly equal
        # boxes NMS keeps at the 100-box cut: each reference box is matched to the found box it overlaps most.
        iou = box_iou(ref_boxes.astype(np.float64), found.astype(np.float64))
        match = iou.argmax(axis=1)
        matched = iou.max(axis=1) >= 0.99
        assert matched.mean() >= 0.95, f"{path.name}: {int((~matched).sum())} of {len(matched)} boxes unmatched"
        np.testing.assert_allclose(found[match[matched]], ref_boxes[matched], atol=0.1, err_msg=path.name)
        np.testing.assert_allclose(scores[match[matched]], ref_scores[matched], atol=1e-4, err_msg=path.name)
        top = min(10, len(found))  # the people a user sees: same boxes, same order
        np.testing.assert_array_equal(match[:top], np.arange(top), err_msg=path.name)
