"""A synthetic RGB-D scene with known ground truth: one standing person made of capsules, in front of a wall.

Geometry (posekit's camera frame: metres, x right, y down, z forward; pixel ``(i, j)`` is at ``x = i``,
``y = j``, see :mod:`posekit.coords`):

* The person stands on a floor plane ``y = camera_height`` (the camera is ``camera_height`` above the floor),
  faces the camera (their left side is on the image's right), pelvis about ``distance`` metres away. Joints
  are the COCO17+2 layout of :data:`posekit.skeletons.POSEKIT_COCO17_2` (17 COCO joints, then Pelvis and
  Neck, the midpoints of the hips and of the shoulders). With ``motion > 0`` the person sways sideways,
  turns a little about the vertical axis and raises the left arm sideways over the frames.
* The body is a union of capsules around the bones (and a sphere for the head); the floor and a wall
  ``z = wall_depth`` close the background. Depth is ray-cast exactly at every depth pixel centre.
* Confidence follows ARKit's levels: 2 on surfaces up to 3.5 m, 1 farther (the wall) and on silhouettes
  (depth jumps over 10 cm to a 4-neighbour), 0 beyond 5 m and in the invalid-depth hole.
* The colour image is the same ray cast at a larger resolution with the same aspect ratio (as on an
  iPhone): a flat colour per surface (skin, shirt, trousers, shoes, wall, floor) shaded by its slope to the
  view, so silhouettes are outlined, plus two eyes; colour and depth agree on every occlusion.

Ground truth and tolerances:

* ``joints_2d`` are the exact projections of ``joints_3d`` with the colour intrinsics.
* ``joint_depth`` is the z of the **front surface** along the ray through each joint, computed analytically
  by the same ray cast as the depth map. A depth sensor sees that surface, not the joint centre inside the
  body, so back-projecting ``joints_2d`` at ``joint_depth`` gives ``surface_3d``, which lies on the ray
  through the joint, ``joint_offset = joints_3d[..., 2] - joint_depth`` metres in front of it: about the
  radius of the primitive the ray enters first. In the default scene: nose 0.003, eyes 0.01, ears 0.03 to
  0.07 (the head's side), shoulders 0.08, elbows 0.045, wrists 0.035, hips 0.08 to 0.10, knees 0.07,
  ankles 0.06, Pelvis and Neck 0.12 m (inside the torso). A joint hidden behind another body part gets that
  part's surface (a larger offset).
* The depth map is exact at pixel centres, so sampling it with nearest neighbour at a joint's normalised
  position (``x / W * w``, ``y / H * h``) differs from ``joint_depth`` by the surface's z change over at
  most half a depth pixel (about 0.6 cm at 2.5 m for 256x192 depth): at most 1 cm for every joint of the
  default scene (``tests/test_scene.py`` checks it), more where a ray grazes a silhouette.
* Stored depth is quantised by the capture formats: float16 (Record3D EXR) to under 1 mm below 4 m,
  millimetre PNGs (Stray Scanner, generic ZIP) to 0.5 mm; float32 (``.r3d``, ``.npy``) is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from posekit.coords import Intrinsics, project, scale_intrinsics
from posekit.skeletons import POSEKIT_COCO17_2, Skeleton

# Rest pose in the person's frame: metres, x towards the person's left, y up from the floor, z backwards
# (negative z faces the camera). Order of POSEKIT_NAMES; Pelvis and Neck are filled in as midpoints.
_REST = np.array([
    [0.0, 1.62, -0.095],  # Nose
    [0.035, 1.665, -0.08], [-0.035, 1.665, -0.08],  # eyes
    [0.09, 1.64, 0.0], [-0.09, 1.64, 0.0],  # ears
    [0.19, 1.45, 0.0], [-0.19, 1.45, 0.0],  # shoulders
    [0.26, 1.18, 0.02], [-0.26, 1.18, 0.02],  # elbows
    [0.30, 0.93, -0.02], [-0.30, 0.93, -0.02],  # wrists
    [0.10, 0.95, 0.0], [-0.10, 0.95, 0.0],  # hips
    [0.11, 0.52, -0.02], [-0.11, 0.52, -0.02],  # knees
    [0.12, 0.09, 0.02], [-0.12, 0.09, 0.02],  # ankles
    [0.0, 0.0, 0.0], [0.0, 0.0, 0.0],  # Pelvis, Neck (derived)
])  # fmt: skip
_HEAD_CENTRE = np.array([0.0, 1.64, 0.0])
_HEAD_RADIUS = 0.10

# Capsules as (joint a, joint b, radius m, part); -1 is the head centre, -2 / -3 the left / right toe.
_CAPSULES = (
    (-1, -1, _HEAD_RADIUS, "skin"),
    (18, -1, 0.05, "skin"),
    (17, 18, 0.12, "shirt"), (11, 5, 0.08, "shirt"), (12, 6, 0.08, "shirt"),
    (5, 7, 0.045, "shirt"), (6, 8, 0.045, "shirt"), (7, 9, 0.035, "skin"), (8, 10, 0.035, "skin"),
    (11, 13, 0.07, "trousers"), (12, 14, 0.07, "trousers"), (13, 15, 0.05, "trousers"), (14, 16, 0.05, "trousers"),
    (15, -2, 0.04, "shoes"), (16, -3, 0.04, "shoes"),
)  # fmt: skip
_PART_BGR = {"skin": (120, 160, 220), "shirt": (180, 90, 40), "trousers": (60, 50, 40), "shoes": (30, 30, 30)}
_WALL_BGR, _FLOOR_BGR = (205, 215, 220), (90, 120, 150)
FLOOR, WALL = -1, -2
"""Hit codes of the background surfaces (body hits are capsule indices >= 0)."""


@dataclass
class Scene:
    """A rendered synthetic RGB-D sequence with ground truth; T frames, K = 19 joints.

    Attributes:
        skeleton: :data:`~posekit.skeletons.POSEKIT_COCO17_2`.
        color_size: ``(W, H)`` of the colour images.
        depth_size: ``(w, h)`` of the depth and confidence maps.
        intrinsics: ``(fx, fy, cx, cy)`` of the colour images.
        depth_intrinsics: the same camera for the depth maps (``intrinsics`` scaled by ``w / W``, ``h / H``).
        fps: frame rate; ``timestamps = arange(T) / fps``.
        timestamps: (T,) seconds.
        joints_3d: (T, K, 3) joint centres, camera frame, metres.
        joints_2d: (T, K, 2) their projections, colour-image pixels.
        joint_depth: (T, K) z of the front surface along the ray through each joint, metres.
        color: (T, H, W, 3) uint8 BGR.
        depth: (T, h, w) float32 metres, NaN in the invalid hole.
        confidence: (T, h, w) uint8 0..2.
        body_mask: (T, h, w) bool, depth pixels that see the person.
    """

    skeleton: Skeleton
    color_size: tuple[int, int]
    depth_size: tuple[int, int]
    intrinsics: Intrinsics
    depth_intrinsics: Intrinsics
    fps: float
    timestamps: np.ndarray
    joints_3d: np.ndarray
    joints_2d: np.ndarray
    joint_depth: np.ndarray
    color: np.ndarray
    depth: np.ndarray
    confidence: np.ndarray
    body_mask: np.ndarray

    @property
    def num_frames(self) -> int:
        return len(self.timestamps)

    @property
    def joint_offset(self) -> np.ndarray:
        """(T, K) metres from the seen surface to the joint centre along z (``joints_3d z - joint_depth``)."""
        return self.joints_3d[..., 2] - self.joint_depth

    @property
    def surface_3d(self) -> np.ndarray:
        """(T, K, 3) the surface point a depth sensor sees at each joint's pixel (the 3D a back-projection
        of ``joints_2d`` at the sensed depth recovers)."""
        return self.joints_3d * (self.joint_depth / self.joints_3d[..., 2])[..., None]


def default_intrinsics(color_size: tuple[int, int]) -> Intrinsics:
    """A phone-like camera for ``color_size = (W, H)``: ~65 degrees horizontal field of view, fx and fy a
    little different and the principal point off centre, so that swapped or unscaled values show up."""
    w, h = color_size
    return (0.78 * w, 0.781 * w, 0.5 * w + 0.0125 * w, 0.5 * h - 0.01 * h)


def make_scene(
    num_frames: int = 4,
    color_size: tuple[int, int] = (640, 480),
    depth_size: tuple[int, int] = (256, 192),
    fps: float = 30.0,
    distance: float = 2.5,
    wall_depth: float = 4.0,
    camera_height: float = 1.0,
    motion: float = 1.0,
    hole: bool = True,
    intrinsics: Intrinsics | None = None,
) -> Scene:
    """Render the scene.

    Args:
        num_frames: T.
        color_size: ``(W, H)`` of the colour images.
        depth_size: ``(w, h)`` of the depth maps (LiDAR: 256x192).
        fps: frame rate of the timestamps.
        distance: metres from the camera to the person's pelvis (z, before the motion's small turn).
        wall_depth: z of the background wall, metres.
        camera_height: metres from the camera down to the floor.
        motion: 0 for a still person; 1 for a sideways sway of +-0.15 m, a turn of +-0.3 rad about the
            vertical axis and a sideways raise of the left arm by up to 1.2 rad, over one period spanning the
            frames.
        hole: mark a block in the top-left corner of every depth map invalid (NaN, confidence 0), as
            LiDAR dropouts are, so readers' handling of invalid depth is exercised.
        intrinsics: colour intrinsics; :func:`default_intrinsics` when None.
    """
    k = intrinsics or default_intrinsics(color_size)
    kd = scale_intrinsics(k, color_size, depth_size)
    timestamps = np.arange(num_frames) / fps
    phase = 2 * np.pi * np.arange(num_frames) / max(num_frames, 1)
    joints, heads, toes = _pose_sequence(phase, motion, distance, camera_height)
    depth_rays, color_rays = _pixel_rays(depth_size, kd), _pixel_rays(color_size, k)
    depth, conf, body, joint_depth, color = [], [], [], [], []
    for t in range(num_frames):
        caps = _capsules(joints[t], heads[t], toes[t])
        z, hit = _cast(depth_rays, caps, wall_depth, camera_height)
        z = z.astype(np.float32)
        c = _confidence(z)
        if hole:
            bh, bw = max(1, depth_size[1] // 16), max(1, depth_size[0] // 16)
            z[:bh, :bw] = np.nan
            c[:bh, :bw] = 0
        depth.append(z)
        conf.append(c)
        body.append(hit >= 0)
        joint_depth.append(_cast(joints[t] / joints[t][:, 2:], caps, wall_depth, camera_height)[0])
        z_color, hit_color = _cast(color_rays, caps, wall_depth, camera_height)
        color.append(_paint(z_color, hit_color, joints[t], heads[t], k))
    return Scene(
        skeleton=POSEKIT_COCO17_2,
        color_size=tuple(color_size),
        depth_size=tuple(depth_size),
        intrinsics=k,
        depth_intrinsics=kd,
        fps=fps,
        timestamps=timestamps,
        joints_3d=joints,
        joints_2d=project(joints, k),
        joint_depth=np.stack(joint_depth),
        color=np.stack(color),
        depth=np.stack(depth),
        confidence=np.stack(conf),
        body_mask=np.stack(body),
    )


def _rot_y(angle: np.ndarray) -> np.ndarray:
    """(T,) radians -> (T, 3, 3) rotations about the camera's vertical axis."""
    c, s = np.cos(angle), np.sin(angle)
    zero, one = np.zeros_like(angle), np.ones_like(angle)
    return np.stack([np.stack([c, zero, s], -1), np.stack([zero, one, zero], -1), np.stack([-s, zero, c], -1)], -2)


def _pose_sequence(
    phase: np.ndarray, motion: float, distance: float, camera_height: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Joints (T, 19, 3), head centres (T, 3) and toes (T, 2, 3) in the camera frame."""
    t = len(phase)
    local = np.broadcast_to(_REST, (t, *_REST.shape)).copy()
    # Wave: raise the left elbow and wrist sideways about the left shoulder, in the person's frontal plane.
    wave = 1.2 * motion * (1 - np.cos(phase)) / 2
    c, s = np.cos(wave)[:, None], np.sin(wave)[:, None]
    shoulder = local[:, 5, :2][:, None]
    arm = local[:, [7, 9], :2] - shoulder
    local[:, [7, 9], 0] = shoulder[..., 0] + c * arm[..., 0] - s * arm[..., 1]
    local[:, [7, 9], 1] = shoulder[..., 1] + s * arm[..., 0] + c * arm[..., 1]
    local[:, 17] = local[:, [11, 12]].mean(1)
    local[:, 18] = local[:, [5, 6]].mean(1)
    toes = local[:, [15, 16]] + np.array([0.0, -0.05, -0.14])
    head = np.broadcast_to(_HEAD_CENTRE, (t, 3))
    pelvis_height = local[0, 17, 1]

    def to_camera(p: np.ndarray) -> np.ndarray:
        # Person frame (y up, origin at the pelvis height) -> camera frame (y down), turned and placed.
        q = p * np.array([1.0, -1.0, 1.0]) + np.array([0.0, pelvis_height, 0.0])
        rot = _rot_y(0.3 * motion * np.sin(phase))
        shift = np.stack(
            [0.15 * motion * np.sin(phase), np.full(t, camera_height - pelvis_height), np.full(t, distance)], -1
        )
        flat = q.reshape(t, -1, 3)
        return (np.einsum("tij,tnj->tni", rot, flat) + shift[:, None]).reshape(p.shape)

    return to_camera(local), to_camera(head[:, None])[:, 0], to_camera(toes)


def _capsules(joints: np.ndarray, head: np.ndarray, toes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Capsule end points a, b (C, 3) and radii (C,) for one frame."""
    points = np.concatenate([joints, toes[::-1], head[None]])  # index -1 head, -2 left toe, -3 right toe
    ia = np.array([c[0] for c in _CAPSULES])
    ib = np.array([c[1] for c in _CAPSULES])
    radius = np.array([c[2] for c in _CAPSULES])
    return points[ia], points[ib], radius


def _pixel_rays(size: tuple[int, int], k: Intrinsics) -> np.ndarray:
    """(h, w, 3) ray directions with z = 1 through every pixel centre."""
    fx, fy, cx, cy = k
    u, v = np.meshgrid(np.arange(size[0]), np.arange(size[1]))
    return np.stack([(u - cx) / fx, (v - cy) / fy, np.ones(u.shape)], -1)


def _cast(
    rays: np.ndarray, caps: tuple[np.ndarray, np.ndarray, np.ndarray], wall_depth: float, camera_height: float
) -> tuple[np.ndarray, np.ndarray]:
    """First hit along rays from the camera centre.

    Args:
        rays: (N, 3) directions, or an (h, w, 3) grid from :func:`_pixel_rays`, with z = 1 (so the ray
            parameter is the depth z).
        caps: capsules (a (C, 3), b (C, 3), radius (C,)), all in front of the camera.

    Returns:
        ``(z, hit)`` shaped like ``rays[..., 0]``: depth of the first surface, and what it is: the capsule
        index, or :data:`FLOOR` or :data:`WALL`.
    """
    with np.errstate(divide="ignore"):
        t_floor = np.where(rays[..., 1] > 0, camera_height / rays[..., 1], np.inf)
    z = np.minimum(t_floor, wall_depth)
    hit = np.where(t_floor < wall_depth, FLOOR, WALL)
    for i, (a, b, r) in enumerate(zip(*caps, strict=True)):
        window = _window(rays, a, b, r)
        t = _hit_capsule(rays[window], a, b, r)
        closer = t < z[window]
        z[window] = np.where(closer, t, z[window])
        hit[window] = np.where(closer, i, hit[window])
    return z, hit


def _window(rays: np.ndarray, a: np.ndarray, b: np.ndarray, r: float) -> tuple[slice, ...]:
    """The part of a ray grid that can see a capsule (its projection's bounding box); all of a ray list."""
    if rays.ndim != 3:
        return (slice(None),)
    ends = np.stack([a, b])
    centre = ends[:, :2] / ends[:, 2:]
    margin = 1.01 * r / (ends[:, 2:] - r)
    lo, hi = (centre - margin).min(0), (centre + margin).max(0)
    cols, rows = rays[0, :, 0], rays[:, 0, 1]
    return (
        slice(np.searchsorted(rows, lo[1]), np.searchsorted(rows, hi[1], "right")),
        slice(np.searchsorted(cols, lo[0]), np.searchsorted(cols, hi[0], "right")),
    )


def _hit_capsule(rays: np.ndarray, a: np.ndarray, b: np.ndarray, r: float) -> np.ndarray:
    """(...) ray parameter of the first hit of each ray (..., 3) with one capsule (inf for a miss)."""
    dd = np.einsum("...i,...i->...", rays, rays)
    t_best = np.full(dd.shape, np.inf)
    # Spheres at both ends: |t d - p|^2 = r^2.
    for p in (a, b):
        dp = rays @ p
        disc = dp**2 - dd * (p @ p - r**2)
        t = (dp - np.sqrt(np.maximum(disc, 0))) / dd
        t_best = np.minimum(t_best, np.where((disc >= 0) & (t > 0), t, np.inf))
    length = float(np.linalg.norm(b - a))
    if length == 0:
        return t_best
    # Cylinder wall: |t d_perp - a_perp|^2 = r^2, with the axis parameter inside the segment.
    unit = (b - a) / length
    da = rays @ unit
    aa = a @ unit
    qa = dd - da**2
    qb = -2 * (rays @ a - da * aa)
    qc = a @ a - aa**2 - r**2
    disc = qb**2 - 4 * qa * qc
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (-qb - np.sqrt(np.maximum(disc, 0))) / (2 * qa)
    s = t * da - aa
    ok = (disc >= 0) & (qa > 1e-12) & (t > 0) & (s >= 0) & (s <= length)
    return np.minimum(t_best, np.where(ok, t, np.inf))


def _confidence(z: np.ndarray) -> np.ndarray:
    """ARKit-like levels from an exact depth map: 2 near, 1 far or at silhouettes, 0 beyond 5 m."""
    conf = np.where(z <= 3.5, 2, np.where(z <= 5.0, 1, 0)).astype(np.uint8)
    padded = np.pad(z, 1, mode="edge")
    jump = np.zeros(z.shape, bool)
    for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
        jump |= np.abs(padded[dy : dy + z.shape[0], dx : dx + z.shape[1]] - z) > 0.1
    conf[jump] = np.minimum(conf[jump], 1)
    return conf


def _paint(z: np.ndarray, hit: np.ndarray, joints: np.ndarray, head: np.ndarray, k: Intrinsics) -> np.ndarray:
    """Colour image from a ray cast at colour resolution: a flat colour per surface, shaded by the cosine
    between the surface and the view (from the depth gradient), which also outlines silhouettes; then eyes."""
    fx, fy = k[0], k[1]
    palette = np.array([_PART_BGR[c[3]] for c in _CAPSULES] + [_FLOOR_BGR, _WALL_BGR], np.float64)
    base = palette[np.where(hit >= 0, hit, len(_CAPSULES) - 1 - hit)]
    gy, gx = np.gradient(z)
    slope2 = (gx * fx / z) ** 2 + (gy * fy / z) ** 2
    image = (base * (0.35 + 0.65 / np.sqrt(1 + slope2))[..., None]).round().astype(np.uint8)
    if joints[0, 2] < head[2]:  # the face is towards the camera: draw the eyes
        shift = 4  # OpenCV fixed-point bits, for sub-pixel positions
        eye_r = max(1, round(0.012 * fx / head[2] * (1 << shift)))
        for p in project(joints[1:3], k):
            centre = tuple(int(v) for v in np.round(p * (1 << shift)))
            cv2.circle(image, centre, eye_r, (40, 30, 20), -1, cv2.LINE_AA, shift)
    return image
