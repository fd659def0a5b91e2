"""The PoseKit app's pipeline, run on the server over an RGB-D capture (Record3D, Stray Scanner, generic ZIP).

Per colour frame, as on the phone (``PosePipeline.swift``):

1. the 2D model (PoseKit: COCO17+2; RTMPose3D: COCO-WholeBody 133) on the colour image; the main person is
   kept (:func:`~posekit.processing.people.pick_main_box`: the one continuing the previous frame's, else the
   largest box);
2. for every joint scored at least ``min_keypoint_score``, depth sampled at its normalised position with
   the app's :func:`~posekit.processing.depth_sampler.sample_depth` and back-projected with the frame's real
   intrinsics, scaled to the image the 2D lives in: metric camera-frame 3D (``space_3d = "metric_depth"``);
3. RTMW3D results also carry a root-relative 3D: it is placed in the real camera (:func:`fuse_model_3d`) so
   joints without a usable depth sample (thin hands and fingers, feet, face, anything over an invalid or
   background pixel) still get metric 3D;
4. the 3D is smoothed over time (One-Euro by default, or the app's EMA), then the pelvis-centred canonical
   pose is computed (``canonical_3d``, the app's ``playback3D``).

``PoseSequence.meta`` records which 3D is which (``meta["3d"]``) and, with fusion, per joint where its 3D
came from (``meta["source_3d"]``: 0 none, 1 depth map, 2 RTMW3D placed with the measured depth).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from posekit.coords import Intrinsics, backproject, scale_intrinsics
from posekit.io.captures.base import Capture, CaptureError, RGBDFrame
from posekit.io.captures.open import open_capture
from posekit.io.video_writer import VideoWriter
from posekit.limits import DEFAULT_LIMITS, LimitError, Limits
from posekit.pipelines.image import Framing
from posekit.pipelines.results import Job, JobResult, ProgressFn, write_results
from posekit.pipelines.settings import Settings
from posekit.poses import Poses
from posekit.processing.canonical import canonicalize_any
from posekit.processing.depth_sampler import DepthMode, lift_keypoints
from posekit.processing.people import pick_main_box
from posekit.processing.smoothing import SmoothingMethod, smooth_sequence, smoothing_params
from posekit.processing.status import status_counts
from posekit.sequence import PoseSequence
from posekit.skeletons import Skeleton
from posekit.viz.drawing import draw_poses

PoseModel = Callable[[np.ndarray], Poses]
"""``model(image_bgr) -> Poses``: an estimator, or a :class:`~posekit.pipelines.image.Framing`."""

SOURCE_NONE, SOURCE_DEPTH, SOURCE_MODEL = 0, 1, 2
SOURCE_CODES = {SOURCE_NONE: "none", SOURCE_DEPTH: "depth map", SOURCE_MODEL: "RTMW3D placed with measured depth"}
DESCRIBE_MEASURED = "Camera frame, metres: joints back-projected with the capture's depth map and real intrinsics."
DESCRIBE_FUSED = (
    DESCRIBE_MEASURED[:-1] + " where the depth map has a sample on the body; elsewhere RTMW3D's root-relative 3D "
    "placed in the camera with the measured pelvis depth and real intrinsics (per joint: source_3d)."
)
DESCRIBE_CANONICAL = "Pelvis-centred canonical pose of keypoints_3d (x right, y up, z forward of the person)."
DEFAULT_FUSION_TOLERANCE = 0.3
"""Metres: a depth sample farther than this from where the model puts the joint (relative to the body) is
taken to miss the body (a finger over the background) and the model's placement is used instead."""


def fuse_model_3d(
    keypoints_2d: np.ndarray,
    scores: np.ndarray,
    measured: np.ndarray,
    z_rel: np.ndarray,
    intrinsics: Intrinsics,
    min_score: float,
    tolerance: float = DEFAULT_FUSION_TOLERANCE,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Place RTMW3D's root-relative 3D in the real camera with measured depth.

    RTMW3D predicts, per joint, its depth relative to the hip midpoint (``z_rel``, metres, learned from metric
    motion capture) and the 2D. The root depth is taken from the depth map: the median over joints with a
    depth sample of ``measured z - z_rel`` (the measured pelvis depth, estimated from every measured joint
    so that one bad sample or an occluded pelvis does not matter). Each joint is then back-projected from its
    2D at ``root + z_rel`` with the real intrinsics, which makes x and y metric too (no scale factor is fitted:
    lateral scale comes from the rays and the measured depth, depth differences from the model's metric
    training; fitting a scale to surface samples spanning a few tens of centimetres would amplify their
    noise). The depth-map 3D is kept where it agrees with that placement within ``tolerance``; elsewhere (no
    sample, or a sample off the body) the model's placement is used.

    Args:
        keypoints_2d: (K, 2) pixels of the image ``intrinsics`` describe; scores: (K,).
        measured: (K, 3) depth-map 3D (NaN without a sample).
        z_rel: (K,) the model's root-relative depth (``keypoints_3d z - meta["root_depth"]``).
        min_score: joints scored lower get no 3D.

    Returns:
        ``(fused (K, 3), source (K,) int8 codes, root depth in metres or NaN)``.
    """
    scored = scores >= min_score
    usable = scored & np.isfinite(measured[:, 2]) & np.isfinite(z_rel)
    source = np.where(np.isfinite(measured[:, 2]), SOURCE_DEPTH, SOURCE_NONE).astype(np.int8)
    if not usable.any():
        return measured.copy(), source, float("nan")
    root = float(np.median(measured[usable, 2] - z_rel[usable]))
    model_z = root + z_rel
    agree = usable & (np.abs(measured[:, 2] - model_z) <= tolerance)
    if agree.any():  # re-estimate from the samples on the body only
        root = float(np.median(measured[agree, 2] - z_rel[agree]))
        model_z = root + z_rel
        agree = usable & (np.abs(measured[:, 2] - model_z) <= tolerance)
    placed = backproject(keypoints_2d.astype(np.float64), model_z, intrinsics)
    use_model = scored & np.isfinite(z_rel) & ~agree
    fused = np.where(agree[:, None], measured, np.where(use_model[:, None], placed, np.nan))
    source = np.where(agree, SOURCE_DEPTH, np.where(use_model, SOURCE_MODEL, SOURCE_NONE)).astype(np.int8)
    return fused, source, root


def _check_capture(capture: Capture, limits: Limits) -> None:
    info = capture.info
    limits.check_frames(info.num_frames, f"{info.format} capture")
    if info.fps and info.num_frames / info.fps > limits.max_duration_s:
        raise LimitError(
            f"{info.format} capture: {info.num_frames / info.fps:,.0f} s is over the limit of "
            f"{limits.max_duration_s:,.0f} s"
        )
    limits.check_pixels(*info.color_size, what=f"{info.format} colour frames")
    if info.depth_size:
        limits.check_pixels(*info.depth_size, what=f"{info.format} depth maps")


def process_capture(
    capture: Capture,
    model: PoseModel,
    settings: Settings | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    progress: ProgressFn | None = None,
    fuse: bool = True,
    fusion_tolerance: float = DEFAULT_FUSION_TOLERANCE,
    **options: Any,
) -> PoseSequence:
    """Run the 2D model on every colour frame and lift the main person to metric 3D with the depth maps.

    Args:
        capture: an opened RGB-D capture (frames are decoded one at a time).
        model: ``model(image_bgr) -> Poses``: the PoseKit model (COCO17+2), RTMPose3D (COCO-WholeBody 133; its
            root-relative 3D is fused when ``fuse``), or a :class:`~posekit.pipelines.image.Framing`.
        settings: of its fields, captures use ``depth_mode`` (the app's depth sampling: strict, balanced,
            lenient), ``smoothing`` and ``smoothing_strength`` (applied to the 3D), ``keypoint_threshold``
            (joints scored lower get no 3D: the app's ``minKeypointScore``), ``frame_step``, ``max_frames`` and
            ``max_duration_s`` (the capture's first frames / seconds). Default: the defaults of the model's kind.
        limits: bounds on frames, duration and pixels, checked before any frame is decoded.
        progress: called as ``progress(fraction, message)`` after each frame.
        fuse: place RTMW3D's 3D in the camera where depth has no (usable) sample.
        fusion_tolerance: metres, see :data:`DEFAULT_FUSION_TOLERANCE`.
        options: fields of :class:`Settings` to change.

    Returns:
        A one-person :class:`PoseSequence` (the main person; frames where nobody was found are NaN):
        ``keypoints_2d`` in colour-image pixels, ``keypoints_3d`` metric camera frame (smoothed),
        ``canonical_3d``, ``depth_confidence``, per-frame ``intrinsics``, ``space_3d`` "metric_depth",
        ``meta`` with the settings, the status counts and which 3D is which.
    """
    settings = settings or Settings(model="rtmw3d-l")
    settings = settings.replace(**options) if options else settings
    step, min_score = settings.frame_step, settings.keypoint_threshold
    report = progress or (lambda fraction, message: None)
    _check_capture(capture, limits)
    count = capture_frame_count(capture, settings)
    total = len(range(0, count, step))
    image_size: tuple[int, int] | None = None
    skeleton = None
    rows: list[dict[str, Any]] = []
    previous_box = None
    for frame in capture.frames(0, count, step):
        poses = model(frame.color)
        if image_size is None:
            image_size = tuple(poses.image_size or frame.color_size)
            skeleton = poses.skeleton
        elif tuple(poses.image_size or frame.color_size) != image_size or poses.skeleton.name != skeleton.name:
            raise CaptureError(f"frame {frame.index}: image size or skeleton changed within the capture")
        rows.append(_process_frame(frame, poses, image_size, previous_box, settings.depth_mode, min_score,
                                   fuse, fusion_tolerance))  # fmt: skip
        if rows[-1]["box"] is not None:
            previous_box = rows[-1]["box"]
        report(len(rows) / max(total, 1), f"poses and depth: frame {len(rows)} of {total}")
    if not rows:
        raise CaptureError(f"{capture.info.format} capture: no frames to process")
    if not any(row["has_depth"] for row in rows):
        raise CaptureError(
            f"{capture.info.format} capture: no frame has a valid depth value (all missing, NaN, zero or "
            "negative); expected depth maps in metres"
        )
    smoothing = settings.smoothing_method
    params = smoothing_params(smoothing, settings.smoothing_strength)
    return _assemble(rows, skeleton, image_size, capture, step, settings.depth_mode, smoothing, params, min_score)


def capture_frame_count(capture: Capture, settings: Settings) -> int:
    """Frames of ``capture`` within the settings' ``max_frames`` and ``max_duration_s`` from its start (all the
    duration when the rate is unknown), before ``frame_step``."""
    n = capture.info.num_frames
    if settings.max_duration_s is not None and capture.info.fps:
        n = min(n, max(1, math.ceil(settings.max_duration_s * capture.info.fps)))
    if settings.max_frames is not None:
        n = min(n, settings.max_frames * settings.frame_step)
    return n


def _has_valid_depth(frame: RGBDFrame) -> bool:
    return frame.depth is not None and bool(np.isfinite(frame.depth).any())


def _process_frame(
    frame: RGBDFrame,
    poses: Poses,
    image_size: tuple[int, int],
    previous_box: np.ndarray | None,
    depth_mode: DepthMode,
    min_score: float,
    fuse: bool,
    tolerance: float,
) -> dict[str, Any]:
    k = poses.skeleton.num_keypoints
    intrinsics = tuple(frame.intrinsics)
    if tuple(frame.color_size) != tuple(image_size):
        intrinsics = scale_intrinsics(intrinsics, frame.color_size, image_size)
    row: dict[str, Any] = {
        "timestamp": frame.timestamp, "intrinsics": intrinsics, "has_depth": _has_valid_depth(frame),
        "kp2": np.full((k, 2), np.nan), "scores": np.zeros(k), "kp3": np.full((k, 3), np.nan),
        "conf": np.zeros(k), "source": np.zeros(k, np.int8), "root": np.nan, "box": None,
        "fused": fuse and poses.keypoints_3d is not None and "root_depth" in poses.meta,
    }  # fmt: skip
    if len(poses) == 0:
        return row
    # The subject of a capture is usually the nearest person: the largest box (equal scores), followed.
    person = pick_main_box(poses.bboxes, np.ones(len(poses)), previous_box)
    kp2 = poses.keypoints_2d[person].astype(np.float64)
    scores = poses.scores[person].astype(np.float64)
    row.update(kp2=kp2, scores=scores, box=poses.bboxes[person].astype(np.float64))
    if frame.depth is not None:
        uv = kp2 / np.array(image_size, dtype=np.float64)
        kp3, conf = lift_keypoints(uv, frame.depth, frame.confidence, intrinsics, image_size, depth_mode,
                                   where=scores >= min_score)  # fmt: skip
        row.update(kp3=kp3, conf=conf, source=np.where(np.isfinite(kp3[:, 2]), SOURCE_DEPTH, SOURCE_NONE))
        if row["fused"]:
            z_rel = poses.keypoints_3d[person, :, 2].astype(np.float64) - float(poses.meta["root_depth"])
            fused, source, root = fuse_model_3d(kp2, scores, kp3, z_rel, intrinsics, min_score, tolerance)
            row.update(kp3=fused, source=source, root=root, conf=np.where(source == SOURCE_DEPTH, conf, 0.0))
    return row


def _assemble(
    rows: list[dict[str, Any]],
    skeleton: Skeleton,
    image_size: tuple[int, int],
    capture: Capture,
    step: int,
    depth_mode: str,
    smoothing: SmoothingMethod,
    smoothing_params: dict[str, Any],
    min_score: float,
) -> PoseSequence:
    def stack(key: str) -> np.ndarray:
        return np.stack([r[key] for r in rows])

    timestamps = np.array([r["timestamp"] for r in rows], dtype=np.float64)
    kp2, scores = stack("kp2")[:, None], stack("scores")[:, None]
    kp3 = smooth_sequence(stack("kp3")[:, None], timestamps, smoothing, **smoothing_params)
    canonical = canonicalize_any(kp3, skeleton, scores, min_score)
    fused = any(r["fused"] for r in rows)
    status = status_counts(kp2 / np.array(image_size, dtype=np.float64), scores, stack("has_depth"), min_score)
    info = capture.info
    meta: dict[str, Any] = {
        "source": {
            "kind": "rgbd_capture",
            "format": info.format,
            "num_frames": info.num_frames,
            "color_size": list(info.color_size),
            "depth_size": None if info.depth_size is None else list(info.depth_size),
            "fps": info.fps,
        },
        "skeleton": skeleton.name,
        "depth_mode": depth_mode,
        "minKeypointScore": float(min_score),
        "smoothing": {"method": smoothing, **smoothing_params},
        "people": "main person (largest box, followed by overlap)",
        "status": status.summary(),
        "3d": {
            "keypoints_3d": (DESCRIBE_FUSED if fused else DESCRIBE_MEASURED) + f" Smoothed: {smoothing}.",
            "canonical_3d": DESCRIBE_CANONICAL,
        },
    }
    if fused:
        meta["source_3d_codes"] = {str(k): v for k, v in SOURCE_CODES.items()}
        meta["source_3d"] = stack("source")[:, None].tolist()
        meta["root_depth"] = [None if not np.isfinite(r["root"]) else float(r["root"]) for r in rows]
    return PoseSequence(
        timestamps=timestamps,
        keypoints_2d=kp2,
        scores=scores,
        skeleton=skeleton,
        keypoints_3d=kp3,
        canonical_3d=canonical,
        depth_confidence=stack("conf")[:, None],
        bboxes=np.stack([np.full(4, np.nan) if r["box"] is None else r["box"] for r in rows])[:, None],
        image_size=image_size,
        intrinsics=np.array([r["intrinsics"] for r in rows], dtype=np.float64),
        fps=None if not info.fps else info.fps / step,
        space_3d="metric_depth",
        meta=meta,
    )


def write_capture_overlay(
    capture: Capture, seq: PoseSequence, settings: Settings, path: Path, progress: ProgressFn
) -> Path:
    """The capture's colour frames with the main person drawn, as an H.264 MP4 at the frames' times."""
    fps = seq.estimated_fps() or 30.0
    with VideoWriter(path, fps=fps, max_side=settings.overlay_max_side) as writer:
        for t, frame in enumerate(capture.frames(0, None, settings.frame_step)):
            if t >= seq.num_frames:
                break
            writer.write(draw_poses(frame.color, seq.frame(t), settings.keypoint_threshold),
                         time=seq.timestamps[t] - seq.timestamps[0])  # fmt: skip
            if t % 16 == 0:
                progress(t / max(seq.num_frames, 1), "drawing the overlay video")
        return writer.close()


def run_capture(job: Job) -> JobResult:
    """The capture job: open (format, frames, pixels checked before decoding), estimate the main person per
    frame, lift to metric 3D with the depth, smooth, draw the overlay video, write JSON and ZIP."""
    report, settings = job.progress, job.settings
    with open_capture(job.path, limits=job.limits) as capture:
        report(0.0, "loading the model")
        model, detector = job.models.for_job(settings)
        start = time.perf_counter()
        share = 0.85 if settings.overlay else 1.0
        seq = process_capture(capture, Framing(model, detector, settings), settings, limits=job.limits,
                              progress=lambda f, m: report(share * f, m))  # fmt: skip
        seconds = time.perf_counter() - start
        files = {}
        if settings.overlay:
            overlay = job.outputs.path("_overlay.mp4")
            files["overlay"] = write_capture_overlay(capture, seq, settings, overlay,
                                                     lambda f, m: report(share + (1 - share) * f, m))  # fmt: skip
        info = capture.info
    source = {"kind": "capture", "file": job.name, "format": info.format}
    written = write_results(seq, source, settings, job.models, job.outputs, files)
    details = {"format": info.format, "color_size": info.color_size, "depth_size": info.depth_size}
    report(1.0, "done")
    return JobResult("capture", job.name, written.document, seq, written.files, [], seconds, details)
