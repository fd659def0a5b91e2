"""PoseKit's two ways to find people on a 720p clip, through the same job the app and the CLI run.

* fast path (the default): no detector, the whole frame then a crop around the person found;
* RTMDet path: RTMDet-M finds the people first (``Settings(model="posekit", detector=True)``).

Frames per second of the whole video job (decode, people, pose, track, smooth; no overlay), in one run. The
PoseKit weights come from ``POSEKIT_WEIGHTS_DIR`` (the app's model) or are written at random; RTMDet-M is
written at random when absent (its speed does not depend on its weights). The clip is ``posetrack_000001.mp4``
(1280x720) from the shared data, looped to ``--frames`` frames.

Run: ``python benchmarks/bench_posekit_paths.py --data ../shared/data [--frames 60] [--threads 2]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def looped_clip(source: Path, target: Path, frames: int) -> Path:
    from generators.videos import write_video

    from posekit.io.video import read_video

    images = [f.image for f in read_video(source)]
    write_video(target, [images[i % len(images)] for i in range(frames)], fps=30.0)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from generators.weights import write_detector, write_posekit

    from posekit.pipelines import Models, Settings, run_file

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        given = Path(os.environ.get("POSEKIT_WEIGHTS_DIR", "")) / "pkmodel.mlmodelc"
        real = given.is_dir() and bool(os.environ.get("POSEKIT_WEIGHTS_DIR"))
        weights = tmp / "weights"  # the user's folder is only read: the app model is linked here
        weights.mkdir()
        if real:
            (weights / given.name).symlink_to(given)
        else:
            write_posekit(weights)
        write_detector(weights)
        os.environ["POSEKIT_WEIGHTS_DIR"] = str(weights)
        clip = looped_clip(args.data / "video" / "posetrack_000001.mp4", tmp / "clip.mp4", args.frames)
        print(f"clip: {args.frames} frames 1280x720; PoseKit weights: {'the app model' if real else 'random'}; "
              f"RTMDet-M: random; {args.threads} threads")  # fmt: skip
        rows = []
        for label, detector in (("fast path (whole frame + crop)", False), ("RTMDet-M path", True)):
            settings = Settings(model="posekit", detector=detector, overlay=False)
            models = Models.for_settings(settings)
            models.for_job(settings)  # loaded before timing, as in the app after its first request
            run_file(clip, settings, models, tmp / "warm")
            start = time.perf_counter()
            result = run_file(clip, settings, models, tmp / label.split()[0])
            seconds = time.perf_counter() - start
            rows.append((label, args.frames / seconds, result.result.present.any(axis=1).sum()))
        print(f"{'path':<34}{'frames/s':>10}{'frames with a person':>24}")
        for label, fps, seen in rows:
            print(f"{label:<34}{fps:>10.1f}{seen:>24}")
        print(f"fast path / RTMDet path: {rows[0][1] / rows[1][1]:.1f}x")
    print(f"rerun: python benchmarks/bench_posekit_paths.py --data {args.data} --frames {args.frames} "
          f"--threads {args.threads}")  # fmt: skip


if __name__ == "__main__":
    main()
