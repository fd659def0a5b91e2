"""``posekit batch INPUTS... -o OUT``: the command line of :func:`posekit.batch.run_batch`.

The main ``posekit`` command hands ``batch`` to these two functions::

    parser = argparse.ArgumentParser(prog="posekit batch")
    add_batch_arguments(parser)
    return run_batch_command(parser.parse_args(argv))

``python -m posekit.batch`` runs the same command on its own.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from posekit.estimators.registry import ESTIMATORS as MODELS


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
        return value

    return parse


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text}")
    return value


def add_batch_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options of ``posekit batch`` to ``parser`` (returned)."""
    parser.description = parser.description or (
        "Pose of many inputs on Ray (a local Ray, or a cluster with --address): per input the same JSON and "
        "overlay as the posekit command, mirroring the inputs' folders under OUT, plus OUT/keypoints/ (Parquet, "
        "partitioned by kind) and OUT/errors.parquet. A rerun skips inputs already done."
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="file, folder (walked recursively), glob ('photos/**/*.jpg', quoted), or a .csv/.jsonl "
                        "manifest with a 'path' column (paths may be URLs such as s3://bucket/key.mp4)")  # fmt: skip
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder for the results (created if needed)")
    parser.add_argument("--zip", action="store_true", help="also write <name>.zip per input")
    parser.add_argument("--no-overlay", action="store_true", help="do not draw overlay images or videos")
    ray_opts = parser.add_argument_group("Ray")
    ray_opts.add_argument("--address", default=None,
                          help="Ray cluster to run on ('auto', 'host:6379' or 'ray://host:10001'); default: start "
                          "a local Ray on this machine")  # fmt: skip
    ray_opts.add_argument("--workers", type=_positive(int), default=None,
                          help="worker actors, each with its models (default: 2 per GPU, else 1 per CPU)")  # fmt: skip
    ray_opts.add_argument(
        "--gpus-per-worker",
        type=_positive(float),
        default=None,
        help="GPU share of each worker, fractions allowed (default 0.5 where there are GPUs)",
    )
    ray_opts.add_argument("--images-per-call", type=_positive(int), default=16, help="images per worker call")
    ray_opts.add_argument("--dry-run", action="store_true", help="list what would run and what would be skipped")
    ray_opts.add_argument("-q", "--quiet", action="store_true", help="no progress bars and no summary line")

    model = parser.add_argument_group("model (as for the posekit command)")
    model.add_argument("--model", choices=MODELS, default="rtmw3d-l", help="pose model")
    model.add_argument("--device", default="auto", help="'auto', 'cpu', 'cuda' or 'cuda:N'")
    model.add_argument("--precision", default="auto", help="auto, fp32, fp16 (CUDA) or bf16")
    model.add_argument("--compile", action="store_true", help="torch.compile the networks in every worker")
    model.add_argument("--weights-dir", type=Path, default=None, help="folder of weight files (POSEKIT_WEIGHTS_DIR)")
    model.add_argument("--detector", action=argparse.BooleanOptionalAction, default=None,
                       help="find people with RTMDet-M first (default: on for rtmw3d, off for posekit)")  # fmt: skip
    model.add_argument("--keypoint-threshold", type=_fraction, default=None, help="keypoint score threshold")
    model.add_argument("--bbox-threshold", type=_fraction, default=None, help="person box score threshold")
    model.add_argument("--single-person", action="store_true", help="keep the most prominent person only")
    model.add_argument("--max-people", type=_positive(int), default=None, help="at most this many people")
    video = parser.add_argument_group("videos and captures (as for the posekit command)")
    video.add_argument("--detect-every", type=_positive(int), default=None, help="look for people every K frames")
    video.add_argument("--batch-size", type=_positive(int), default=None, help="frames per model call")
    video.add_argument("--smoothing", choices=("one_euro", "ema", "none"), default=None, help="temporal smoothing")
    video.add_argument("--smoothing-strength", type=_fraction, default=None, help="0 (light) .. 1 (heavy)")
    video.add_argument("--max-frames", type=_positive(int), default=None, help="read at most this many frames")
    video.add_argument("--max-duration", type=_positive(float), default=None, help="read at most this many seconds")
    video.add_argument("--max-side", type=_positive(int), default=None, help="downscale frames to this longest side")
    video.add_argument("--frame-step", "--stride", type=_positive(int), default=None, help="keep one frame in N")
    video.add_argument("--target-fps", type=_positive(float), default=None, help="keep frames at most this rate")
    video.add_argument("--depth-mode", choices=("strict", "balanced", "lenient"), default=None,
                       help="captures: how far the depth sampler may look")  # fmt: skip
    video.add_argument("--overlay-max-side", type=_positive(int), default=None, help="longest side of overlay videos")
    return parser


_SETTINGS_FROM_ARGS = {
    "model": "model", "device": "device", "precision": "precision", "compile": "compile", "detector": "detector",
    "keypoint_threshold": "keypoint_threshold", "bbox_threshold": "bbox_threshold",
    "single_person": "single_person", "max_people": "max_people", "detect_every": "detect_every",
    "batch_size": "batch_size", "smoothing": "smoothing", "smoothing_strength": "smoothing_strength",
    "max_frames": "max_frames", "max_duration": "max_duration_s", "max_side": "max_side", "frame_step": "frame_step",
    "target_fps": "target_fps", "depth_mode": "depth_mode", "overlay_max_side": "overlay_max_side", "zip": "zip",
}  # fmt: skip
"""Option dest -> ``Settings`` field. An option left at None (or False) keeps the Settings default."""


def settings_from_args(args: argparse.Namespace) -> Any:
    """The ``posekit.pipelines.Settings`` of parsed ``posekit batch`` options."""
    from posekit.pipelines import Settings

    names = {f.name for f in dataclasses.fields(Settings)}
    values = {}
    for dest, name in _SETTINGS_FROM_ARGS.items():
        value = getattr(args, dest, None)
        if name in names and value is not None and value is not False:
            values[name] = value
    if "overlay" in names and getattr(args, "no_overlay", False):
        values["overlay"] = False
    return Settings(**values)


def run_batch_command(args: argparse.Namespace) -> int:
    """Run ``posekit batch`` with parsed options; returns the exit status (0: all done or skipped, 1: some inputs
    failed, 2: bad options or Ray missing)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        print('posekit: error: posekit batch needs Ray: pip install "posekit[batch]"', file=sys.stderr)
        return 2
    if args.weights_dir is not None:
        if not args.weights_dir.is_dir():
            print(f"posekit: error: --weights-dir: {args.weights_dir} is not a folder", file=sys.stderr)
            return 2
        os.environ["POSEKIT_WEIGHTS_DIR"] = str(args.weights_dir.resolve())
    from posekit.batch.run import run_batch

    try:
        settings = settings_from_args(args)
    except (TypeError, ValueError) as exc:
        print(f"posekit: error: {exc}", file=sys.stderr)
        return 2
    summary = run_batch(args.inputs, args.output, settings, address=args.address, workers=args.workers,
                        num_gpus_per_worker=args.gpus_per_worker, dry_run=args.dry_run, progress=not args.quiet,
                        images_per_call=args.images_per_call)  # fmt: skip
    if args.dry_run:
        for source in summary.to_run:
            print(f"run   {source}")
        for source in summary.to_skip:
            print(f"skip  {source}")
        for error in summary.errors:
            print(f"error {error['input']}: {error['message']}")
        print(summary.line())
    elif not args.quiet:
        for error in summary.errors:
            first = (error["message"].splitlines() or [""])[0]
            print(f"posekit: error: {error['input']}: {first}", file=sys.stderr)
    return 1 if summary.failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="posekit batch")
    add_batch_arguments(parser)
    return run_batch_command(parser.parse_args(argv))
