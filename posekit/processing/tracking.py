"""Person tracking across video frames: stable ids by box overlap and keypoint similarity.

A track keeps its id while it is matched frame after frame; it survives up to ``max_age`` frames without a
match (a short occlusion, a missed detection), during which its box moves on at its last velocity; a person
matched to no track gets a new id. Matching is greedy on a similarity that averages the box IoU and the
keypoint similarity (OKS) against each track's predicted position, best pairs first.

Also here: boxes carried forward from keypoints between detections (:func:`boxes_from_keypoints`).

Coordinates are pixels of one image size throughout; boxes are ``[x1, y1, x2, y2]``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from posekit.poses import Poses

OKS_KAPPA = 0.1
"""Keypoint fall-off as a fraction of the box's size: a keypoint ``0.1 * sqrt(area)`` away scores exp(-1/2).
About COCO's per-keypoint constants (2 sigma: 0.05 for eyes .. 0.18 for hips) on average."""


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` (N, 4) and ``b`` (M, 4), xyxy; returns (N, M) in 0..1 (0 for empty boxes)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def keypoint_similarity(
    kp_a: np.ndarray, valid_a: np.ndarray, kp_b: np.ndarray, valid_b: np.ndarray, areas_b: np.ndarray
) -> np.ndarray:
    """Pairwise object keypoint similarity with one fall-off for every keypoint.

    Args:
        kp_a: (N, K, 2) pixels; valid_a: (N, K) bool.
        kp_b: (M, K, 2) pixels; valid_b: (M, K) bool; areas_b: (M,) box areas in pixels^2 (the scale).

    Returns:
        (N, M): mean over the keypoints valid in both of ``exp(-d^2 / (2 area kappa^2))``; NaN where no
        keypoint is valid in both.
    """
    d2 = ((kp_a[:, None] - kp_b[None]) ** 2).sum(axis=-1)  # (N, M, K)
    scale = 2.0 * np.maximum(areas_b, 1.0)[None, :, None] * OKS_KAPPA**2
    both = valid_a[:, None] & valid_b[None]
    sim = np.where(both, np.exp(-d2 / scale), 0.0).sum(axis=-1)
    count = both.sum(axis=-1)
    return np.divide(sim, count, out=np.full(sim.shape, np.nan), where=count > 0)


def boxes_from_keypoints(
    keypoints: np.ndarray,
    scores: np.ndarray,
    threshold: float = 0.3,
    pad: float = 0.1,
    image_size: tuple[int, int] | None = None,
    min_keypoints: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes around keypoints, to carry people forward to the next frame without a detector.

    Args:
        keypoints: (N, K, 2) pixels.
        scores: (N, K) confidences; keypoints below ``threshold`` (or not finite) are ignored.
        pad: fraction of the keypoints' extent added on each side (keypoints lie inside the body: the top of
            the head, the hands' and feet's ends are outside them).
        image_size: ``(width, height)`` to clip the boxes to, or None.
        min_keypoints: a person with fewer valid keypoints gets no box.

    Returns:
        ``boxes`` (M, 4) float32 xyxy of the people kept and ``kept`` (M,) their indices in the input.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    valid = (np.asarray(scores) >= threshold) & np.isfinite(keypoints).all(axis=-1)
    kept = np.flatnonzero(valid.sum(axis=1) >= min_keypoints)
    if not kept.size:
        return np.zeros((0, 4), np.float32), kept
    kp, ok = keypoints[kept], valid[kept, :, None]
    lo = np.where(ok, kp, np.inf).min(axis=1)
    hi = np.where(ok, kp, -np.inf).max(axis=1)
    margin = pad * (hi - lo) + 2.0  # + 2 px so that a person seen edge-on still gets a box
    boxes = np.concatenate([lo - margin, hi + margin], axis=1)
    if image_size is not None:
        w, h = image_size
        boxes = np.clip(boxes, 0, [w, h, w, h])
        # A person walking out of the frame leaves a box clipped to nothing: nobody left to carry.
        inside = ((boxes[:, 2] - boxes[:, 0]) >= 1.0) & ((boxes[:, 3] - boxes[:, 1]) >= 1.0)
        boxes, kept = boxes[inside], kept[inside]
    return boxes.astype(np.float32), kept


@dataclass
class _Track:
    id: int
    box: np.ndarray  # (4,) last matched box
    velocity: np.ndarray  # (4,) box change per frame
    keypoints: np.ndarray | None  # (K, 2) last matched keypoints
    valid: np.ndarray | None  # (K,) bool
    missed: int = 0  # frames since the last match
    hits: int = 1

    def predicted(self) -> tuple[np.ndarray, np.ndarray | None]:
        steps = self.missed + 1
        box = self.box + steps * self.velocity
        if self.keypoints is None:
            return box, None
        shift = steps * 0.5 * (self.velocity[:2] + self.velocity[2:])  # the box centre's motion
        return box, self.keypoints + shift


class Tracker:
    """Online multi-person tracker: call :meth:`update` (or :meth:`track`) once per frame, in order.

    Args:
        max_age: frames a track survives without a match (its id comes back if the person reappears
            within it).
        min_similarity: a person and a track are matched only above this similarity (0..1).
        keypoint_threshold: keypoints below this score are ignored for the keypoint similarity.
        smoothing: weight of the new measurement in the track's velocity (1 = last displacement only).

    Ids are 0, 1, 2... in order of first appearance and never reused.
    """

    def __init__(
        self, max_age: int = 30, min_similarity: float = 0.1, keypoint_threshold: float = 0.3, smoothing: float = 0.6
    ) -> None:
        if max_age < 0:
            raise ValueError(f"Tracker: expected max_age >= 0, got {max_age}")
        if not 0.0 <= min_similarity < 1.0:
            raise ValueError(f"Tracker: expected min_similarity in [0, 1), got {min_similarity}")
        self.max_age = max_age
        self.min_similarity = min_similarity
        self.keypoint_threshold = keypoint_threshold
        self.smoothing = smoothing
        self.reset()

    def reset(self) -> None:
        self._tracks: list[_Track] = []
        self._next_id = 0

    @property
    def active_ids(self) -> list[int]:
        """Ids of the tracks alive now (matched recently enough)."""
        return [t.id for t in self._tracks]

    def _similarity(self, boxes: np.ndarray, keypoints: np.ndarray | None, valid: np.ndarray | None) -> np.ndarray:
        predicted = [t.predicted() for t in self._tracks]
        pred_boxes = np.stack([p[0] for p in predicted])
        sim = box_iou(pred_boxes, boxes)
        if keypoints is None or any(t.keypoints is None for t in self._tracks):
            return sim
        pred_kp = np.stack([p[1] for p in predicted])
        pred_valid = np.stack([t.valid for t in self._tracks])
        areas = np.clip(boxes[:, 2:] - boxes[:, :2], 0, None).prod(axis=-1)
        oks = keypoint_similarity(pred_kp, pred_valid, keypoints, valid, areas)
        return np.where(np.isnan(oks), sim, 0.5 * (sim + np.nan_to_num(oks)))

    def update(
        self,
        boxes: np.ndarray,
        keypoints: np.ndarray | None = None,
        keypoint_scores: np.ndarray | None = None,
    ) -> np.ndarray:
        """Match the people of the next frame to the tracks.

        Args:
            boxes: (N, 4) xyxy pixels.
            keypoints: (N, K, 2) pixels, or None to match by boxes alone.
            keypoint_scores: (N, K), needed with ``keypoints``.

        Returns:
            (N,) int64 track ids.
        """
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        n = len(boxes)
        valid = None
        if keypoints is not None:
            keypoints = np.asarray(keypoints, dtype=np.float64)
            if keypoint_scores is None or len(keypoints) != n:
                raise ValueError("Tracker.update: keypoints need keypoint_scores, one row per box")
            valid = (np.asarray(keypoint_scores) >= self.keypoint_threshold) & np.isfinite(keypoints).all(axis=-1)
            keypoints = np.nan_to_num(keypoints)
        ids = np.full(n, -1, dtype=np.int64)
        matched_tracks: set[int] = set()
        if self._tracks and n:
            sim = self._similarity(boxes, keypoints, valid)
            order = np.argsort(-sim, axis=None, kind="stable")
            for flat in order:
                ti, di = divmod(int(flat), n)
                if sim[ti, di] <= self.min_similarity:
                    break
                if ids[di] >= 0 or ti in matched_tracks:
                    continue
                ids[di] = self._tracks[ti].id
                matched_tracks.add(ti)
                self._refresh(self._tracks[ti], boxes[di], keypoints, valid, di)
        for ti, track in enumerate(self._tracks):
            if ti not in matched_tracks:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_age]
        for di in np.flatnonzero(ids < 0):
            ids[di] = self._next_id
            self._tracks.append(
                _Track(
                    id=self._next_id,
                    box=boxes[di].copy(),
                    velocity=np.zeros(4),
                    keypoints=None if keypoints is None else keypoints[di].copy(),
                    valid=None if valid is None else valid[di].copy(),
                )
            )
            self._next_id += 1
        return ids

    def _refresh(
        self, track: _Track, box: np.ndarray, keypoints: np.ndarray | None, valid: np.ndarray | None, di: int
    ) -> None:
        step = (box - track.box) / (track.missed + 1)
        track.velocity = step if track.hits == 1 else self.smoothing * step + (1 - self.smoothing) * track.velocity
        track.box = box.copy()
        if keypoints is not None and valid is not None:
            track.keypoints, track.valid = keypoints[di].copy(), valid[di].copy()
        track.missed = 0
        track.hits += 1

    def track(self, poses: Poses) -> Poses:
        """``poses`` of the next frame with ``track_ids`` set (a copy)."""
        ids = self.update(poses.bboxes, poses.keypoints_2d, poses.scores)
        return replace(poses, track_ids=ids, meta=dict(poses.meta))
