"""Regenerate the synthetic examples in ``assets/rgbd/`` with the project's own test generators.

    python assets/generate.py

The take is what the PoseKit iPhone app exports (``tests/generators/takes.py``); the capture is a Record3D
``.r3d`` of a synthetic person scene (``tests/generators/scene.py`` and ``captures.py``). Nothing here is a
recording of a real person.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]  # this checkout's posekit and generators

from generators.captures import write_r3d  # noqa: E402
from generators.scene import make_scene  # noqa: E402
from generators.takes import make_take, write_zip  # noqa: E402

TAKE = HERE / "rgbd" / "PoseTake_2025-01-01T120000Z.zip"
CAPTURE = HERE / "rgbd" / "synthetic_person.r3d"


def main() -> None:
    TAKE.parent.mkdir(parents=True, exist_ok=True)
    write_zip(TAKE, make_take(num_frames=60, fps=30.0, seed=0))
    write_r3d(make_scene(num_frames=24, color_size=(640, 480), fps=12.0), CAPTURE)
    for path in (TAKE, CAPTURE):
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
