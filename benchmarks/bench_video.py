"""End-to-end video throughput: decode, detect, estimate, track, smooth, draw and encode a 720p clip.

Runs :func:`posekit.pipelines.video.process_video` on a generated 300-frame 1280x720 30 fps clip (one person walking)
with random-initialised weights written to a temporary ``POSEKIT_WEIGHTS_DIR`` (speed does not depend on the
weights' values; keypoint and box thresholds are set to 0 so that random outputs still give one person per
frame, i.e. the work of a real clip with one person). Prints frames per second and the share of each stage.

Targets: PoseKit on CPU >= 30 fps; RTMW3D-L (one person, fp16) on CUDA >= 100 fps.

Run:  python benchmarks/bench_video.py [--frames 300] [--configs posekit,rtmw3d-l] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from posekit.io.video import VideoWriter  # noqa: E402
from posekit.pipelines.video import STAGES, process_video  # noqa: E402

SIZE = (1280, 720)
FPS = 30.0


def make_clip(path: Path, frames: int) -> Path:
    """A person-like figure walking across a textured background (so that H.264 has real work to do)."""
    w, h = SIZE
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (0, 0), 3)
    with VideoWriter(path, fps=FPS) as writer:
        for t in range(frames):
            image = background.copy()
            x = int(100 + (w - 400) * t / max(frames - 1, 1))
            cv2.rectangle(image, (x, 150), (x + 200, 650), (40, 40, 200), -1)
            cv2.circle(image, (x + 100, 110), 45, (180, 190, 230), -1)
            swing = int(60 * np.sin(t / 4))
            cv2.line(image, (x + 60, 640), (x + 40 + swing, 715), (30, 30, 30), 30)
            cv2.line(image, (x + 140, 640), (x + 160 - swing, 715), (30, 30, 30), 30)
            writer.write(image)
    return path


def write_random_weights(folder: Path) -> dict[str, str]:
    """Random-initialised checkpoints under the upstream file names; returns model -> why it is missing."""
    import torch

    from posekit.io.checkpoints import save_safetensors

    missing = {}
    try:
        from posekit.estimators.posekit import SAFETENSORS_NAME
        from posekit.models.posekit_net import PoseKitNet

        save_safetensors(PoseKitNet().state_dict(), folder / SAFETENSORS_NAME)
    except ImportError as exc:
        missing["posekit"] = str(exc)
    try:
        from posekit.estimators.detector import DETECTOR_FILE
        from posekit.estimators.rtmpose3d import POSE_FILES
        from posekit.models.rtmdet import rtmdet_m
        from posekit.models.rtmw3d import rtmw3d_l

        torch.save({"state_dict": rtmdet_m().state_dict()}, folder / DETECTOR_FILE)
        torch.save({"state_dict": rtmw3d_l().state_dict()}, folder / POSE_FILES["l"])
    except ImportError as exc:
        missing["rtmw3d-l"] = str(exc)
    return missing


def load_posekit(device: str) -> tuple[Any, Any]:
    from posekit.estimators.posekit import PoseKit

    return PoseKit.from_pretrained(device=device, fp16=device.startswith("cuda")), None


def load_rtmw3d(device: str) -> tuple[Any, Any]:
    from posekit.estimators.rtmpose3d import RTMPose3D

    model = RTMPose3D.from_pretrained(model_size="l", device=device)  # fp16 autocast on CUDA by default
    return model, model.person_detector


class ConstantModel:
    """A zero-cost estimator (one fixed COCO17+2 person per frame): measures the pipeline around the models."""

    from posekit.skeletons import POSEKIT_COCO17_2 as skeleton

    def predict_batch(self, images: list[np.ndarray], bboxes: list[Any]) -> list[Any]:
        from posekit.poses import Poses

        k = self.skeleton.num_keypoints
        grid = np.stack(np.meshgrid(np.linspace(500, 700, 5), np.linspace(150, 650, 4)), -1).reshape(-1, 2)[:k]
        return [Poses(keypoints_2d=grid[None], scores=np.ones((1, k)), bboxes=[[500, 150, 700, 650]],
                      bbox_scores=[1.0], skeleton=self.skeleton, image_size=SIZE) for _ in images]  # fmt: skip


def load_constant(device: str) -> tuple[Any, Any]:
    return ConstantModel(), None


CONFIGS: dict[str, tuple[str, Callable[[str], tuple[Any, Any]], dict[str, Any]]] = {
    "overhead": ("no model: decode, track, smooth, draw, encode only", load_constant, {}),
    "posekit": ("PoseKit, whole frame, no detector", load_posekit, {"detect_every": 1, "batch_size": 16}),
    "rtmw3d-l": (
        "RTMDet-M every 5 frames + RTMW3D-L, one person",
        load_rtmw3d,
        {"detect_every": 5, "batch_size": 16, "single_person": True},
    ),
}


def run(name: str, clip: Path, device: str, out: Path, frames: int) -> dict[str, Any] | None:
    title, loader, options = CONFIGS[name]
    try:
        model, detector = loader(device)
    except ImportError as exc:
        print(f"{name:9s} {device:5s} skipped: the model is not in this checkout yet ({exc})")
        return None
    # Warm-up (first-call allocations, cuDNN autotuning) on a few frames, not timed.
    process_video(clip, model, detector, max_frames=16, smoothing="none", keypoint_threshold=0.0,
                  bbox_threshold=0.0, **options)  # fmt: skip
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    start = time.perf_counter()
    result = process_video(clip, model, detector, overlay_path=out / f"{name}-{device}.mp4", keypoint_threshold=0.0,
                           bbox_threshold=0.0, **options)  # fmt: skip
    wall = time.perf_counter() - start
    timings = result.timings
    shares = "  ".join(f"{s} {100 * timings.get(s, 0.0) / timings['total']:4.1f}%" for s in STAGES)
    fps = result.num_frames / wall
    print(f"{name:9s} {device:5s} {fps:7.1f} fps  ({result.num_frames} frames in {wall:.2f} s; {title})")
    print(f"{'':15s} shares: {shares}")
    return {"config": name, "device": device, "fps": fps, "timings": timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated among {list(CONFIGS)}")
    parser.add_argument("--device", default=None, help="cpu, cuda, or both when CUDA is present (default)")
    args = parser.parse_args()

    import torch

    devices = [args.device] if args.device else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    print(
        f"posekit video benchmark: {args.frames} frames {SIZE[0]}x{SIZE[1]} @ {FPS:g} fps; torch {torch.__version__}, "
        f"{platform.machine()}, {torch.get_num_threads()} threads{gpu}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        weights = folder / "weights"
        weights.mkdir()
        os.environ["POSEKIT_WEIGHTS_DIR"] = str(weights)
        os.environ["HF_HUB_OFFLINE"] = "1"
        missing = write_random_weights(weights)
        clip = make_clip(folder / "clip.mp4", args.frames)
        for device in devices:
            for name in args.configs.split(","):
                if name in missing:
                    print(f"{name:9s} {device:5s} skipped: the model is not in this checkout yet ({missing[name]})")
                    continue
                run(name, clip, device, folder, args.frames)
    device = f" --device {args.device}" if args.device else ""
    print(f"rerun: python benchmarks/bench_video.py --frames {args.frames} --configs {args.configs}{device}")


if __name__ == "__main__":
    main()
