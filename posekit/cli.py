"""The ``posekit`` command: poses of images, folders of images, videos, PoseKit takes and RGB-D captures.

Example::

    posekit clip.mp4 photo.jpg --model rtmw3d-l -o results/
    posekit take.zip -o results/ --zip
    python -m posekit --help

A thin adapter over :mod:`posekit.pipelines`: the options become one
:class:`~posekit.pipelines.settings.Settings` (the same object, and the same defaults, as the app and the
Python API), and each input goes to :func:`~posekit.pipelines.run.run_file`. For each input it writes
``<name>.json``, an overlay (``<name>_overlay.jpg`` or ``<name>_overlay.mp4``; takes have no images) and,
with ``--zip``, ``<name>.zip``. A bad input costs one line on stderr and a non-zero exit status; the other
inputs are still processed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from posekit.estimators.base import PRECISIONS
from posekit.estimators.registry import ESTIMATORS
from posekit.io.inputs import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from posekit.limits import DEFAULT_LIMITS
from posekit.pipelines.settings import MODEL_DEFAULTS, Settings

if TYPE_CHECKING:
    from posekit.pipelines.results import JobResult

MODELS = ESTIMATORS
MODEL_HELP = {
    "rtmw3d-l": "133 whole-body keypoints (body, feet, face, hands) in 2D and 3D, people found by RTMDet-M",
    "rtmw3d-x": "the larger RTMW3D, a little more accurate and about twice as slow",
    "posekit": "the PoseKit app's mobile model, 17 body joints plus pelvis and neck in 2D, the fastest",
}
EXPORT_FORMATS = ("bvh", "glb")


# ---------------------------------------------------------------------------------------------------- options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posekit",
        description=(
            "2D and 3D human pose from photos, videos, PoseKit iPhone takes and RGB-D captures. Each input "
            "gives <name>.json (keypoints in pixels, 3D in camera-frame metres), an overlay image or video, "
            "and with --zip a results ZIP (JSON, keypoints CSV, overlay)."
        ),
        epilog=(
            "Inputs are told apart by their extension: images ("
            + ", ".join(IMAGE_EXTENSIONS)
            + "), videos ("
            + ", ".join(VIDEO_EXTENSIONS)
            + "), takes (.zip/.json/.bin from the PoseKit app), captures (.r3d, or a "
            ".zip/folder of an RGB-D app). A folder of images is processed image by image. Weights are looked up "
            "in --weights-dir (or $POSEKIT_WEIGHTS_DIR), then the Hugging Face cache and hub."
        ),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="image, folder, video, take or capture")
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("posekit-results"), help="folder for the results (created if needed)"
    )
    parser.add_argument(
        "--zip", action="store_true", help="also write <name>.zip: results.json, keypoints.csv, overlay"
    )
    parser.add_argument("--no-overlay", action="store_true", help="do not draw overlay images or videos")
    parser.add_argument(
        "--export",
        type=_formats,
        default=(),
        metavar="FORMATS",
        help="also write animation files of sequences (videos, takes, captures): bvh, glb or bvh,glb",
    )

    model = parser.add_argument_group("model")
    model.add_argument(
        "--model", choices=MODELS, default="rtmw3d-l", help="; ".join(f"{k}: {v}" for k, v in MODEL_HELP.items())
    )
    model.add_argument("--device", default="auto", help="'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N'")
    model.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto: fp16 on CUDA and fp32 on CPU for RTMW3D and RTMDet, fp32 for PoseKit; fp16 needs CUDA; bf16 "
        "(RTMW3D, RTMDet) is about 2x faster on CPUs with AVX-512 BF16 or AMX, its accuracy on trained weights "
        "not yet measured",
    )
    model.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the networks (on CPU this needs a C++ compiler): tens of seconds at the start, then "
        "5-10%% faster, worth it for long videos",
    )
    model.add_argument(
        "--weights-dir",
        type=Path,
        default=None,
        help="folder holding the weight files under their upstream names (sets POSEKIT_WEIGHTS_DIR)",
    )
    model.add_argument(
        "--detector",
        dest="detector",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="find people with RTMDet-M first (default: on for rtmw3d; off for posekit, which then finds one "
        "person in the whole frame and refines it on a crop, about 30x faster on CPU)",
    )
    model.add_argument(
        "--keypoint-threshold",
        type=_fraction,
        default=None,
        help="keypoints scoring below this are not drawn, carried or matched, 0..1 (default: the model's, "
        + ", ".join(f"{k} {v.keypoint_threshold}" for k, v in MODEL_DEFAULTS.items())
        + ")",
    )
    model.add_argument(
        "--bbox-threshold",
        type=_fraction,
        default=None,
        help="person boxes scoring below this are dropped (default: "
        + ", ".join(sorted({str(v.bbox_threshold) for v in MODEL_DEFAULTS.values()}))
        + ")",
    )
    model.add_argument(
        "--single-person",
        action="store_true",
        help="keep one person: the most prominent (largest box x score; in videos, over time)",
    )
    model.add_argument("--max-people", type=_positive_int, default=None, help="at most this many people per image")

    video = parser.add_argument_group("videos and captures")
    video.add_argument(
        "--detect-every",
        type=_positive_int,
        default=1,
        help="look for people every K frames; in between, boxes follow the keypoints",
    )
    video.add_argument("--batch-size", type=_positive_int, default=8, help="frames per model call")
    video.add_argument(
        "--smoothing",
        choices=("one_euro", "ema", "none"),
        default=None,
        help="temporal smoothing of each person's keypoints: One-Euro (default), the PoseKit app's EMA, or none",
    )
    video.add_argument(
        "--smoothing-strength",
        type=_fraction,
        default=None,
        help="0 (light) .. 1 (heavy); default: the method's own (One-Euro 0.5, EMA alpha 0.55)",
    )
    video.add_argument("--max-frames", type=_positive_int, default=None, help="read at most this many frames")
    video.add_argument("--max-duration", type=_positive_float, default=None, help="read at most this many seconds")
    video.add_argument(
        "--max-side",
        type=_positive_int,
        default=None,
        help="downscale frames to this longest side (pixels) for the models; results stay in original pixels",
    )
    video.add_argument(
        "--frame-step", "--stride", type=_positive_int, default=1, help="process one frame in N (videos and captures)"
    )
    video.add_argument("--target-fps", type=_positive_float, default=None, help="keep frames at most this rate")
    video.add_argument(
        "--depth-mode",
        choices=("strict", "balanced", "lenient"),
        default="balanced",
        help="captures: how far the PoseKit app's depth sampler may look for a confident depth sample",
    )
    video.add_argument("--overlay-max-side", type=_positive_int, default=1920, help="longest side of overlay videos")

    misc = parser.add_argument_group("other")
    misc.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    misc.add_argument("--debug", action="store_true", help="show the full traceback of unexpected errors")
    misc.add_argument("--version", action="version", version=f"posekit {_version()}")
    return parser


class _HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default where it has one worth showing (not None or False)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def _version() -> str:
    from posekit import __version__

    return __version__


def _number(kind: type, check: Callable[[Any], bool], what: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not check(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value

    return parse


_fraction = _number(float, lambda v: 0.0 <= v <= 1.0, "a number from 0 to 1")
_positive_int = _number(int, lambda v: v >= 1, "a whole number >= 1")
_positive_float = _number(float, lambda v: v > 0, "a number > 0")

_fraction = _number(float, lambda v: 0.0 <= v <= 1.0, "a number from 0 to 1")
_positive_int = _number(int, lambda v: v >= 1, "a whole number >= 1")
_positive_float = _number(float, lambda v: v > 0, "a number > 0")


def _formats(text: str) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in formats if f not in EXPORT_FORMATS]
    if bad or not formats:
        raise argparse.ArgumentTypeError(
            f"expected some of {', '.join(EXPORT_FORMATS)} separated by commas, got {text!r}"
        )
    return formats


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The :class:`~posekit.pipelines.settings.Settings` the options ask for (None options: the model's)."""
    return Settings(
        model=args.model,
        device=args.device,
        precision=args.precision,
        compile=args.compile,
        detector=args.detector,
        bbox_threshold=args.bbox_threshold,
        keypoint_threshold=args.keypoint_threshold,
        single_person=args.single_person,
        max_people=args.max_people,
        detect_every=args.detect_every,
        batch_size=args.batch_size,
        smoothing=args.smoothing,
        smoothing_strength=args.smoothing_strength,
        max_frames=args.max_frames,
        max_duration_s=args.max_duration,
        max_side=args.max_side,
        frame_step=args.frame_step,
        target_fps=args.target_fps,
        depth_mode=args.depth_mode,
        overlay=not args.no_overlay,
        overlay_max_side=args.overlay_max_side,
        zip=args.zip,
        export=args.export,
    )


class Reporter:
    """Progress on stderr: a live line on a terminal, a line per quarter otherwise; nothing with ``--quiet``."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self._tty = sys.stderr.isatty()

    def say(self, message: str) -> None:
        if not self.quiet:
            print(message, flush=True)

    def progress(self, name: str) -> Callable[[float, str], None]:
        last = [-1.0]

        def report(fraction: float, message: str) -> None:
            if self.quiet:
                return
            if self._tty:
                end = "\n" if fraction >= 1.0 else ""
                print(f"\r{name}: {100 * fraction:5.1f}% {message[:60]:<60}", end=end, file=sys.stderr, flush=True)
            elif fraction >= 1.0 or fraction - last[0] >= 0.25:
                print(f"{name}: {100 * fraction:5.1f}% {message}", file=sys.stderr, flush=True)
                last[0] = fraction

        return report


class Names:
    """A results name per input that no earlier input of this run took (two ``clip.mp4`` in two folders)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, path: Path) -> str:
        base = path.stem if path.suffix else path.name
        name, n = base, 1
        while name in self.used:
            n += 1
            name = f"{base}-{n}"
        self.used.add(name)
        return name


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _error(path: Path, exc: BaseException | str) -> None:
    message = exc if isinstance(exc, str) else _first_line(exc)
    name = path.name or str(path)
    prefix = "" if message.startswith(name) else f"{name}: "
    print(f"posekit: error: {prefix}{message}", file=sys.stderr)


def _summary(result: JobResult) -> str:
    from posekit.sequence import PoseSequence

    seq = result.result
    if not isinstance(seq, PoseSequence):
        return f"{result.name}: {len(seq)} {'person' if len(seq) == 1 else 'people'}"
    people = f"{seq.num_people} {'person' if seq.num_people == 1 else 'people'}"
    rate = result.details.get("frames_per_second")
    # A slow run (RTMW3D on a small CPU) reads better as seconds per frame than as "0.00 frames/s".
    speed = "" if not rate or rate != rate else f", {rate:.1f} frames/s" if rate >= 1 else f", {1 / rate:.1f} s/frame"
    return f"{result.name}: {seq.num_frames} frames, {people}{speed}"


def _export(result: JobResult, folder: Path, stem: str, formats: tuple[str, ...]) -> list[Path]:
    """Animation files of a sequence with 3D (``--export``); images and 2D-only results have none."""
    from posekit.sequence import PoseSequence

    seq = result.result
    if not formats or not isinstance(seq, PoseSequence):
        return []
    if seq.num_people == 0 or seq.keypoints_3d is None:
        why = "nobody was found" if seq.num_people == 0 else f"the {seq.skeleton.name} result is 2D only"
        print(f"posekit: warning: {result.name}: no animation file: {why} (RTMW3D, takes and RGB-D captures give 3D)",
              file=sys.stderr)  # fmt: skip
        return []
    from posekit.io.animation import export_animations

    return export_animations(seq, folder, stem, formats)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0: all inputs done, 1: some failed, 2: bad options)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["batch"]:
        from posekit.batch.cli import main as batch_main

        return batch_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.weights_dir is not None:
        if not args.weights_dir.is_dir():
            parser.error(f"--weights-dir: {args.weights_dir} is not a folder")
        os.environ["POSEKIT_WEIGHTS_DIR"] = str(args.weights_dir)
    from posekit.estimators.base import resolve_device, resolve_precision
    from posekit.pipelines import Models, ModelUnavailableError, input_jobs, run_file

    try:
        settings = settings_from_args(args)
        device = resolve_device(settings.device)
        resolve_precision(settings.precision, device)
        args.output.mkdir(parents=True, exist_ok=True)
    except (ValueError, OSError) as exc:
        print(f"posekit: error: {_first_line(exc)}", file=sys.stderr)
        return 2
    reporter = Reporter(args.quiet)
    models = Models.for_settings(settings)
    names = Names()
    failures = 0
    for given in args.inputs:
        try:
            jobs = input_jobs(given, DEFAULT_LIMITS)
        except (ValueError, OSError) as exc:
            failures += 1
            _error(given, exc)
            continue
        for path, kind in jobs:
            start = time.perf_counter()
            stem = names(path)
            try:
                result = run_file(path, settings, models, args.output, stem, kind, DEFAULT_LIMITS,
                                  reporter.progress(path.name))  # fmt: skip
                written = [*result.files.values(), *_export(result, args.output, stem, args.export)]
            except ModelUnavailableError as exc:
                _error(path, exc)
                return 1  # every later input would fail the same way
            except (ValueError, OSError) as exc:  # bad input: ImageError, VideoError, LimitError...
                failures += 1
                _error(path, exc)
                continue
            except KeyboardInterrupt:
                print("posekit: interrupted", file=sys.stderr)
                return 130
            except Exception as exc:  # a bug: still one line unless --debug
                failures += 1
                if args.debug:
                    traceback.print_exc()
                _error(path, f"unexpected {type(exc).__name__}: {_first_line(exc)} (--debug shows more)")
                continue
            for warning in result.warnings:
                print(f"posekit: warning: {path.name}: {warning}", file=sys.stderr)
            reporter.say(_summary(result))
            elapsed = time.perf_counter() - start
            reporter.say(f"{path.name} -> " + ", ".join(str(p) for p in written) + f" ({elapsed:.1f} s)")
    return 1 if failures else 0
