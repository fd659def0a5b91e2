"""Batch throughput: a plain loop over ``run_file`` against ``posekit batch`` on Ray Data with 1 and 2 workers.

Generates ``--images`` 640x480 JPEGs and ``--videos`` 640x360 clips of ``--frames`` frames (one figure walking,
from ``tests/generators/videos.py``), writes random-initialised weights in the real file formats to a temporary
``POSEKIT_WEIGHTS_DIR`` (speed does not depend on the weights' values), and runs, in one process and one local
Ray (``num_cpus`` = the machine's cores, started before the clock):

* ``loop``: ``Models.for_settings(settings)`` once, then ``run_file`` on every input, torch on all cores;
* ``loop-1t``: the same with one torch thread (as each of ``ray-2``'s actors has);
* ``ray-1``: ``run_batch(workers=1)``, one actor with all cores' threads;
* ``ray-2``: ``run_batch(workers=2)``, two actors, the cores shared out between them;
* ``rerun``: ``run_batch`` again on the last run's output: everything skipped (the cost of resuming).

Each configuration runs ``--repeat`` times; the table shows the best and every time. Overhead is ``ray-1``'s
best against ``loop``'s best: what Ray Data costs when it brings no parallelism (target < 15 %); it includes
the actor's start-up and model load, which the loop pays too. Every output (JSON and overlay) is written, as
the CLI does. Ray's own start-up (``ray.init``) is printed apart: a cluster pays it once, not per run.

Run:  python benchmarks/bench_batch.py [--images 200] [--videos 10] [--frames 30] [--models posekit] [--repeat 2]
      [--cpus 1]  (one core for everything: loop and ray-1 only, both with one torch thread)
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from generators.videos import draw_frame, walking_video  # noqa: E402
from generators.weights import write_detector, write_posekit, write_rtmw3d  # noqa: E402


def make_inputs(folder: Path, images: int, videos: int, frames: int) -> None:
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), (0, 0), 3)
    (folder / "images").mkdir(parents=True)
    for i in range(images):
        x = 40 + (i * 13) % 440
        frame = draw_frame((640, 480), np.array([[x, 60, x + 140, 440]], np.float32))
        image = np.where(frame == frame[0, 0], background, frame)
        cv2.imwrite(str(folder / "images" / f"img{i:04d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    (folder / "videos").mkdir()
    for i in range(videos):
        walking_video(folder / "videos" / f"clip{i:02d}.mp4", num_frames=frames, size=(640, 360))


def run_loop(inputs: Path, out: Path, settings) -> tuple[float, int]:
    from posekit.batch.inputs import discover
    from posekit.pipelines import Models, run_file

    start = time.perf_counter()
    models = Models.for_settings(settings)
    items, _ = discover([inputs])
    frames = 0
    for item in items:
        (out / item.rel_dir).mkdir(parents=True, exist_ok=True)
        res = run_file(Path(item.source), settings, models, out / item.rel_dir, stem=item.stem, kind=item.kind)
        frames += len(getattr(res.result, "timestamps", [0]))
    return time.perf_counter() - start, frames


def run_ray(inputs: Path, out: Path, settings, workers: int) -> tuple[float, int, int]:
    from posekit.batch import run_batch

    summary = run_batch([inputs], out, settings, workers=workers, progress=False)
    assert summary.failed == 0, summary.errors
    return summary.wall_s, summary.frames, summary.skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--videos", type=int, default=10)
    parser.add_argument("--frames", type=int, default=30, help="frames per video")
    parser.add_argument("--models", default="posekit", help="comma-separated: posekit, rtmw3d-l")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1,
                        help="cores for Ray and the loop's torch threads (1: one thread everywhere)")  # fmt: skip
    args = parser.parse_args()

    import ray
    import torch

    from posekit.pipelines import Settings

    work = Path(tempfile.mkdtemp(prefix="posekit-bench-batch-"))
    try:
        weights = work / "weights"
        write_posekit(weights)
        if "rtmw3d-l" in args.models:
            write_detector(weights)
            write_rtmw3d(weights, "l")
        os.environ["POSEKIT_WEIGHTS_DIR"] = str(weights)  # before ray.init: the workers inherit it
        inputs = work / "inputs"
        make_inputs(inputs, args.images, args.videos, args.frames)
        cores = args.cpus
        t0 = time.perf_counter()
        ray.init(num_cpus=cores, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
        ray_start = time.perf_counter() - t0
        print(f"# {platform.processor() or platform.machine()}, {cores} cores, torch {torch.__version__}, "
              f"ray {ray.__version__}; {args.images} images 640x480 + {args.videos} videos x {args.frames} frames "
              f"640x360; random weights in real formats; ray.init {ray_start:.1f} s, not in the times")  # fmt: skip
        print("| model | run | best s | frames/s | inputs/s | vs loop | times s |")
        print("|---|---|---:|---:|---:|---:|---|")
        n_inputs = args.images + args.videos
        for model in args.models.split(","):
            settings = Settings(model=model, device="cpu")
            names = ("loop", "loop-1t", "ray-1", "ray-2") if cores > 1 else ("loop", "ray-1")
            times: dict[str, list[float]] = {name: [] for name in (*names, "rerun")}
            frames = 0
            for r in range(args.repeat):
                for name in names:
                    out = work / f"out-{model}-{name}-{r}"
                    if name.startswith("loop"):
                        torch.set_num_threads(1 if name == "loop-1t" else cores)
                        seconds, frames = run_loop(inputs, out, settings)
                    else:
                        seconds, frames, _ = run_ray(inputs, out, settings, int(name[-1]))
                    times[name].append(seconds)
                    print(f"# {model} {name} #{r + 1}: {seconds:.2f} s", file=sys.stderr, flush=True)
                last = names[-1]
                seconds, _, skipped = run_ray(inputs, work / f"out-{model}-{last}-{r}", settings, int(last[-1]))
                assert skipped == n_inputs, skipped
                times["rerun"].append(seconds)
            loop = min(times["loop"])
            for name, values in times.items():
                best = min(values)
                rate = "" if name == "rerun" else f"{frames / best:.1f}"
                per_input = "" if name == "rerun" else f"{n_inputs / best:.1f}"
                versus = f"{100 * (best / loop - 1):+.1f}%" if name != "loop" else ""
                print(f"| {model} | {name} | {best:.2f} | {rate} | {per_input} | {versus} | "
                      + ", ".join(f"{v:.2f}" for v in values) + " |")  # fmt: skip
            print(f"# {model}: Ray overhead at 1 worker: {100 * (min(times['ray-1']) / loop - 1):+.1f}% (target < 15%)")
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"# rerun: python benchmarks/bench_batch.py --images {args.images} --videos {args.videos} "
          f"--frames {args.frames} --models {args.models} --repeat {args.repeat} --cpus {args.cpus}")  # fmt: skip


if __name__ == "__main__":
    main()
