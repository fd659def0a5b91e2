"""``PoseSequence``: poses over time (a video, an iPhone take, an RGB-D capture).

Dense arrays over T frames, P people (tracks) and K keypoints, in the conventions of :mod:`posekit.coords`:
2D in pixels of ``image_size``, 3D in the camera frame (x right, y down, z forward, metres). A person absent
from a frame has NaN coordinates and score 0 there. Arrays are float64 so that values read from float32 files
(PoseKit takes) survive a round trip bit for bit.

When the source has no image (a PoseKit take stores only 0..1 coordinates), ``image_size`` is ``(1, 1)``:
the 2D keypoints are then the normalised coordinates, which is the same convention for a unit image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from posekit.poses import Poses, Space3D, _jsonable
from posekit.skeletons import Skeleton, get_skeleton


def _f64(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"PoseSequence.{name}: expected shape {shape}, got {arr.shape}")
    return arr


@dataclass
class PoseSequence:
    """Poses of P people over T frames, K keypoints each.

    Attributes:
        timestamps: (T,) seconds (from the source's clock; use :meth:`relative_time` for time since start).
        keypoints_2d: (T, P, K, 2) pixels of ``image_size``; NaN where the person is absent.
        scores: (T, P, K) keypoint confidences; 0 where absent or not found.
        skeleton: the keypoint schema.
        keypoints_3d: (T, P, K, 3) camera-frame metres (NaN where unknown), or None.
        canonical_3d: (T, P, K, 3) pelvis-centred canonical pose for playback (x right, y up, z forward of the
            person; see ``posekit.processing.canonical``), or None.
        depth_confidence: (T, P, K) 0..1 confidence of the depth sample behind each 3D joint, or None.
        bboxes: (T, P, 4) xyxy pixels (NaN where absent), or None.
        track_ids: (P,) int64 ids of the people, stable over the sequence.
        image_size: ``(width, height)`` of the frames the 2D keypoints live in.
        intrinsics: (T, 4) per-frame ``(fx, fy, cx, cy)`` for ``image_size``, or None.
        fps: nominal frame rate, or None (see :meth:`estimated_fps`).
        space_3d: where the 3D comes from (see ``posekit.poses.Space3D``).
        meta: the source's metadata (e.g. a take's ``meta.json``), JSON-serialisable.
    """

    timestamps: np.ndarray
    keypoints_2d: np.ndarray
    scores: np.ndarray
    skeleton: Skeleton
    keypoints_3d: np.ndarray | None = None
    canonical_3d: np.ndarray | None = None
    depth_confidence: np.ndarray | None = None
    bboxes: np.ndarray | None = None
    track_ids: np.ndarray | None = None
    image_size: tuple[int, int] = (1, 1)
    intrinsics: np.ndarray | None = None
    fps: float | None = None
    space_3d: Space3D | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.timestamps = np.asarray(self.timestamps, dtype=np.float64).reshape(-1)
        t = self.timestamps.shape[0]
        k = self.skeleton.num_keypoints
        kp = np.asarray(self.keypoints_2d, dtype=np.float64)
        if kp.ndim != 4 or kp.shape[0] != t or kp.shape[2:] != (k, 2):
            raise ValueError(f"PoseSequence.keypoints_2d: expected shape ({t}, P, {k}, 2), got {kp.shape}")
        self.keypoints_2d = kp
        p = kp.shape[1]
        self.scores = _f64("scores", self.scores, (t, p, k))
        for name, tail in (("keypoints_3d", (k, 3)), ("canonical_3d", (k, 3)), ("depth_confidence", (k,)),
                           ("bboxes", (4,))):  # fmt: skip
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, _f64(name, value, (t, p, *tail)))
        if self.intrinsics is not None:
            self.intrinsics = _f64("intrinsics", self.intrinsics, (t, 4))
        ids = np.arange(p) if self.track_ids is None else np.asarray(self.track_ids, dtype=np.int64)
        if ids.shape != (p,):
            raise ValueError(f"PoseSequence.track_ids: expected shape ({p},), got {ids.shape}")
        self.track_ids = ids
        self.image_size = (int(self.image_size[0]), int(self.image_size[1]))

    @property
    def num_frames(self) -> int:
        return int(self.timestamps.shape[0])

    @property
    def num_people(self) -> int:
        return int(self.keypoints_2d.shape[1])

    def __len__(self) -> int:
        return self.num_frames

    @property
    def present(self) -> np.ndarray:
        """(T, P) bool: the person has at least one finite 2D keypoint in the frame."""
        return np.isfinite(self.keypoints_2d).all(axis=-1).any(axis=-1)

    def relative_time(self) -> np.ndarray:
        """(T,) seconds since the first frame."""
        return self.timestamps - self.timestamps[0] if self.num_frames else self.timestamps

    def estimated_fps(self) -> float | None:
        """``fps`` if known, else the median rate of the timestamps (None for fewer than 2 frames)."""
        if self.fps:
            return float(self.fps)
        dt = np.diff(self.timestamps)
        dt = dt[dt > 0]
        return float(1.0 / np.median(dt)) if dt.size else None

    def _take(self, frames: Any = slice(None), people: Any = slice(None)) -> PoseSequence:
        def cut(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[frames][:, people]

        return replace(
            self,
            timestamps=self.timestamps[frames],
            keypoints_2d=cut(self.keypoints_2d),
            scores=cut(self.scores),
            keypoints_3d=cut(self.keypoints_3d),
            canonical_3d=cut(self.canonical_3d),
            depth_confidence=cut(self.depth_confidence),
            bboxes=cut(self.bboxes),
            track_ids=self.track_ids[people],
            intrinsics=None if self.intrinsics is None else self.intrinsics[frames],
            meta=dict(self.meta),
        )

    def frames(self, index: slice | Sequence[int] | np.ndarray) -> PoseSequence:
        """The frames at ``index`` (a slice, or indices)."""
        return self._take(frames=index)

    def people(self, index: int | Sequence[int] | np.ndarray) -> PoseSequence:
        """The people (tracks) at ``index``; an int keeps the person axis with P = 1."""
        return self._take(people=[index] if isinstance(index, (int, np.integer)) else index)

    def frame(self, t: int) -> Poses:
        """Frame ``t`` as a :class:`Poses` of the people present in it."""
        present = self.present[t]
        kp = self.keypoints_2d[t, present]
        if self.bboxes is not None:
            boxes = self.bboxes[t, present]
        else:
            boxes = np.concatenate([np.nanmin(kp, axis=1), np.nanmax(kp, axis=1)], axis=1) if len(kp) else []
        meta = dict(self.meta)
        if self.intrinsics is not None:
            meta["intrinsics"] = self.intrinsics[t].tolist()
        return Poses(
            keypoints_2d=kp,
            scores=self.scores[t, present],
            bboxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
            bbox_scores=np.ones(int(present.sum())),
            skeleton=self.skeleton,
            keypoints_3d=None if self.keypoints_3d is None else self.keypoints_3d[t, present],
            space_3d=self.space_3d,
            track_ids=self.track_ids[present],
            image_size=self.image_size,
            meta=meta,
        )

    @classmethod
    def from_frames(
        cls,
        frames: Sequence[Poses],
        timestamps: Sequence[float] | np.ndarray,
        skeleton: Skeleton | None = None,
        **kwargs: Any,
    ) -> PoseSequence:
        """Stack per-frame :class:`Poses` into a sequence.

        People are matched across frames by ``Poses.track_ids`` when every frame has them, else by their
        index in each frame. ``skeleton`` is needed only when ``frames`` is empty.
        """
        if len(frames) != len(timestamps):
            raise ValueError(f"from_frames: {len(frames)} frames but {len(timestamps)} timestamps")
        if not frames and skeleton is None:
            raise ValueError("from_frames: pass skeleton= for an empty sequence")
        skeleton = skeleton or frames[0].skeleton
        k = skeleton.num_keypoints
        use_ids = bool(frames) and all(f.track_ids is not None for f in frames)
        per_frame_ids = [f.track_ids if use_ids else np.arange(len(f)) for f in frames]
        ids = np.unique(np.concatenate(per_frame_ids)) if frames else np.zeros(0, np.int64)
        col = {int(i): c for c, i in enumerate(ids)}
        t, p = len(frames), len(ids)
        kp2 = np.full((t, p, k, 2), np.nan)
        sc = np.zeros((t, p, k))
        boxes = np.full((t, p, 4), np.nan)
        has3d = bool(frames) and all(f.keypoints_3d is not None for f in frames)
        kp3 = np.full((t, p, k, 3), np.nan) if has3d else None
        for ti, (f, fids) in enumerate(zip(frames, per_frame_ids)):
            cols = [col[int(i)] for i in fids]
            kp2[ti, cols] = f.keypoints_2d
            sc[ti, cols] = f.scores
            boxes[ti, cols] = f.bboxes
            if kp3 is not None:
                kp3[ti, cols] = f.keypoints_3d
        first = frames[0] if frames else None
        defaults: dict[str, Any] = {
            "image_size": (first.image_size if first and first.image_size else (1, 1)),
            "space_3d": first.space_3d if first else None,
        }
        defaults.update(kwargs)
        return cls(timestamps=timestamps, keypoints_2d=kp2, scores=sc, skeleton=skeleton, keypoints_3d=kp3,
                   bboxes=boxes, track_ids=ids, **defaults)  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (NaN as null) in the library's convention."""
        return {
            "skeleton": self.skeleton.name,
            "keypoint_names": list(self.skeleton.keypoint_names),
            "num_frames": self.num_frames,
            "num_people": self.num_people,
            "image_size": list(self.image_size),
            "fps": self.fps,
            "space_3d": self.space_3d,
            "track_ids": self.track_ids.tolist(),
            "timestamps": _jsonable(self.timestamps),
            "keypoints_2d": _jsonable(self.keypoints_2d),
            "scores": _jsonable(self.scores),
            "keypoints_3d": _jsonable(self.keypoints_3d),
            "canonical_3d": _jsonable(self.canonical_3d),
            "depth_confidence": _jsonable(self.depth_confidence),
            "bboxes": _jsonable(self.bboxes),
            "intrinsics": _jsonable(self.intrinsics),
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PoseSequence:
        """Inverse of :meth:`to_json` (null becomes NaN)."""
        skeleton = get_skeleton(data["skeleton"])
        t, p, k = int(data["num_frames"]), int(data["num_people"]), skeleton.num_keypoints

        def arr(key: str, tail: tuple[int, ...], lead: tuple[int, ...] = (t, p)) -> np.ndarray | None:
            if data.get(key) is None:
                return None
            shape = (*lead, *tail)
            return np.array(data[key] if np.prod(shape) else [], dtype=np.float64).reshape(shape)

        return cls(
            timestamps=arr("timestamps", (), (t,)),
            keypoints_2d=arr("keypoints_2d", (k, 2)),
            scores=arr("scores", (k,)),
            skeleton=skeleton,
            keypoints_3d=arr("keypoints_3d", (k, 3)),
            canonical_3d=arr("canonical_3d", (k, 3)),
            depth_confidence=arr("depth_confidence", (k,)),
            bboxes=arr("bboxes", (4,)),
            track_ids=np.asarray(data["track_ids"], dtype=np.int64),
            image_size=tuple(data["image_size"]),
            intrinsics=arr("intrinsics", (4,), (t,)),
            fps=data.get("fps"),
            space_3d=data.get("space_3d"),
            meta=dict(data.get("meta") or {}),
        )
