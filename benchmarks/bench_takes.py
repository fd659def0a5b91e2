"""Throughput of the take reader/writer and of the RGB-D geometry pipeline (no network: an oracle 2D model).

* A 1,000-frame PoseKit take in each form: load, smoothing (EMA, One-Euro), canonical pose, save.
* A 300-frame Record3D-like capture (LiDAR 256x192 depth + confidence, 640x480 colour, in memory):
  ``process_capture`` = depth sampling + back-projection + smoothing + canonical pose, with a COCO17+2 oracle
  and with an RTMW3D-like 133-joint oracle (fusion on).
* The same work on a real 300-frame ``.r3d`` written by the test generators and read from disk.

Run from the repository root::

    python benchmarks/bench_takes.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from generators.captures import write_r3d  # noqa: E402
from generators.scene import make_scene  # noqa: E402
from generators.takes import make_take, write_all  # noqa: E402

from posekit.coords import backproject, project  # noqa: E402
from posekit.io.captures.base import Capture, CaptureInfo, RGBDFrame  # noqa: E402
from posekit.io.captures.open import open_capture  # noqa: E402
from posekit.io.take_writer import save_take  # noqa: E402
from posekit.io.takes import load_take  # noqa: E402
from posekit.pipelines.capture import process_capture  # noqa: E402
from posekit.poses import Poses  # noqa: E402
from posekit.processing.canonical import canonicalize  # noqa: E402
from posekit.processing.smoothing import smooth_sequence  # noqa: E402
from posekit.skeletons import COCO_WHOLEBODY, POSEKIT_COCO17_2  # noqa: E402


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def report(name: str, frames: int, seconds: float) -> None:
    print(f"  {name:<44} {frames / seconds:>12,.0f} frames/s   ({seconds * 1e3:8.1f} ms for {frames})")


class LoopedCapture(Capture):
    """``num_frames`` frames cycling through a rendered scene's frames, timestamps at the scene's fps."""

    def __init__(self, scene, num_frames: int) -> None:
        self.scene = scene
        self.info = CaptureInfo("record3d-like", num_frames, scene.fps, scene.color_size, scene.depth_size)

    def frames(self, start: int = 0, stop: int | None = None, step: int = 1) -> Iterator[RGBDFrame]:
        s = self.scene
        for i in range(start, self.info.num_frames if stop is None else stop, step):
            j = i % s.num_frames
            yield RGBDFrame(i, i / s.fps, s.color[j], s.depth[j], s.confidence[j], s.intrinsics)


class CountingOracle:
    """Ground-truth 2D for the n-th call: stands in for the model where frames come from a decoder."""

    def __init__(self, keypoints_2d: np.ndarray, skeleton, image_size: tuple[int, int]) -> None:
        self.keypoints_2d, self.skeleton, self.image_size, self.calls = keypoints_2d, skeleton, image_size, 0

    def __call__(self, image: np.ndarray) -> Poses:
        kp = self.keypoints_2d[self.calls % len(self.keypoints_2d)][None]
        self.calls += 1
        boxes = np.concatenate([kp.min(1), kp.max(1)], 1)
        return Poses(kp, np.full(kp.shape[:2], 0.9), boxes, np.ones(1), self.skeleton, image_size=self.image_size)


def oracle(scene, keypoints_2d: np.ndarray, skeleton, keypoints_3d: np.ndarray | None = None, meta=None):
    def model(image: np.ndarray) -> Poses:
        j = next(i for i in range(scene.num_frames) if np.shares_memory(scene.color[i], image))
        kp = keypoints_2d[j][None]
        boxes = np.concatenate([kp.min(1), kp.max(1)], 1)
        return Poses(kp, np.full(kp.shape[:2], 0.9), boxes, np.ones(1), skeleton, image_size=scene.color_size,
                     keypoints_3d=None if keypoints_3d is None else keypoints_3d[j][None], meta=meta or {})  # fmt: skip

    return model


def wholebody(scene):
    """Fake RTMW3D output: 133 joints around the scene's body (hands fanned from the wrists), root-relative
    3D placed at the nominal 5.14 m."""
    j = scene.joints_3d
    wb = np.concatenate(
        [j[:, :17], j[:, [15] * 3 + [16] * 3], j[:, [0] * 68], np.zeros_like(j[:, :1].repeat(42, 1))], 1
    )
    wb[:, 91:112] = j[:, 9, None] + np.linspace(-0.08, 0.08, 21)[:, None] * [1, 0.5, 0]
    wb[:, 112:133] = j[:, 10, None] + np.linspace(-0.08, 0.08, 21)[:, None] * [1, 0.5, 0]
    kp2 = project(wb, scene.intrinsics)
    z_rel = wb[..., 2] - wb[:, [11, 12], 2].mean(1, keepdims=True)
    w, h = scene.color_size
    return kp2, backproject(kp2, z_rel + 5.14388, (1145.0, 1143.8, w / 2, h / 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is reported")
    args = parser.parse_args()
    r = args.repeat

    print("PoseKit take, 1,000 frames")
    take = make_take(num_frames=1000)
    with tempfile.TemporaryDirectory() as tmp:
        forms = write_all(Path(tmp), take)
        for form in ("bin", "folder", "zip", "json"):
            report(f"load_take ({form})", 1000, best_of(r, lambda form=form: load_take(forms[form])))
        seq = load_take(forms["zip"])
        kp3 = seq.keypoints_3d
        report("EMA smoothing (19 joints)", 1000, best_of(r, lambda: smooth_sequence(kp3, seq.timestamps, "ema")))
        report("One-Euro smoothing (19 joints)", 1000,
               best_of(r, lambda: smooth_sequence(kp3, seq.timestamps, "one_euro")))  # fmt: skip
        report("canonical pose", 1000, best_of(r, lambda: canonicalize(kp3, seq.scores, 0.3)))

        def read_smooth_canonical() -> None:
            loaded = load_take(forms["zip"])
            canonicalize(smooth_sequence(loaded.keypoints_3d, loaded.timestamps, "ema"), loaded.scores, 0.3)

        report("load (zip) + EMA + canonical", 1000, best_of(r, read_smooth_canonical))
        for form in ("bin", "zip", "json"):
            out = Path(tmp) / f"out.{form}"
            report(f"save_take ({form})", 1000, best_of(r, lambda form=form, out=out: save_take(seq, out, form)))

    print("Record3D-like capture, 300 frames (depth 256x192 + confidence, colour 640x480, oracle 2D)")
    scene = make_scene(num_frames=30)
    capture = LoopedCapture(scene, 300)
    posekit_model = oracle(scene, scene.joints_2d, POSEKIT_COCO17_2)
    for smoothing in ("none", "ema", "one_euro"):
        report(f"process_capture COCO17+2, smoothing {smoothing}", 300,
               best_of(r, lambda s=smoothing: process_capture(capture, posekit_model, smoothing=s)))  # fmt: skip
    kp2, kp3 = wholebody(scene)
    rtm = oracle(scene, kp2, COCO_WHOLEBODY, kp3, {"root_depth": 5.14388})
    report("process_capture RTMW3D 133 + fusion, EMA", 300, best_of(r, lambda: process_capture(capture, rtm)))

    print("Record3D .r3d file, 300 frames (JPEG colour 640x480, LZFSE depth + confidence), read from disk")
    long_scene = make_scene(num_frames=300)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_r3d(long_scene, Path(tmp) / "capture.r3d")

        def read_only() -> None:
            with open_capture(path) as cap:
                for _ in cap.frames():
                    pass

        def read_and_process() -> None:
            with open_capture(path) as cap:
                process_capture(cap, CountingOracle(long_scene.joints_2d, POSEKIT_COCO17_2, long_scene.color_size))

        report("open_capture + decode every frame", 300, best_of(r, read_only))
        report("read + depth + backproject + EMA + canonical", 300, best_of(r, read_and_process))
    print(f"\nRerun: python benchmarks/bench_takes.py --repeat {r}")


if __name__ == "__main__":
    main()
