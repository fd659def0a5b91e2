"""Reference side of the end-to-end parity tests and benchmark: runs INSIDE the OpenMMLab reference venv.

OpenMMLab's own pipelines on checkpoints written by ``ref_build.py networks``: mmdet's
``inference_detector`` (with the person detector's test settings, as mmpose's RTMPose3D demo config sets
them) and mmpose's ``inference_topdown`` (GetBBoxCenterScale, TopdownAffine with cv2.warpAffine, the
model's data preprocessor, SimCC decoding, crop -> image mapping). mmpose's package has no RTMW3D codec
(it lives in ``projects/rtmpose3d``), so z is decoded here from ``cls_z`` as ``SimCC3DLabel.decode`` does;
x, y and scores come from mmpose's own 2D path, whose decoding of x and y is the same.

Commands (``$POSEKIT_REFERENCE_PYTHON tests/parity/ref_pipeline.py ...``)::

    crops    --images A.jpg ... --boxes BOXES.json --out OUT.npz
    pipeline --detector DET.pth --pose POSE.pth --images A.jpg ... --boxes BOXES.json --out OUT.npz
    bench    --detector DET.pth --pose POSE.pth --images A.jpg ... --boxes BOXES.json --repeat N --out R.json

``BOXES.json`` maps an image's file name to its person boxes ``[[x1, y1, x2, y2], ...]``. ``crops`` writes
``{name}:crops`` (M, 384, 288, 3) uint8 BGR, ``{name}:center``, ``{name}:scale``; ``pipeline`` writes, per
image, ``{name}:det_bboxes``, ``:det_scores``, ``:det_labels`` (detector) and ``:keypoints`` (M, 133, 2),
``:scores`` (M, 133), ``:z`` (M, 133) metres (pose at the given boxes); ``bench`` writes seconds per image
for the detector and per call of ``inference_topdown``, and the number of crops.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import ref_build
import torch

INPUT_SIZE = (288, 384)
Z_RANGE = 2.1744869
PERSON_TEST_CFG = dict(
    nms_pre=1000, min_bbox_size=0, score_thr=0.05, nms=dict(type="nms", iou_threshold=0.6), max_per_img=100
)


def _shim_pkg_resources() -> None:
    """``mmpose.apis`` imports mmengine's ``get_installed_path``, which needs ``pkg_resources``; recent
    setuptools no longer ship it. Two lookups over ``importlib.metadata`` are all it uses."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        import importlib.metadata
        import types

        class DistributionNotFound(Exception):
            pass

        def get_distribution(name: str) -> types.SimpleNamespace:
            try:
                dist = importlib.metadata.distribution(name)
            except importlib.metadata.PackageNotFoundError as exc:
                raise DistributionNotFound(name) from exc
            return types.SimpleNamespace(location=str(dist.locate_file("")), version=dist.version)

        shim = types.ModuleType("pkg_resources")
        shim.DistributionNotFound = DistributionNotFound
        shim.get_distribution = get_distribution
        sys.modules["pkg_resources"] = shim


def load_detector(path: str) -> torch.nn.Module:
    import mmdet.datasets  # noqa: F401 - registers mmdet's transforms
    from mmengine.config import ConfigDict
    from mmpose.utils import adapt_mmdet_pipeline

    model = ref_build.load_checkpoint(ref_build.build_reference("rtmdet-m"), path)
    model.bbox_head.test_cfg = ConfigDict(PERSON_TEST_CFG)
    model.cfg.model.test_cfg = PERSON_TEST_CFG
    model.cfg = adapt_mmdet_pipeline(model.cfg)  # as mmpose's demo and the RTMPose3D wrapper do
    return model


def load_pose(path: str) -> torch.nn.Module:
    model = ref_build.load_checkpoint(ref_build.build_reference("rtmw3d-l"), path)
    model.dataset_meta = {}
    return model


def detect(model: torch.nn.Module, image: np.ndarray) -> dict[str, np.ndarray]:
    from mmdet.apis import inference_detector

    pred = inference_detector(model, image).pred_instances.cpu().numpy()
    return {"det_bboxes": pred.bboxes, "det_scores": pred.scores, "det_labels": pred.labels}


def estimate(model: torch.nn.Module, image: np.ndarray, boxes: np.ndarray) -> dict[str, np.ndarray]:
    """mmpose's top-down inference, with z from ``cls_z`` on the GAU output of the same forward pass."""
    _shim_pkg_resources()
    from mmpose.apis import inference_topdown

    captured = []
    handle = model.head.gau.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        results = inference_topdown(model, image, boxes)
    finally:
        handle.remove()
    keypoints = np.concatenate([r.pred_instances.keypoints for r in results])
    scores = np.concatenate([r.pred_instances.keypoint_scores for r in results])
    with torch.no_grad():
        simcc_z = model.head.cls_z(captured[0]).numpy()
    z_bins = np.argmax(simcc_z, axis=-1).astype(np.float32)
    z_bins[scores <= 0] = -1
    z = (z_bins / 2.0 / (INPUT_SIZE[0] / 2) - 1) * Z_RANGE
    return {"keypoints": keypoints.astype(np.float32), "scores": scores.astype(np.float32), "z": z}


def crops(images: list[str], boxes: dict[str, list], out: str) -> None:
    from mmpose.datasets.transforms import GetBBoxCenterScale, TopdownAffine

    result = {}
    for path in images:
        name = Path(path).name
        image = cv2.imread(path)
        per_box = []
        for box in np.asarray(boxes[name], np.float32):
            data = {"img": image.copy(), "bbox": box[None], "bbox_score": np.ones(1, np.float32)}
            data = TopdownAffine(input_size=INPUT_SIZE)(GetBBoxCenterScale()(data))
            per_box.append((data["img"], data["input_center"], data["input_scale"]))
        result[f"{name}:crops"] = np.stack([p[0] for p in per_box])
        result[f"{name}:center"] = np.stack([p[1] for p in per_box])
        result[f"{name}:scale"] = np.stack([p[2] for p in per_box])
    np.savez(out, **result)


def pipeline(detector: str, pose: str, images: list[str], boxes: dict[str, list], out: str) -> None:
    det_model, pose_model = load_detector(detector), load_pose(pose)
    result = {}
    for path in images:
        name = Path(path).name
        image = cv2.imread(path)
        for key, value in detect(det_model, image).items():
            result[f"{name}:{key}"] = value
        for key, value in estimate(pose_model, image, np.asarray(boxes[name], np.float32)).items():
            result[f"{name}:{key}"] = value
    np.savez(out, **result)


def bench(detector: str, pose: str, images: list[str], boxes: dict[str, list], repeat: int, out: str) -> None:
    """Seconds per image of ``inference_detector`` and per image of ``inference_topdown`` (its boxes)."""
    det_model, pose_model = load_detector(detector), load_pose(pose)
    loaded = [(cv2.imread(p), np.asarray(boxes[Path(p).name], np.float32)) for p in images]
    image, box = loaded[0]
    detect(det_model, image)  # warm-up
    estimate(pose_model, image, box)
    det_times, pose_times = [], []
    for _ in range(repeat):
        for image, box in loaded:
            start = time.perf_counter()
            detect(det_model, image)
            det_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            estimate(pose_model, image, box)
            pose_times.append(time.perf_counter() - start)
    report = {
        "detector_s_per_image": float(np.median(det_times)),
        "pose_s_per_image": float(np.median(pose_times)),
        "det_total_s": float(np.sum(det_times)),
        "pose_total_s": float(np.sum(pose_times)),
        "crops": int(sum(len(b) for _, b in loaded) * repeat),
        "images": len(loaded) * repeat,
        "threads": torch.get_num_threads(),
    }
    Path(out).write_text(json.dumps(report, indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("crops", "pipeline", "bench"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--images", nargs="+", required=True)
        cmd.add_argument("--boxes", required=True)
        cmd.add_argument("--out", required=True)
        if name != "crops":
            cmd.add_argument("--detector", required=True)
            cmd.add_argument("--pose", required=True)
        if name == "bench":
            cmd.add_argument("--repeat", type=int, default=3)
            cmd.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    boxes = json.loads(Path(args.boxes).read_text())
    if args.command == "crops":
        crops(args.images, boxes, args.out)
    elif args.command == "pipeline":
        pipeline(args.detector, args.pose, args.images, boxes, args.out)
    else:
        if args.threads:
            torch.set_num_threads(args.threads)
        bench(args.detector, args.pose, args.images, boxes, args.repeat, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
