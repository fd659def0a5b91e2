"""Reading speed of the RGB-D capture readers on iPhone-sized synthetic captures.

Writes one capture per format from the synthetic scene (1920x1440 colour, 256x192 depth, as iPhone LiDAR
captures are) into a temporary folder, then times ``open_capture`` and decoding every frame.

Run: ``python benchmarks/captures.py [--frames 10]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's posekit and the tests' generators

from generators import captures as write  # noqa: E402
from generators.scene import make_scene  # noqa: E402

from posekit.io.captures.open import open_capture  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10)
    args = parser.parse_args()
    scene = make_scene(num_frames=args.frames, color_size=(1920, 1440), depth_size=(256, 192))
    writers = {
        "record3d .r3d (JPEG)": lambda p: write.write_r3d(scene, p / "a.r3d"),
        "record3d .r3d (rgbd.mp4)": lambda p: write.write_r3d(scene, p / "v.r3d", video=True),
        "record3d EXR + JPG": lambda p: write.write_r3d_exr(scene, p / "e.zip"),
        "stray (HEVC rgb.mp4)": lambda p: write.write_stray(scene, p / "s.zip"),
        "generic ZIP (PNG mm)": lambda p: write.write_generic(scene, p / "g.zip"),
    }
    print(f"{args.frames} frames, colour 1920x1440, depth 256x192")
    with tempfile.TemporaryDirectory() as folder:
        for name, make in writers.items():
            path = make(Path(folder))
            start = time.perf_counter()
            with open_capture(path) as capture:
                opened = time.perf_counter()
                n = sum(1 for _ in capture.frames())
            end = time.perf_counter()
            print(f"{name:26s} open {1000 * (opened - start):6.1f} ms   {n / (end - opened):6.1f} frames/s")
    print("rerun: python benchmarks/captures.py --frames", args.frames)


if __name__ == "__main__":
    main()
