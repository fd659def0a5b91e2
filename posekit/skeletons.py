"""Keypoint schemas: COCO-WholeBody 133 (RTMW3D) and PoseKit's COCO17+2, and the mapping between them.

Every array of keypoints in posekit is ordered as its :class:`Skeleton`'s ``keypoint_names``. Colours are
RGB tuples of 0..255 (use :meth:`Skeleton.color_bgr` for OpenCV drawing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

COCO17_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

COCO17_EDGES: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip

PART_COLORS: dict[str, tuple[int, int, int]] = {
    "body": (51, 153, 255),
    "feet": (0, 200, 120),
    "face": (255, 255, 255),
    "left_hand": (255, 128, 0),
    "right_hand": (255, 51, 153),
}


@dataclass(frozen=True)
class Skeleton:
    """A keypoint schema.

    Attributes:
        name: schema identifier, e.g. ``"coco_wholebody"`` or ``"COCO17+2"``.
        keypoint_names: one name per keypoint, in storage order (K names).
        edges: pairs of keypoint indices drawn as bones.
        parts: part name -> indices of its keypoints; every keypoint belongs to exactly one part.
        part_colors: part name -> RGB colour.
    """

    name: str
    keypoint_names: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    parts: dict[str, tuple[int, ...]]
    part_colors: dict[str, tuple[int, int, int]] = field(default_factory=lambda: dict(PART_COLORS))

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    def keypoint_part(self) -> list[str]:
        """The part name of each keypoint, length K."""
        out = [""] * self.num_keypoints
        for part, indices in self.parts.items():
            for i in indices:
                out[i] = part
        return out

    def keypoint_colors(self) -> np.ndarray:
        """(K, 3) uint8 RGB colour of each keypoint, from its part."""
        return np.array([self.part_colors[p] for p in self.keypoint_part()], dtype=np.uint8)

    def edge_colors(self) -> np.ndarray:
        """(E, 3) uint8 RGB colour of each edge: the part of its second keypoint (the limb end)."""
        colors = self.keypoint_colors()
        return np.array([colors[b] for _, b in self.edges], dtype=np.uint8).reshape(-1, 3)

    def color_bgr(self, part: str) -> tuple[int, int, int]:
        r, g, b = self.part_colors[part]
        return (b, g, r)

    def index(self, name: str) -> int:
        """Index of a keypoint by name; raises ``KeyError`` naming the valid names."""
        try:
            return self.keypoint_names.index(name)
        except ValueError:
            raise KeyError(
                f"{name!r} is not a keypoint of {self.name}; expected one of {self.keypoint_names}"
            ) from None


def _hand(side: str, root: int) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
    fingers = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")
    names = [f"{side}_hand_root"] + [f"{side}_{f}{j}" for f in fingers for j in range(1, 5)]
    edges = []
    for f in range(5):
        chain = [root] + [root + 1 + 4 * f + j for j in range(4)]
        edges += list(zip(chain[:-1], chain[1:]))
    return tuple(names), tuple(edges)


def _face_edges(first: int) -> tuple[tuple[int, int], ...]:
    # The 68-point iBUG layout, as polylines: jaw, brows, nose bridge, nostrils, eyes (closed), lips (closed).
    runs = [(0, 16, False), (17, 21, False), (22, 26, False), (27, 30, False), (31, 35, False),
            (36, 41, True), (42, 47, True), (48, 59, True), (60, 67, True)]  # fmt: skip
    edges = []
    for a, b, closed in runs:
        idx = list(range(first + a, first + b + 1))
        edges += list(zip(idx[:-1], idx[1:]))
        if closed:
            edges.append((idx[-1], idx[0]))
    return tuple(edges)


def _wholebody() -> Skeleton:
    feet = ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")
    face = tuple(f"face_{i}" for i in range(68))
    left_names, left_edges = _hand("left", 91)
    right_names, right_edges = _hand("right", 112)
    names = COCO17_NAMES + feet + face + left_names + right_names
    feet_edges = ((15, 17), (15, 18), (15, 19), (16, 20), (16, 21), (16, 22))
    wrist_edges = ((9, 91), (10, 112))
    edges = COCO17_EDGES + feet_edges + _face_edges(23) + wrist_edges + left_edges + right_edges
    parts = {
        "body": tuple(range(0, 17)),
        "feet": tuple(range(17, 23)),
        "face": tuple(range(23, 91)),
        "left_hand": tuple(range(91, 112)),
        "right_hand": tuple(range(112, 133)),
    }
    return Skeleton("coco_wholebody", names, edges, parts)


POSEKIT_NAMES: tuple[str, ...] = (
    "Nose", "L-Eye", "R-Eye", "L-Ear", "R-Ear", "L-Shoulder", "R-Shoulder", "L-Elbow", "R-Elbow",
    "L-Wrist", "R-Wrist", "L-Hip", "R-Hip", "L-Knee", "R-Knee", "L-Ankle", "R-Ankle", "Pelvis", "Neck",
)  # fmt: skip


def _posekit() -> Skeleton:
    n = {name: i for i, name in enumerate(POSEKIT_NAMES)}
    pairs = (
        ("L-Ankle", "L-Knee"), ("L-Knee", "L-Hip"), ("L-Hip", "Pelvis"), ("Pelvis", "R-Hip"),
        ("R-Hip", "R-Knee"), ("R-Knee", "R-Ankle"), ("L-Wrist", "L-Elbow"), ("L-Elbow", "L-Shoulder"),
        ("L-Shoulder", "Neck"), ("Neck", "R-Shoulder"), ("R-Shoulder", "R-Elbow"), ("R-Elbow", "R-Wrist"),
        ("Neck", "Nose"), ("Nose", "L-Eye"), ("Nose", "R-Eye"), ("L-Eye", "L-Ear"), ("R-Eye", "R-Ear"),
        ("L-Shoulder", "R-Shoulder"), ("L-Hip", "R-Hip"),
    )  # fmt: skip
    edges = tuple((n[a], n[b]) for a, b in pairs)
    return Skeleton("COCO17+2", POSEKIT_NAMES, edges, {"body": tuple(range(19))})


COCO_WHOLEBODY = _wholebody()
POSEKIT_COCO17_2 = _posekit()

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (COCO_WHOLEBODY, POSEKIT_COCO17_2)}

PELVIS_FROM = (11, 12)  # COCO-17 left hip, right hip
NECK_FROM = (5, 6)  # COCO-17 left shoulder, right shoulder


def get_skeleton(name: str) -> Skeleton:
    """Look a skeleton up by name (``"coco_wholebody"`` or ``"COCO17+2"``)."""
    if name not in SKELETONS:
        raise KeyError(f"unknown skeleton {name!r}; expected one of {sorted(SKELETONS)}")
    return SKELETONS[name]


def derive_pelvis_neck(keypoints: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Append Pelvis and Neck to COCO-17 keypoints, as the PoseKit app's ``buildJoints2D`` does.

    Args:
        keypoints: (..., 17, D) COCO-17 keypoints, any D (2D pixels or 3D).
        scores: (..., 17) keypoint scores.

    Returns:
        ``(keypoints (..., 19, D), scores (..., 19))``: Pelvis = midpoint of the hips, Neck = midpoint of the
        shoulders, each scored with the minimum of its two sources.
    """
    if keypoints.shape[-2] != 17 or scores.shape[-1] != 17:
        raise ValueError(f"expected 17 COCO keypoints, got keypoints {keypoints.shape} and scores {scores.shape}")
    pelvis = (keypoints[..., PELVIS_FROM[0], :] + keypoints[..., PELVIS_FROM[1], :]) / 2
    neck = (keypoints[..., NECK_FROM[0], :] + keypoints[..., NECK_FROM[1], :]) / 2
    pelvis_s = np.minimum(scores[..., PELVIS_FROM[0]], scores[..., PELVIS_FROM[1]])
    neck_s = np.minimum(scores[..., NECK_FROM[0]], scores[..., NECK_FROM[1]])
    kpts = np.concatenate([keypoints, pelvis[..., None, :], neck[..., None, :]], axis=-2)
    sc = np.concatenate([scores, pelvis_s[..., None], neck_s[..., None]], axis=-1)
    return kpts, sc


def wholebody_to_posekit(keypoints: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map COCO-WholeBody 133 keypoints (..., 133, D) to COCO17+2 (..., 19, D): the first 17, plus the
    derived Pelvis and Neck."""
    if keypoints.shape[-2] != 133:
        raise ValueError(f"expected 133 COCO-WholeBody keypoints, got shape {keypoints.shape}")
    return derive_pelvis_neck(keypoints[..., :17, :], scores[..., :17])
