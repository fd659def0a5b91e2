"""Smoothing of tracked people frame by frame, as they arrive: the filters of
:func:`~posekit.processing.smoothing.smooth_pose_sequence`, one per track, updated online.

A live stream cannot wait for the whole sequence, so each track keeps its own streaming filter
(:func:`~posekit.processing.smoothing.make_filter`), fed one frame at a time. The rules are those of the batch
smoother, so a stream smoothed here equals the recorded sequence smoothed afterwards:

* 2D keypoints are filtered in units of the larger image side (One-Euro's ``beta`` then means the same for 2D
  and for 3D in metres); 3D as it is.
* A track absent from a frame restarts its filter when it comes back (the batch smoother sees NaN there).
* Scores, boxes and ids pass through.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from posekit.poses import Poses
from posekit.processing.smoothing import EMASmoother, OneEuroFilter, make_filter, smoothing_params


class TrackSmoother:
    """Online per-track smoothing of :class:`~posekit.poses.Poses` with ``track_ids``.

    Args:
        method: ``"one_euro"``, ``"ema"`` or ``"none"``.
        strength: the 0..1 knob of :func:`~posekit.processing.smoothing.smoothing_params` (None: the method's
            defaults).
        params: the filter's own parameters instead (``min_cutoff``, ``beta``, ``alpha``...).
    """

    def __init__(self, method: str = "one_euro", strength: float | None = None, **params: Any) -> None:
        self.method = method
        self.params = {**smoothing_params(method, strength), **params}
        self._filters: dict[int, tuple[EMASmoother | OneEuroFilter, EMASmoother | OneEuroFilter | None]] = {}

    def reset(self) -> None:
        """Forget every track (a new stream, or a new frame size)."""
        self._filters = {}

    @property
    def meta(self) -> dict[str, Any]:
        """What a sequence smoothed this way records as ``meta["smoothing"]`` (as the batch smoother writes it)."""
        return {"method": self.method, **{k: v for k, v in self.params.items() if isinstance(v, (int, float, bool))}}

    def _new(self) -> EMASmoother | OneEuroFilter:
        return make_filter(self.method, **dict(self.params))  # type: ignore[arg-type, return-value]

    def update(self, poses: Poses, t: float) -> Poses:
        """The next frame's poses, smoothed (a copy); ``t`` in seconds, increasing.

        Raises:
            ValueError: ``poses`` without ``track_ids`` (smoothing follows people, so they must be tracked).
        """
        if self.method == "none":
            return poses
        if poses.track_ids is None:
            raise ValueError("TrackSmoother.update: expected tracked poses (track_ids set), got none")
        unit = float(max(poses.image_size)) if poses.image_size else 1.0
        kp2 = poses.keypoints_2d.astype(np.float64) / unit
        kp3 = None if poses.keypoints_3d is None else poses.keypoints_3d.astype(np.float64)
        out2 = np.empty_like(kp2)
        out3 = None if kp3 is None else np.empty_like(kp3)
        kept = {}
        for i, tid in enumerate(poses.track_ids.tolist()):
            f2, f3 = self._filters.get(tid) or (self._new(), None)
            out2[i] = f2.update(kp2[i], t)
            if kp3 is not None:
                f3 = f3 or self._new()
                out3[i] = f3.update(kp3[i], t)  # type: ignore[index]
            kept[tid] = (f2, f3)
        self._filters = kept  # the tracks not seen now start afresh when they come back
        return replace(poses, keypoints_2d=out2 * unit, keypoints_3d=out3, meta=dict(poses.meta))


__all__ = ["TrackSmoother"]
