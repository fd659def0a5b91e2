"""``Poses``: the result of pose estimation on one image.

Conventions are those of :mod:`posekit.coords`: 2D in original image pixels, 3D in the camera frame
(x right, y down, z forward, metres). The dict view (``poses["keypoints_3d"]``, :meth:`Poses.to_dict`) is the
RTMPose3D wrapper's API and gives 3D in its Z-up convention, so code written for that wrapper keeps working.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from posekit.coords import camera_to_seed
from posekit.skeletons import Skeleton, get_skeleton

Space3D = Literal["model", "metric_depth", "phone"]
"""Where 3D comes from: ``"model"`` (RTMW3D's root-relative 3D placed at a nominal depth with nominal
intrinsics: shape is right, absolute scale and position are not), ``"metric_depth"`` (joints back-projected
with a measured depth map and real intrinsics), ``"phone"`` (computed on the iPhone by the PoseKit app)."""

DICT_KEYS = ("keypoints_3d", "keypoints_2d", "scores", "bboxes")


def _as_float32(name: str, value: Any, shape: tuple[int | None, ...]) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float32)
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"Poses.{name}: expected shape {want}, got {arr.shape}")
    return arr


@dataclass
class Poses:
    """Poses of N people in one image, in one skeleton of K keypoints.

    Attributes:
        keypoints_2d: (N, K, 2) float32, original image pixels.
        scores: (N, K) float32 keypoint confidences (0 for a keypoint that was not found).
        bboxes: (N, 4) float32 person boxes ``[x1, y1, x2, y2]`` in pixels.
        bbox_scores: (N,) float32 detector scores (1 for boxes the caller gave).
        skeleton: the keypoint schema.
        keypoints_3d: (N, K, 3) float32 camera-frame metres (NaN where unknown), or None for 2D-only models.
        space_3d: where ``keypoints_3d`` comes from (see :data:`Space3D`), None without 3D.
        track_ids: (N,) int64 person track ids in a sequence, or None.
        image_size: ``(width, height)`` of the image the 2D keypoints live in, or None.
        meta: free-form extras (e.g. the intrinsics used), JSON-serialisable.
    """

    keypoints_2d: np.ndarray
    scores: np.ndarray
    bboxes: np.ndarray
    bbox_scores: np.ndarray
    skeleton: Skeleton
    keypoints_3d: np.ndarray | None = None
    space_3d: Space3D | None = None
    track_ids: np.ndarray | None = None
    image_size: tuple[int, int] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        k = self.skeleton.num_keypoints
        self.keypoints_2d = _as_float32("keypoints_2d", self.keypoints_2d, (None, k, 2))
        n = self.keypoints_2d.shape[0]
        self.scores = _as_float32("scores", self.scores, (n, k))
        self.bboxes = _as_float32("bboxes", self.bboxes, (n, 4))
        self.bbox_scores = _as_float32("bbox_scores", self.bbox_scores, (n,))
        if self.keypoints_3d is not None:
            self.keypoints_3d = _as_float32("keypoints_3d", self.keypoints_3d, (n, k, 3))
        if self.track_ids is not None:
            ids = np.asarray(self.track_ids, dtype=np.int64)
            if ids.shape != (n,):
                raise ValueError(f"Poses.track_ids: expected shape ({n},), got {ids.shape}")
            self.track_ids = ids

    @classmethod
    def empty(cls, skeleton: Skeleton, with_3d: bool = False, **kwargs: Any) -> Poses:
        """No people: correctly shaped arrays with N = 0."""
        k = skeleton.num_keypoints
        return cls(
            keypoints_2d=np.zeros((0, k, 2), np.float32),
            scores=np.zeros((0, k), np.float32),
            bboxes=np.zeros((0, 4), np.float32),
            bbox_scores=np.zeros((0,), np.float32),
            skeleton=skeleton,
            keypoints_3d=np.zeros((0, k, 3), np.float32) if with_3d else None,
            **kwargs,
        )

    def __len__(self) -> int:
        return int(self.keypoints_2d.shape[0])

    @property
    def num_people(self) -> int:
        return len(self)

    def select(self, index: int | slice | Sequence[int] | np.ndarray) -> Poses:
        """The people at ``index`` (an int keeps the person axis, with N = 1)."""
        idx = [index] if isinstance(index, (int, np.integer)) else index
        return replace(
            self,
            keypoints_2d=self.keypoints_2d[idx],
            scores=self.scores[idx],
            bboxes=self.bboxes[idx],
            bbox_scores=self.bbox_scores[idx],
            keypoints_3d=None if self.keypoints_3d is None else self.keypoints_3d[idx],
            track_ids=None if self.track_ids is None else self.track_ids[idx],
            meta=dict(self.meta),
        )

    # The RTMPose3D wrapper's dict API.
    def keys(self) -> tuple[str, ...]:
        return DICT_KEYS if self.keypoints_3d is not None else DICT_KEYS[1:]

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __getitem__(self, key: str) -> np.ndarray:
        if not isinstance(key, str):
            raise TypeError(f"Poses[...] takes a key among {self.keys()}; use Poses.select() for people")
        if key not in self.keys():
            raise KeyError(f"{key!r}: expected one of {self.keys()}")
        return self.to_dict()[key]

    def to_dict(self, return_tensors: Literal["np", "pt"] = "np", device: Any = None) -> dict[str, Any]:
        """The RTMPose3D wrapper's output dict.

        Returns:
            ``keypoints_3d`` (N, K, 3) metres in the wrapper's Z-up convention (:func:`camera_to_seed`;
            only with 3D), ``keypoints_2d`` (N, K, 2) pixels, ``scores`` (N, K), ``bboxes`` (N, 4) xyxy; numpy
            arrays, or torch tensors (on ``device``) with ``return_tensors="pt"``.
        """
        out: dict[str, Any] = {}
        if self.keypoints_3d is not None:
            out["keypoints_3d"] = camera_to_seed(self.keypoints_3d)
        out["keypoints_2d"] = self.keypoints_2d
        out["scores"] = self.scores
        out["bboxes"] = self.bboxes
        if return_tensors == "pt":
            import torch

            return {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in out.items()}
        if return_tensors != "np":
            raise ValueError(f"return_tensors: expected 'np' or 'pt', got {return_tensors!r}")
        return out

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict in the library's own convention (NaN becomes null)."""
        return {
            "skeleton": self.skeleton.name,
            "num_people": len(self),
            "image_size": list(self.image_size) if self.image_size else None,
            "space_3d": self.space_3d,
            "keypoints_2d": _jsonable(self.keypoints_2d),
            "scores": _jsonable(self.scores),
            "bboxes": _jsonable(self.bboxes),
            "bbox_scores": _jsonable(self.bbox_scores),
            "keypoints_3d": _jsonable(self.keypoints_3d),
            "track_ids": None if self.track_ids is None else self.track_ids.tolist(),
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Poses:
        """Inverse of :meth:`to_json` (null becomes NaN)."""
        skeleton = get_skeleton(data["skeleton"])
        k = skeleton.num_keypoints
        n = int(data["num_people"])

        def arr(key: str, shape: tuple[int, ...]) -> np.ndarray:
            return np.array(data[key] if n else [], dtype=np.float64).reshape(shape)

        return cls(
            keypoints_2d=arr("keypoints_2d", (n, k, 2)),
            scores=arr("scores", (n, k)),
            bboxes=arr("bboxes", (n, 4)),
            bbox_scores=arr("bbox_scores", (n,)),
            skeleton=skeleton,
            keypoints_3d=None if data.get("keypoints_3d") is None else arr("keypoints_3d", (n, k, 3)),
            space_3d=data.get("space_3d"),
            track_ids=None if data.get("track_ids") is None else np.asarray(data["track_ids"]),
            image_size=tuple(data["image_size"]) if data.get("image_size") else None,
            meta=dict(data.get("meta") or {}),
        )


def _jsonable(a: np.ndarray | None) -> Any:
    """Nested lists of Python floats, with NaN and infinities as None (JSON has no NaN)."""
    if a is None:
        return None
    obj = a.astype(np.float64).astype(object)
    obj[~np.isfinite(a)] = None
    return obj.tolist()


def concatenate(items: Sequence[Poses]) -> Poses:
    """Stack the people of several ``Poses`` of one skeleton into one."""
    if not items:
        raise ValueError("concatenate: expected at least one Poses")
    first = items[0]
    if any(p.skeleton.name != first.skeleton.name for p in items):
        raise ValueError("concatenate: all Poses must share one skeleton")
    has3d = all(p.keypoints_3d is not None for p in items)
    has_ids = all(p.track_ids is not None for p in items)
    return replace(
        first,
        keypoints_2d=np.concatenate([p.keypoints_2d for p in items]),
        scores=np.concatenate([p.scores for p in items]),
        bboxes=np.concatenate([p.bboxes for p in items]),
        bbox_scores=np.concatenate([p.bbox_scores for p in items]),
        keypoints_3d=np.concatenate([p.keypoints_3d for p in items]) if has3d else None,
        track_ids=np.concatenate([p.track_ids for p in items]) if has_ids else None,
        meta=dict(first.meta),
    )
