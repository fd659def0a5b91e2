"""The PoseKit app's capture status (``PosePipeline.buildStatusMessages``), vectorised over frames.

Per frame the app reports: depth unavailable; the joints whose 2D score is below ``minKeypointScore``
(low confidence); the joints whose normalised 2D lies outside 0..1 (out of frame); or "ok".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posekit.skeletons import Skeleton


@dataclass
class StatusCounts:
    """Status over a sequence of T frames (P people).

    Attributes:
        depth_unavailable: (T,) bool, the frame had no depth map.
        low_confidence: (T, P) number of joints scored below the minimum (absent people count 0).
        out_of_frame: (T, P) number of joints outside the image.
    """

    depth_unavailable: np.ndarray
    low_confidence: np.ndarray
    out_of_frame: np.ndarray

    def summary(self) -> dict[str, float | int]:
        """JSON-friendly totals: frames without depth, mean low-confidence and out-of-frame joints per frame."""
        frames = max(len(self.depth_unavailable), 1)
        return {
            "frames": int(len(self.depth_unavailable)),
            "frames_without_depth": int(self.depth_unavailable.sum()),
            "low_confidence_joints_per_frame": float(self.low_confidence.sum() / frames),
            "out_of_frame_joints_per_frame": float(self.out_of_frame.sum() / frames),
        }


def _masks(uv: np.ndarray, scores: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray]:
    present = np.isfinite(uv).all(axis=-1)
    with np.errstate(invalid="ignore"):
        low = present & ~(scores >= min_score)
        outside = present & ((uv < 0) | (uv > 1)).any(axis=-1)
    return low, outside


def status_counts(uv: np.ndarray, scores: np.ndarray, has_depth: np.ndarray, min_score: float) -> StatusCounts:
    """Counts of the app's status conditions.

    Args:
        uv: (T, P, K, 2) normalised 2D (NaN where a person is absent).
        scores: (T, P, K) 2D scores.
        has_depth: (T,) bool, the frame had a depth map.
        min_score: the minimum keypoint score.
    """
    low, outside = _masks(np.asarray(uv, dtype=np.float64), np.asarray(scores, dtype=np.float64), min_score)
    return StatusCounts(~np.asarray(has_depth, dtype=bool), low.sum(axis=-1), outside.sum(axis=-1))


def status_messages(
    uv: np.ndarray, scores: np.ndarray, has_depth: bool, min_score: float, skeleton: Skeleton
) -> list[str]:
    """One frame's messages as the app shows them: ``"depth unavailable"``, ``"low confidence: <names>"``,
    ``"out of frame: <names>"``, or ``["ok"]``.

    Args:
        uv: (K, 2) normalised 2D of one person; scores: (K,).
    """
    low, outside = _masks(np.asarray(uv, dtype=np.float64), np.asarray(scores, dtype=np.float64), min_score)
    names = np.array(skeleton.keypoint_names)
    messages = [] if has_depth else ["depth unavailable"]
    if low.any():
        messages.append("low confidence: " + ", ".join(names[low]))
    if outside.any():
        messages.append("out of frame: " + ", ".join(names[outside]))
    return messages or ["ok"]
