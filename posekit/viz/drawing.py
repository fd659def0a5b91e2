"""Drawing poses on images (BGR in, BGR out), colour-coded per body part, readable at any size."""

from __future__ import annotations

import cv2
import numpy as np

from posekit.poses import Poses

TRACK_PALETTE_RGB = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
)  # fmt: skip


def track_color_rgb(track_id: int) -> tuple[int, int, int]:
    """A distinct RGB colour per person / track id (cycles after 10)."""
    return TRACK_PALETTE_RGB[int(track_id) % len(TRACK_PALETTE_RGB)]


def _line_width(height: int, width: int) -> int:
    # About 1 px per 400 px of the shorter side keeps bones visible on 4K frames and thin on thumbnails.
    return max(1, round(min(height, width) / 400))


def draw_poses(
    image: np.ndarray,
    poses: Poses,
    keypoint_threshold: float = 0.3,
    draw_boxes: bool = True,
    draw_ids: bool = True,
) -> np.ndarray:
    """Draw skeletons (and boxes, track ids) of ``poses`` on a copy of ``image``.

    Args:
        image: (H, W, 3) uint8 BGR.
        poses: people to draw; keypoints with score < ``keypoint_threshold`` and bones touching them are
            skipped. Bones and joints take their part's colour; boxes and ids take the person's colour.

    Returns:
        (H, W, 3) uint8 BGR, a new array.
    """
    canvas = np.ascontiguousarray(image.copy())
    h, w = canvas.shape[:2]
    lw = _line_width(h, w)
    skeleton = poses.skeleton
    kpt_bgr = skeleton.keypoint_colors()[:, ::-1].astype(int).tolist()
    edge_bgr = skeleton.edge_colors()[:, ::-1].astype(int).tolist()
    parts = skeleton.keypoint_part()
    # Face and hand joints are dense: small dots keep them legible.
    radius = [max(1, lw) if p in ("face", "left_hand", "right_hand") else lw + 2 for p in parts]
    shift = 4  # fixed-point sub-pixel drawing
    scale = 1 << shift

    for i in range(len(poses)):
        xy = poses.keypoints_2d[i]
        ok = (poses.scores[i] >= keypoint_threshold) & np.isfinite(xy).all(axis=1)
        pts = np.round(np.nan_to_num(xy) * scale).astype(np.int64)
        for (a, b), color in zip(skeleton.edges, edge_bgr):
            if ok[a] and ok[b]:
                cv2.line(canvas, tuple(pts[a]), tuple(pts[b]), color, lw + 1, cv2.LINE_AA, shift)
        for k in np.flatnonzero(ok):
            cv2.circle(canvas, tuple(pts[k]), radius[k] * scale, kpt_bgr[k], -1, cv2.LINE_AA, shift)
        person = poses.track_ids[i] if poses.track_ids is not None else i
        color = track_color_rgb(person)[::-1]
        x1, y1, x2, y2 = np.nan_to_num(poses.bboxes[i]).round().astype(int).tolist()
        if draw_boxes and x2 > x1 and y2 > y1:
            cv2.rectangle(canvas, (x1, y1), (x2, y2), color, lw, cv2.LINE_AA)
        if draw_ids and poses.track_ids is not None:
            font = 0.5 * lw + 0.2
            cv2.putText(canvas, f"#{person}", (x1 + lw, max(y1 - 3 * lw, 12 * lw)),
                        cv2.FONT_HERSHEY_SIMPLEX, font, color, lw, cv2.LINE_AA)  # fmt: skip
    return canvas
