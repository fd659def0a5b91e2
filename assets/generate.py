"""Regenerate the synthetic examples in ``assets/rgbd/`` with the project's own test generators.

    python assets/generate.py

The take is what the PoseKit iPhone app exports (``tests/generators/takes.py``); the capture is the generic
RGB-D ZIP of a synthetic person scene (``tests/generators/scene.py`` and ``captures.py``). Nothing here is a
recording of a real person.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]  # this checkout's posekit and generators

from generators.takes import make_take, write_zip  # noqa: E402

TAKE = HERE / "rgbd" / "PoseTake_2025-01-01T120000Z.zip"


def main() -> None:
    TAKE.parent.mkdir(parents=True, exist_ok=True)
    write_zip(TAKE, make_take(num_frames=60, fps=30.0, seed=0))
    print(f"wrote {TAKE.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
