"""TEMPORARY stand-in for the posekit.pipelines API (Settings, Models, run_file) until it lands on main.

Delete after rebasing onto the real ``Pipelines:`` commit.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    model: str = "rtmw3d-l"
    device: str = "auto"
    precision: str = "auto"
    detector: bool | None = None
    bbox_threshold: float = 0.3
    keypoint_threshold: float = 0.3
    single_person: bool = False
    max_people: int | None = None
    detect_every: int = 1
    batch_size: int = 8
    smoothing: str | None = None
    smoothing_strength: float | None = None
    max_frames: int | None = None
    max_duration_s: float | None = None
    max_side: int | None = None
    frame_step: int = 1
    target_fps: float | None = None
    depth_mode: str = "balanced"
    overlay: bool = True
    overlay_max_side: int = 1920
    zip: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def Models(settings: Settings) -> Any:  # noqa: N802
    from posekit import cli

    device = cli.resolve_device(settings.device)
    det = settings.detector if settings.detector is not None else settings.model != "posekit"
    return cli.Models(settings.model, device, det, settings.precision)


@dataclass
class JobResult:
    kind: str
    name: str
    document: dict
    result: Any
    files: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    seconds: float = 0.0


def _args(s: Settings) -> argparse.Namespace:
    return argparse.Namespace(model=s.model, bbox_threshold=s.bbox_threshold, keypoint_threshold=s.keypoint_threshold,
                              single_person=s.single_person, max_people=s.max_people, detect_every=s.detect_every,
                              batch_size=s.batch_size, smoothing=s.smoothing, smoothing_strength=s.smoothing_strength,
                              max_frames=s.max_frames, max_duration=s.max_duration_s, max_side=s.max_side,
                              stride=s.frame_step, target_fps=s.target_fps, depth_mode=s.depth_mode,
                              no_overlay=not s.overlay, overlay_max_side=s.overlay_max_side, zip=s.zip)  # fmt: skip


def run_file(path, settings, models, out_dir, stem=None, kind=None, limits=None, progress=None) -> JobResult:
    import json

    from posekit import cli
    from posekit.limits import DEFAULT_LIMITS

    path, out_dir = Path(path), Path(out_dir)
    limits = limits or DEFAULT_LIMITS
    kind = kind or cli.input_kind(path, limits)

    class _Out(cli.Outputs):
        def stem(self, p: Path) -> str:
            return stem or (p.stem if p.suffix else p.name)

    out = _Out(out_dir)
    written = cli._run_one(path, kind, models, _args(settings), out, limits, cli.Reporter(True))
    files = {}
    for p in written:
        key = "json" if p.suffix == ".json" else "zip" if p.suffix == ".zip" else "overlay"
        files[key] = p
    from posekit.io.export import read_result

    doc = json.loads(files["json"].read_text())
    return JobResult(kind, path.name, doc, read_result(files["json"]), files)


def install() -> None:
    import posekit.pipelines as p

    if not hasattr(p, "run_file"):
        p.Settings, p.Models, p.run_file, p.JobResult = Settings, Models, run_file, JobResult
