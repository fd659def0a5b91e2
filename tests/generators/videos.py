"""Synthetic videos with known ground truth, written with PyAV by the tests themselves.

Each person is a "figure": a filled rectangle of its own saturated colour (so an oracle can find it again in
decoded pixels, see :mod:`generators.fake_models`) with a white stick figure on it. Its keypoints are
:data:`TEMPLATE` (COCO17+2, unit coordinates in the figure's box) mapped into the box, so the ground truth of
every frame is known exactly from the boxes the generator drew.

Scenarios: one figure walking (:func:`walking_video`), two figures crossing (:func:`crossing_video`), a figure
hidden for a few frames (:func:`occlusion_video`), any of them with rotation metadata, variable frame rate, or
in other containers (:func:`write_video`), and a corrupt tail (:func:`corrupt_tail`).

Test files import these as ``from generators.videos import walking_video``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from posekit.skeletons import POSEKIT_COCO17_2

# Unit coordinates (x right, y down) in the figure's box of the 19 COCO17+2 joints, facing the camera
# (the person's left on the image's right); all inside [0.1, 0.9] so drawn bones stay inside the box.
TEMPLATE = np.array([
    (0.50, 0.10), (0.54, 0.08), (0.46, 0.08), (0.58, 0.11), (0.42, 0.11),  # nose, eyes, ears
    (0.68, 0.25), (0.32, 0.25), (0.80, 0.40), (0.20, 0.40), (0.86, 0.55), (0.14, 0.55),  # arms
    (0.60, 0.55), (0.40, 0.55), (0.62, 0.74), (0.38, 0.74), (0.63, 0.90), (0.37, 0.90),  # legs
    (0.50, 0.55), (0.50, 0.25),  # pelvis, neck
])  # fmt: skip

FIGURE_COLORS_BGR = ((40, 40, 230), (40, 210, 40), (230, 120, 20))
"""Colour of figure 0, 1, 2 (red, green, blue); the background is dark grey."""

BACKGROUND_BGR = (60, 60, 60)


def template_keypoints(box: Sequence[float]) -> np.ndarray:
    """(19, 2) pixels: :data:`TEMPLATE` mapped into ``box`` ``[x1, y1, x2, y2]``."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return np.array([x1, y1]) + TEMPLATE * np.array([x2 - x1, y2 - y1])


@dataclass
class Clip:
    """What a generator wrote.

    Attributes:
        path: the video file.
        times: (T,) presentation times in seconds.
        boxes: (T, F, 4) box of each figure in each frame, upright pixels; NaN where a figure is not drawn.
        size: ``(width, height)`` of the upright frames.
    """

    path: Path
    times: np.ndarray
    boxes: np.ndarray
    size: tuple[int, int]

    @property
    def num_frames(self) -> int:
        return len(self.times)

    def keypoints(self) -> np.ndarray:
        """(T, F, 19, 2) ground-truth keypoints (NaN where a figure is not drawn)."""
        unit = TEMPLATE[None, None]
        b = self.boxes[:, :, None, :]
        return b[..., :2] + unit * (b[..., 2:] - b[..., :2])


def draw_frame(size: tuple[int, int], boxes: np.ndarray) -> np.ndarray:
    """An upright (H, W, 3) BGR frame with figure ``f`` drawn in ``boxes[f]`` (skipped where NaN), in order."""
    w, h = size
    image = np.empty((h, w, 3), np.uint8)
    image[:] = BACKGROUND_BGR
    for f, box in enumerate(boxes):
        if not np.isfinite(box).all():
            continue
        x1, y1, x2, y2 = np.round(box).astype(int)
        cv2.rectangle(image, (x1, y1), (x2 - 1, y2 - 1), FIGURE_COLORS_BGR[f], -1)
        kp = np.round(template_keypoints(box)).astype(int)
        thickness = max(1, round((x2 - x1) / 20))
        for a, b in POSEKIT_COCO17_2.edges:
            cv2.line(image, tuple(kp[a]), tuple(kp[b]), (255, 255, 255), thickness, cv2.LINE_AA)
    return image


def write_video(
    path: str | Path,
    frames: Sequence[np.ndarray],
    fps: float = 25.0,
    times: Sequence[float] | None = None,
    rotation: int = 0,
    rotate_tag: int | None = None,
    codec: str = "libx264",
    faststart: bool = False,
) -> Path:
    """Write upright BGR ``frames`` to ``path`` with PyAV (the container follows the extension).

    Args:
        times: presentation time of each frame in seconds (variable frame rate); None: ``1/fps`` apart.
        rotation: degrees counter-clockwise a player must turn the stored frames (display matrix, as phones
            write it: an iPhone held upright gives -90); the frames are stored turned the other way.
        rotate_tag: instead of a display matrix, the legacy ``rotate`` tag (degrees clockwise), Matroska only.
        codec: ``libx264`` (MP4, MOV, MKV), ``libvpx``/``libvpx-vp9`` (WebM), ``mpeg4`` (AVI).
    """
    path = Path(path)
    display_ccw = (rotation if rotate_tag is None else -rotate_tag) % 360
    stored_turn = {0: None, 90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    stored_turn = stored_turn[display_ccw]
    options = {"movflags": "+faststart"} if faststart else {}
    container = av.open(str(path), mode="w", options=options)
    time_base = Fraction(1, 1000)
    stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
    h, w = frames[0].shape[:2]
    stream.width, stream.height = (h, w) if display_ccw in (90, 270) else (w, h)
    stream.pix_fmt = "yuv420p"
    if times is not None:
        stream.codec_context.time_base = time_base
    if rotation:
        stream.set_display_rotation(rotation)
    if rotate_tag is not None:
        stream.metadata["rotate"] = str(rotate_tag)
    for i, image in enumerate(frames):
        stored = image if stored_turn is None else cv2.rotate(image, stored_turn)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(stored), format="bgr24")
        if times is not None:
            frame.pts, frame.time_base = round(times[i] / time_base), time_base
        else:
            frame.pts = i
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def _clip(path: Path, boxes: np.ndarray, size: tuple[int, int], fps: float, times: np.ndarray | None, **kw) -> Clip:
    frames = [draw_frame(size, b) for b in boxes]
    write_video(path, frames, fps=fps, times=times, **kw)
    t = np.arange(len(frames)) / fps if times is None else np.asarray(times, dtype=np.float64)
    return Clip(path=Path(path), times=t, boxes=boxes, size=size)


def walking_boxes(num_frames: int, size: tuple[int, int], speed: float = 4.0, start_x: float = 20.0) -> np.ndarray:
    """(T, 1, 4): one figure about half the frame high, walking right at ``speed`` pixels per frame."""
    w, h = size
    fh = round(0.5 * h)
    fw = round(0.4 * fh)
    x = start_x + speed * np.arange(num_frames)
    y = 0.3 * h
    return np.stack([x, np.full_like(x, y), x + fw, np.full_like(x, y + fh)], axis=-1)[:, None]


def walking_video(
    path: str | Path, num_frames: int = 24, size: tuple[int, int] = (320, 240), fps: float = 25.0,
    times: np.ndarray | None = None, **kw,
) -> Clip:  # fmt: skip
    """One figure walking left to right. ``kw`` go to :func:`write_video` (rotation, codec...)."""
    return _clip(Path(path), walking_boxes(num_frames, size), size, fps, times, **kw)


def crossing_boxes(num_frames: int, size: tuple[int, int]) -> np.ndarray:
    """(T, 2, 4): figure 0 walks right, figure 1 walks left, a little lower, crossing it mid-clip."""
    w, h = size
    fh = round(0.45 * h)
    fw = round(0.4 * fh)
    t = np.arange(num_frames) / max(num_frames - 1, 1)
    x0 = 0.05 * w + t * (0.95 * w - fw - 0.05 * w)
    x1 = 0.95 * w - fw - t * (0.95 * w - fw - 0.05 * w)
    y0, y1 = 0.15 * h, 0.35 * h
    a = np.stack([x0, np.full_like(x0, y0), x0 + fw, np.full_like(x0, y0 + fh)], axis=-1)
    b = np.stack([x1, np.full_like(x1, y1), x1 + fw, np.full_like(x1, y1 + fh)], axis=-1)
    return np.stack([a, b], axis=1)


def crossing_video(
    path: str | Path, num_frames: int = 30, size: tuple[int, int] = (320, 240), fps: float = 25.0, **kw
) -> Clip:
    """Two figures crossing (figure 1 drawn over figure 0)."""
    return _clip(Path(path), crossing_boxes(num_frames, size), size, fps, None, **kw)


def occlusion_video(
    path: str | Path, num_frames: int = 30, size: tuple[int, int] = (320, 240), fps: float = 25.0,
    hidden: tuple[int, int] = (12, 16), **kw,
) -> Clip:  # fmt: skip
    """One figure walking, not drawn in frames ``hidden[0] <= t < hidden[1]`` (it walks on meanwhile)."""
    boxes = walking_boxes(num_frames, size)
    boxes[hidden[0] : hidden[1]] = np.nan
    return _clip(Path(path), boxes, size, fps, None, **kw)


def variable_rate_times(num_frames: int, seed: int = 0) -> np.ndarray:
    """(T,) increasing times with intervals of 1/60 .. 1/10 s (whole milliseconds), from 0."""
    rng = np.random.default_rng(seed)
    steps = rng.integers(17, 100, size=num_frames - 1) / 1000.0
    return np.concatenate([[0.0], np.cumsum(steps)])


def corrupt_tail(src: str | Path, dst: str | Path, keep: float = 0.6, mode: str = "garbage") -> Path:
    """Copy ``src`` to ``dst`` with its end damaged: ``"garbage"`` overwrites the bytes after the ``keep``
    fraction with random ones, ``"truncate"`` cuts them off. Write ``src`` with ``faststart=True`` so the
    index stays readable."""
    data = bytearray(Path(src).read_bytes())
    cut = int(len(data) * keep)
    if mode == "garbage":
        data[cut:] = np.random.default_rng(0).integers(0, 256, len(data) - cut, dtype=np.uint8).tobytes()
    elif mode == "truncate":
        del data[cut:]
    else:
        raise ValueError(f"corrupt_tail: mode must be 'garbage' or 'truncate', got {mode!r}")
    Path(dst).write_bytes(bytes(data))
    return Path(dst)
