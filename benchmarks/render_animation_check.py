"""Look at an exported animation in Blender next to posekit's own skeleton at the same frame.

Writes a walking sequence (the test generator's) as BVH, imports it in Blender (background, factory
settings), turns the posed armature's bones into cylinders and renders them with Cycles on the CPU through an
orthographic camera placed where posekit's camera is (looking along its z axis, so the two views match). Next
to it: posekit's 3D keypoints at the same frame, drawn with OpenCV under the same orthographic projection;
then the two overlaid. If Cycles cannot render here, the bones' head/tail positions that Blender reports are
drawn instead. Saves one PNG (default ``/tmp/anim_check.png``).

Run from the repository root (needs ``blender`` on PATH)::

    python benchmarks/render_animation_check.py [--frame 15] [--out /tmp/anim_check.png]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from generators.motions import walking_sequence  # noqa: E402

from posekit.io.animation import export_animation  # noqa: E402

SIZE = (480, 640)  # width, height of each panel
ORTHO = 2.4  # metres across the panel's width

# Runs inside Blender: import, pose, bones -> cylinders, render; prints the bones' head/tail positions.
BLENDER_SCRIPT = r"""
import json, sys
import bpy
from mathutils import Vector
import io_anim_bvh.import_bvh as import_bvh
_open = open  # Debian's Blender 3.4 opens BVH files with mode "rU", which Python 3.11 removed
import_bvh.open = lambda path, mode="r", *a, **k: _open(path, mode.replace("U", ""), *a, **k)

bvh, png, frame, cx, cz, ortho, w, h = sys.argv[sys.argv.index("--") + 1:]
frame, cx, cz, ortho, w, h = int(frame), float(cx), float(cz), float(ortho), int(w), int(h)
scene = bpy.context.scene
for obj in list(scene.objects):
    bpy.data.objects.remove(obj)
bpy.ops.import_anim.bvh(filepath=bvh, global_scale=0.01)
arm = next(o for o in scene.objects if o.type == "ARMATURE")
scene.frame_set(1 + frame)
bones = {}
material = bpy.data.materials.new("bone")
material.diffuse_color = (0.9, 0.55, 0.15, 1.0)
for pb in arm.pose.bones:
    head, tail = arm.matrix_world @ pb.head, arm.matrix_world @ pb.tail
    bones[pb.name] = [list(head), list(tail)]
    axis = tail - head
    if axis.length < 1e-4:
        continue
    bpy.ops.mesh.primitive_cylinder_add(radius=0.018, depth=axis.length, location=(head + tail) / 2)
    cyl = bpy.context.object
    cyl.rotation_mode = "QUATERNION"
    cyl.rotation_quaternion = Vector((0, 0, 1)).rotation_difference(axis.normalized())
    cyl.data.materials.append(material)
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.03, location=head)
cam_data = bpy.data.cameras.new("cam")
cam_data.type, cam_data.ortho_scale, cam_data.sensor_fit = "ORTHO", ortho, "HORIZONTAL"
cam = bpy.data.objects.new("cam", cam_data)
cam.location, cam.rotation_euler = (cx, -10.0, cz), (1.5707963, 0.0, 0.0)  # looks along +Y, up +Z
scene.collection.objects.link(cam)
scene.camera = cam
sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
sun.rotation_euler = (0.9, 0.2, 0.3)
scene.collection.objects.link(sun)
scene.world.color = (0.92, 0.92, 0.92)
scene.render.engine = "CYCLES"
scene.cycles.device, scene.cycles.samples, scene.cycles.use_denoising = "CPU", 16, False
scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = w, h, 100
scene.render.filepath = png
rendered = True
try:
    bpy.ops.render.render(write_still=True)
except RuntimeError as e:
    rendered = str(e)
print("POSEKIT_RESULT " + json.dumps({"bones": bones, "rendered": rendered, "bone_count": len(arm.data.bones)}))
"""


def to_pixels(blender_xyz: np.ndarray, cx: float, cz: float) -> np.ndarray:
    """(..., 3) Blender world metres -> (..., 2) pixels of the orthographic view (x right, z up)."""
    w, h = SIZE
    scale = w / ORTHO
    return np.stack([(blender_xyz[..., 0] - cx) * scale + w / 2, h / 2 - (blender_xyz[..., 2] - cz) * scale], -1)


def camera_to_blender(p: np.ndarray) -> np.ndarray:
    """posekit camera frame -> rig frame (x, -y, -z) -> Blender's import of it (x, -z, y): (x, z, -y)."""
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], -1)


def draw_skeleton(
    image: np.ndarray, points: np.ndarray, edges: list[tuple[int, int]], color: tuple[int, int, int]
) -> None:
    for a, b in edges:
        if np.isfinite(points[[a, b]]).all():
            cv2.line(image, tuple(np.round(points[a]).astype(int)), tuple(np.round(points[b]).astype(int)), color, 3)
    for p in points[np.isfinite(points).all(-1)]:
        cv2.circle(image, tuple(np.round(p).astype(int)), 5, color, -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frame", type=int, default=15)
    parser.add_argument("--out", type=Path, default=Path("/tmp/anim_check.png"))
    args = parser.parse_args()
    blender = shutil.which("blender")
    if blender is None:
        sys.exit("blender is not on PATH (e.g. apt-get install blender)")
    seq = walking_sequence()
    body = list(range(23))  # COCO body and feet: what the rig animates besides the head points
    edges = [(a, b) for a, b in seq.skeleton.edges if a in body and b in body]
    points = camera_to_blender(seq.keypoints_3d[args.frame, 0, body])
    pelvis = points[[11, 12]].mean(0)
    with tempfile.TemporaryDirectory() as tmp:
        bvh = export_animation(seq, Path(tmp) / "walk.bvh")
        png = Path(tmp) / "render.png"
        script = Path(tmp) / "render.py"
        script.write_text(BLENDER_SCRIPT)
        env = {**os.environ, "PATH": f"{Path(blender).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        cmd = [blender, "--background", "--factory-startup", "--python", str(script), "--", str(bvh), str(png),
               str(args.frame), str(pelvis[0]), str(pelvis[2]), str(ORTHO), str(SIZE[0]), str(SIZE[1])]  # fmt: skip
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
        lines = [line for line in run.stdout.splitlines() if line.startswith("POSEKIT_RESULT ")]
        if not lines:
            sys.exit(f"Blender printed no result:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
        result = json.loads(lines[-1].split(" ", 1)[1])
        render = cv2.imread(str(png)) if result["rendered"] is True else None
    bones = {k: np.array(v) for k, v in result["bones"].items()}
    if render is None:  # no render engine here: draw the bones Blender reports
        print(f"Cycles did not render ({result['rendered']}); drawing Blender's bone positions instead")
        render = np.full((SIZE[1], SIZE[0], 3), 235, np.uint8)
        for head, tail in bones.values():
            a, b = to_pixels(np.stack([head, tail]), pelvis[0], pelvis[2]).round().astype(int)
            cv2.line(render, tuple(a), tuple(b), (40, 140, 230), 4)
    ours = np.full_like(render, 255)
    pix = to_pixels(points, pelvis[0], pelvis[2])
    draw_skeleton(ours, pix, edges, (180, 90, 40))
    overlay = render.copy()
    draw_skeleton(overlay, pix, edges, (0, 0, 220))
    labels = (f"Blender: BVH import, frame {args.frame + 1}", f"posekit 3D keypoints, frame {args.frame}",
              "overlay (red: posekit)")  # fmt: skip
    panels = []
    for image, label in zip((render, ours, overlay), labels):
        image = image.copy()
        cv2.putText(image, label, (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
        panels.append(image)
    cv2.imwrite(str(args.out), np.concatenate(panels, axis=1))
    hand = bones["LeftHand"][0]
    want = points[9]
    gap = np.linalg.norm(hand - want) * 100
    print(f"{result['bone_count']} bones; left wrist in Blender {hand.round(4)}, posekit's input {want.round(4)} m: "
          f"{gap:.2f} cm apart (the input's own bone lengths, not the rig's)")  # fmt: skip
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
