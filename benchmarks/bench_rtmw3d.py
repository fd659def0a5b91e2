"""Throughput of the RTMPose3D pipeline (RTMDet-M + RTMW3D-L) on the CPU, next to mmpose's own.

For each test image (tests/data/coco, with its COCO person boxes): the detector on the image, and RTMW3D on
the image's given boxes (so both sides estimate the same crops whatever the detector finds). Reported:
images/s (detector + pose of the image's people) and person crops/s (pose alone), medians over
``--repeat`` passes, for posekit in float32 and bfloat16 (autocast), and for mmpose/mmdet's
``inference_detector`` + ``inference_topdown`` in the reference venv (``$POSEKIT_REFERENCE_PYTHON``) on the
same checkpoints, with the ratio. With CUDA, a float16 section gives crops/s at batch 1, 8 and 32.

Weights: ``--weights DIR`` with the upstream files (trained), else random-weight checkpoints written by the
reference venv (``tests/parity/ref_build.py``; same cost per crop, but then only speed is meaningful, and
the bf16-vs-fp32 keypoint difference is not).

Usage::

    POSEKIT_REFERENCE_PYTHON=/path/to/refvenv/bin/python python benchmarks/bench_rtmw3d.py [--repeat 3]
        [--threads N] [--weights DIR] [--ablation] [--no-reference]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "parity"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import reference  # noqa: E402
from coco_data import person_boxes  # noqa: E402

from posekit.estimators.detector import DETECTOR_FILE  # noqa: E402
from posekit.estimators.rtmpose3d import POSE_FILES, RTMPose3DInference  # noqa: E402

DATA = ROOT / "tests" / "data" / "coco"


def checkpoints(args: argparse.Namespace, work: Path) -> dict[str, Path]:
    if args.weights:
        folder = Path(args.weights)
        return {"detector": folder / DETECTOR_FILE, "pose": folder / POSE_FILES["l"]}
    if reference.skip_reason():
        sys.exit(f"no --weights and no reference venv to write random ones: {reference.skip_reason()}")
    nets = reference.reference_networks(work / "nets", models=("rtmw3d-l", "rtmdet-m"))
    return {"detector": nets["rtmdet-m"].checkpoint, "pose": nets["rtmw3d-l"].checkpoint}


def time_posekit(model: RTMPose3DInference, images: list[tuple[np.ndarray, np.ndarray]], repeat: int) -> dict:
    for image, boxes in images:  # warm-up: folded copies built, every batch size compiled if asked
        model.person_detector(image)
        model(image, bboxes=boxes)
    det, pose = [], []
    for _ in range(repeat):
        for image, boxes in images:
            start = time.perf_counter()
            model.person_detector(image)
            det.append(time.perf_counter() - start)
            start = time.perf_counter()
            model(image, bboxes=boxes)
            pose.append(time.perf_counter() - start)
    return summarize(det, pose, sum(len(b) for _, b in images) * repeat, len(images) * repeat)


def summarize(det: list[float], pose: list[float], crops: int, images: int) -> dict:
    return {
        "images_per_s": images / (sum(det) + sum(pose)),
        "crops_per_s": crops / sum(pose),
        "detector_ms": 1000 * float(np.median(det)),
        "pose_ms_per_crop": 1000 * sum(pose) / crops,
    }


def time_reference(paths: dict[str, Path], boxes_json: Path, repeat: int, threads: int, work: Path) -> dict:
    out = work / "mmpose.json"
    reference.run_reference(
        reference.HERE / "ref_pipeline.py", "bench", "--detector", str(paths["detector"]),
        "--pose", str(paths["pose"]), "--images", *map(str, sorted(DATA.glob("*.jpg"))),
        "--boxes", str(boxes_json), "--repeat", str(repeat), "--threads", str(threads), "--out", str(out),
    )  # fmt: skip
    r = json.loads(out.read_text())
    return {
        "images_per_s": r["images"] / (r["det_total_s"] + r["pose_total_s"]),
        "crops_per_s": r["crops"] / r["pose_total_s"],
        "detector_ms": 1000 * r["detector_s_per_image"],
        "pose_ms_per_crop": 1000 * r["pose_total_s"] / r["crops"],
    }


def keypoint_gap(a: RTMPose3DInference, b: RTMPose3DInference, images: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Largest 2D keypoint distance (px) between two models on the images' boxes."""
    gaps = [
        np.linalg.norm(a(im, bboxes=bx).keypoints_2d - b(im, bboxes=bx).keypoints_2d, axis=-1).max()
        for im, bx in images
    ]
    return float(max(gaps))


def cuda_section(paths: dict[str, Path], images: list[tuple[np.ndarray, np.ndarray]], repeat: int) -> None:
    model = RTMPose3DInference(
        detector_checkpoint=paths["detector"], pose_checkpoint=paths["pose"], device="cuda", dtype="fp16"
    )
    image, boxes = images[0]
    print("\nCUDA float16 (autocast), RTMW3D-L, end-to-end crops (warp + network + decode):")
    for batch in (1, 8, 32):
        model.pose_batch_size = batch
        frames, frame_boxes = [image] * batch, [boxes[:1]] * batch
        model.predict_batch(frames, frame_boxes)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeat * 5):
            model.predict_batch(frames, frame_boxes)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        print(f"  batch {batch:2d}: {batch * repeat * 5 / seconds:8.1f} crops/s")
    start = time.perf_counter()
    for _ in range(repeat * 5):
        model.person_detector(image)
    torch.cuda.synchronize()
    print(f"  RTMDet-M: {repeat * 5 / (time.perf_counter() - start):8.1f} images/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--weights", help="folder with the upstream checkpoint files (default: random weights)")
    parser.add_argument(
        "--ablation", action="store_true", help="also fp32 without BN folding / channels-last, compiled"
    )
    parser.add_argument("--no-reference", action="store_true", help="skip mmpose")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    boxes = person_boxes(DATA)
    images = [(cv2.imread(str(DATA / n)), np.array(b, np.float32)) for n, b in sorted(boxes.items())]
    crops = sum(len(b) for _, b in images)
    print(f"{len(images)} images, {crops} person crops, CPU threads {args.threads}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        paths = checkpoints(args, work)
        (work / "boxes.json").write_text(json.dumps(boxes))
        rows: dict[str, dict] = {}
        if not args.no_reference and not reference.skip_reason():
            rows["mmpose 1.3.2 / mmdet 3.3 (fp32)"] = time_reference(
                paths, work / "boxes.json", args.repeat, args.threads, work
            )
        configs = {"posekit fp32": {"dtype": "fp32"}, "posekit bf16 (autocast)": {"dtype": "bf16"}}
        if args.ablation:
            configs |= {
                "posekit fp32, BN not folded, NCHW": {"dtype": "fp32", "fuse": False, "channels_last": False},
                "posekit fp32, BN folded, NCHW": {"dtype": "fp32", "channels_last": False},
                "posekit fp32, torch.compile (freezing)": {"dtype": "fp32", "compile": True},
            }
        models = {}
        for name, options in configs.items():
            models[name] = RTMPose3DInference(
                detector_checkpoint=paths["detector"], pose_checkpoint=paths["pose"], device="cpu", **options
            )
            rows[name] = time_posekit(models[name], images, args.repeat)
            if name != "posekit fp32":
                del models[name]
        base = rows.get("mmpose 1.3.2 / mmdet 3.3 (fp32)")
        print(
            f"\n{'':36s} {'images/s':>9s} {'crops/s':>8s} {'det ms':>8s} {'ms/crop':>8s} {'x mmpose (img, crop)':>22s}"
        )
        for name, r in rows.items():
            ratio = (
                f"{r['images_per_s'] / base['images_per_s']:.2f}x, {r['crops_per_s'] / base['crops_per_s']:.2f}x"
                if base
                else "-"
            )
            print(
                f"{name:36s} {r['images_per_s']:9.2f} {r['crops_per_s']:8.2f} {r['detector_ms']:8.1f} "
                f"{r['pose_ms_per_crop']:8.1f} {ratio:>22s}"
            )
        bf16 = RTMPose3DInference(
            detector_checkpoint=paths["detector"], pose_checkpoint=paths["pose"], device="cpu", dtype="bf16"
        )
        gap = keypoint_gap(models["posekit fp32"], bf16, images)
        kind = "trained weights" if args.weights else "random weights: not meaningful, pass --weights"
        print(f"\nmax |keypoint bf16 - fp32| on the test images: {gap:.2f} px ({kind})")
        if torch.cuda.is_available():
            cuda_section(paths, images, args.repeat)
        else:
            print("\nCUDA: not available here (the float16 batch 1/8/32 section runs where it is)")
    env = f"{reference.ENV_VAR}={shlex.quote(reference.reference_python() or '/path/to/refvenv/bin/python')} "
    print("\nRerun: " + env + " ".join(shlex.quote(a) for a in ["python", *sys.argv]))


if __name__ == "__main__":
    main()
