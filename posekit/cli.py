"""The ``posekit`` command: poses of images, folders of images, videos, PoseKit takes and RGB-D captures.

Example::

    posekit clip.mp4 photo.jpg --model rtmw3d-l -o results/
    posekit take.zip -o results/ --zip
    python -m posekit --help

For each input it writes ``<name>.json`` (the versioned result document of :mod:`posekit.io.export`),
an overlay (``<name>_overlay.jpg`` or ``<name>_overlay.mp4``) and, with ``--zip``, ``<name>.zip`` holding the
JSON, a keypoints CSV and the overlay. A bad input costs one line on stderr and a non-zero exit status; the
other inputs are still processed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posekit.estimators.registry import ESTIMATORS, PRECISIONS, check_precision, load_estimator, load_person_detector
from posekit.io.inputs import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, UnsupportedFileError, file_kind
from posekit.io.takes import is_take_archive
from posekit.limits import DEFAULT_LIMITS, Limits

MODELS = ESTIMATORS
MODEL_HELP = {
    "rtmw3d-l": "133 whole-body keypoints (body, feet, face, hands) in 2D and 3D, people found by RTMDet-M",
    "rtmw3d-x": "the larger RTMW3D, a little more accurate and about twice as slow",
    "posekit": "the PoseKit app's mobile model, 17 body joints plus pelvis and neck in 2D, the fastest",
}


class CLIError(Exception):
    """A problem the user can fix (bad input, missing weights, a missing feature); printed as one line."""


class Unavailable(CLIError):
    """A part of posekit that this installation does not have yet."""


class ModelError(CLIError):
    """A model or its weights could not be loaded (every later input would fail the same way)."""


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
        help="find people with RTMDet-M first (default: on for rtmw3d, off for posekit, which "
        "then reads one person from the whole frame)",
    )
    model.add_argument(
        "--keypoint-threshold",
        type=_fraction,
        default=0.3,
        help="keypoints scoring below this are not drawn, carried or matched (0..1)",
    )
    model.add_argument(
        "--bbox-threshold", type=_fraction, default=0.3, help="person boxes scoring below this are dropped"
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
        help="temporal smoothing of each person's keypoints: One-Euro, the PoseKit app's EMA, or none "
        "(default: one_euro for videos, ema for captures as on the phone)",
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
    video.add_argument("--stride", type=_positive_int, default=1, help="keep one frame in N (videos and captures)")
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


# ---------------------------------------------------------------------------------------------------- inputs


def input_kind(path: Path, limits: Limits = DEFAULT_LIMITS) -> str:
    """``"image"``, ``"images"`` (a folder of images), ``"video"``, ``"take"`` or ``"capture"``.

    Raises:
        CLIError: missing, or of no kind posekit reads.
    """
    if path.is_dir():
        if any(p.suffix.lower() in IMAGE_EXTENSIONS for p in path.iterdir() if p.is_file()):
            return "images"
        return "take" if is_take_archive(path, limits) else "capture"
    if not path.is_file():
        raise CLIError(f"{path}: no such file or folder")
    try:
        return file_kind(path, limits)
    except UnsupportedFileError as exc:
        raise CLIError(str(exc)) from None


# ---------------------------------------------------------------------------------------------------- models


@dataclass
class Models:
    """The estimator and detector of a run, loaded on first use (a take needs neither)."""

    name: str
    device: str
    use_detector: bool
    precision: str = "auto"
    compile: bool = False
    _estimator: Any = field(default=None, repr=False)
    _detector: Any = field(default=None, repr=False)

    def estimator(self) -> Any:
        if self._estimator is None:
            self._estimator = _load(self._load_estimator, f"the {self.name} model")
        return self._estimator

    def detector(self) -> Any:
        if self.use_detector and self._detector is None:
            own = getattr(self.estimator(), "person_detector", None)  # RTMPose3D's own RTMDet-M: load it once
            self._detector = own if own is not None else _load(self._load_detector, "the person detector (RTMDet-M)")
        return self._detector if self.use_detector else None

    def _load_estimator(self) -> Any:
        return load_estimator(self.name, self.device, self.precision, self.compile)

    def _load_detector(self) -> Any:
        return load_person_detector(self.device, self.precision, self.compile)


def _load(loader: Callable[[], Any], what: str) -> Any:
    try:
        return loader()
    except ImportError as exc:
        raise Unavailable(f"{what} is not available in this posekit installation yet ({exc})") from exc
    except (OSError, ValueError, RuntimeError) as exc:  # WeightsNotFoundError says where it looked
        raise ModelError(f"{what} could not be loaded: {_first_line(exc)}") from exc


def resolve_device(device: str) -> str:
    if device != "auto":
        if device != "cpu" and not device.startswith("cuda"):
            raise CLIError(f"--device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# ---------------------------------------------------------------------------------------------------- runners


@dataclass
class Outputs:
    folder: Path
    used: set[str] = field(default_factory=set)

    def stem(self, path: Path) -> str:
        """A name for the results of ``path`` that no earlier input of this run took."""
        base = path.stem if path.suffix else path.name
        name, n = base, 1
        while name in self.used:
            n += 1
            name = f"{base}-{n}"
        self.used.add(name)
        return name


class Reporter:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self._last = -1.0
        self._tty = sys.stderr.isatty()

    def say(self, message: str) -> None:
        if not self.quiet:
            print(message, flush=True)

    def progress(self, name: str) -> Callable[[float, str], None]:
        self._last = -1.0

        def report(fraction: float, message: str) -> None:
            if self.quiet:
                return
            if self._tty:
                end = "\n" if fraction >= 1.0 else ""
                print(f"\r{name}: {100 * fraction:5.1f}% {message[:60]:<60}", end=end, file=sys.stderr, flush=True)
            elif fraction >= 1.0 or fraction - self._last >= 0.25:
                print(f"{name}: {100 * fraction:5.1f}% {message}", file=sys.stderr, flush=True)
                self._last = fraction

        return report


def estimate_image(image: Any, models: Models, args: argparse.Namespace) -> Any:
    """Poses of one BGR image with the options of the command line (detector, thresholds, people kept)."""
    from posekit.pipelines.image import estimate_image as estimate

    return estimate(
        image,
        models.estimator(),
        models.detector(),
        bbox_threshold=args.bbox_threshold,
        single_person=args.single_person,
        max_people=args.max_people,
    )


def run_image(path: Path, models: Models, args: argparse.Namespace, out: Outputs, limits: Limits) -> list[Path]:
    import cv2

    from posekit.io.export import atomic_write, result_document, write_json, write_results_zip
    from posekit.io.images import read_image
    from posekit.viz.drawing import draw_poses

    limits.check_file(path)
    image = read_image(path, max_pixels=limits.max_image_pixels)
    poses = estimate_image(image, models, args)
    stem = out.stem(path)
    h, w = image.shape[:2]
    doc = result_document(poses, args.model, {"kind": "image", "file": path.name, "width": w, "height": h})
    written = [write_json(doc, out.folder / f"{stem}.json")]
    files = {}
    if not args.no_overlay:
        ok, encoded = cv2.imencode(
            ".jpg", draw_poses(image, poses, args.keypoint_threshold), [cv2.IMWRITE_JPEG_QUALITY, 92]
        )
        if not ok:
            raise CLIError(f"{path.name}: could not encode the overlay image")
        overlay = out.folder / f"{stem}_overlay.jpg"
        with atomic_write(overlay, "wb") as f:
            f.write(encoded.tobytes())
        written.append(overlay)
        files["overlay.jpg"] = overlay
    if args.zip:
        written.append(write_results_zip(out.folder / f"{stem}.zip", doc, poses, files=files))
    return written


def run_video(
    path: Path, models: Models, args: argparse.Namespace, out: Outputs, limits: Limits, reporter: Reporter
) -> list[Path]:
    from posekit.io.export import result_document, write_json, write_results_zip
    from posekit.pipelines.video import process_video

    stem = out.stem(path)
    overlay = None if args.no_overlay else out.folder / f"{stem}_overlay.mp4"
    result = process_video(
        path,
        models.estimator(),
        models.detector(),
        detect_every=args.detect_every,
        batch_size=args.batch_size,
        single_person=args.single_person,
        smoothing=args.smoothing or "one_euro",
        smoothing_strength=args.smoothing_strength,
        max_frames=args.max_frames,
        max_duration_s=args.max_duration,
        max_side=args.max_side,
        stride=args.stride,
        target_fps=args.target_fps,
        limits=limits,
        overlay_path=overlay,
        overlay_max_side=args.overlay_max_side,
        keypoint_threshold=args.keypoint_threshold,
        bbox_threshold=args.bbox_threshold,
        max_people=args.max_people,
        progress=reporter.progress(path.name),
    )
    for warning in result.warnings:
        print(f"posekit: warning: {warning}", file=sys.stderr)
    source = {"kind": "video", **result.sequence.meta.get("source", {}), "timings_s": result.timings}
    doc = result_document(result.sequence, args.model, source)
    written = [write_json(doc, out.folder / f"{stem}.json")]
    files = {}
    if result.overlay_path is not None:
        written.append(result.overlay_path)
        files["overlay.mp4"] = result.overlay_path
    if args.zip:
        written.append(write_results_zip(out.folder / f"{stem}.zip", doc, result.sequence, files=files))
    seq = result.sequence
    people = f"{seq.num_people} {'person' if seq.num_people == 1 else 'people'}"
    reporter.say(f"{path.name}: {seq.num_frames} frames, {people}, {result.frames_per_second:.1f} frames/s")
    return written


def run_take(path: Path, args: argparse.Namespace, out: Outputs, limits: Limits) -> list[Path]:
    from posekit.io.export import result_document, write_json, write_results_zip
    from posekit.io.takes import load_take

    seq = load_take(path, limits)
    stem = out.stem(path)
    doc = result_document(seq, "iphone-take", {"kind": "take", "file": path.name})
    written = [write_json(doc, out.folder / f"{stem}.json")]
    if args.zip:
        written.append(write_results_zip(out.folder / f"{stem}.zip", doc, seq))
    return written


def run_capture(
    path: Path, models: Models, args: argparse.Namespace, out: Outputs, limits: Limits, reporter: Reporter
) -> list[Path]:
    from posekit.io.captures.open import open_capture
    from posekit.io.export import result_document, write_json, write_results_zip
    from posekit.pipelines.capture import process_capture
    from posekit.processing.smoothing import smoothing_params

    method = args.smoothing or "ema"  # the PoseKit app's smoothing, as on the phone
    report = reporter.progress(path.name)
    with open_capture(path, limits=limits) as capture:
        seq = process_capture(
            capture,
            lambda image: estimate_image(image, models, args),
            depth_mode=args.depth_mode,
            smoothing=method,
            min_keypoint_score=args.keypoint_threshold,
            limits=limits,
            progress=lambda done, total: report(done / max(total, 1), f"{done} of {total} frames"),
            smoothing_params=smoothing_params(method, args.smoothing_strength),
            step=args.stride,
        )
        source = {"kind": "capture", "file": path.name, "format": capture.info.format}
    stem = out.stem(path)
    doc = result_document(seq, args.model, source)
    written = [write_json(doc, out.folder / f"{stem}.json")]
    if args.zip:
        written.append(write_results_zip(out.folder / f"{stem}.zip", doc, seq))
    reporter.say(f"{path.name}: {seq.num_frames} frames, metric 3D from the depth maps")
    return written


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _jobs(path: Path, limits: Limits) -> list[tuple[Path, str]]:
    """(file, kind) to process for one command-line input: a folder of images gives one job per image."""
    kind = input_kind(path, limits)
    if kind != "images":
        return [(path, kind)]
    return [(p, "image") for p in sorted(path.iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]


def _run_one(
    path: Path, kind: str, models: Models, args: argparse.Namespace, out: Outputs, limits: Limits, reporter: Reporter
) -> list[Path]:
    if kind == "image":
        return run_image(path, models, args, out, limits)
    if kind == "video":
        return run_video(path, models, args, out, limits, reporter)
    if kind == "take":
        return run_take(path, args, out, limits)
    return run_capture(path, models, args, out, limits, reporter)


def _error(path: Path, exc: BaseException) -> None:
    message = _first_line(exc)
    name = path.name or str(path)
    prefix = "" if message.startswith(name) else f"{name}: "
    print(f"posekit: error: {prefix}{message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0: all inputs done, 1: some failed, 2: bad options)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.weights_dir is not None:
        if not args.weights_dir.is_dir():
            parser.error(f"--weights-dir: {args.weights_dir} is not a folder")
        os.environ["POSEKIT_WEIGHTS_DIR"] = str(args.weights_dir)
    reporter = Reporter(args.quiet)
    limits = DEFAULT_LIMITS
    try:
        device = resolve_device(args.device)
        check_precision(args.precision, device, args.model)
        args.output.mkdir(parents=True, exist_ok=True)
    except (CLIError, ValueError, OSError) as exc:
        print(f"posekit: error: {_first_line(exc)}", file=sys.stderr)
        return 2
    use_detector = args.detector if args.detector is not None else args.model != "posekit"
    models = Models(args.model, device, use_detector, args.precision, args.compile)
    out = Outputs(args.output)
    failures = 0
    for given in args.inputs:
        try:
            jobs = _jobs(given, limits)
        except (CLIError, ValueError, OSError) as exc:
            failures += 1
            _error(given, exc)
            continue
        if not jobs:
            failures += 1
            _error(given, CLIError("the folder holds no image, video, take or capture"))
        for path, kind in jobs:
            start = time.perf_counter()
            try:
                written = _run_one(path, kind, models, args, out, limits, reporter)
            except (ModelError, Unavailable) as exc:
                _error(path, exc)
                return 1  # every later input would fail the same way
            except (CLIError, ValueError, OSError) as exc:  # bad input: ImageError, VideoError, LimitError...
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
                _error(path, RuntimeError(f"unexpected {type(exc).__name__}: {_first_line(exc)} (--debug shows more)"))
                continue
            elapsed = time.perf_counter() - start
            reporter.say(f"{path.name} -> " + ", ".join(str(p) for p in written) + f" ({elapsed:.1f} s)")
    return 1 if failures else 0
