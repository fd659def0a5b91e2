"""Blender imports posekit's BVH and glTF and puts the wrists where posekit does (skipped without Blender).

Axes: posekit's rig frame is Y-up with the person facing +Z. Blender's BVH importer (default
``axis_forward='-Z', axis_up='Y'``) and its glTF importer (glTF is Y-up, +Z forward) both turn that into
Blender's Z-up frame as ``(x, y, z) -> (x, -z, y)``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from generators.motions import walking_sequence

from posekit.io.animation import export_animation, motion_from_sequence
from posekit.processing.joint_rotations import forward_kinematics

BLENDER = shutil.which("blender")

# Runs inside Blender. Debian's Blender 3.4 ships a BVH importer that opens files with mode "rU", which
# Python 3.11 removed; dropping the "U" is all its own fix upstream did.
SCRIPT = r"""
import json, sys
import bpy
try:
    import numpy  # noqa: F401  (Blender's glTF importer needs it)
except ImportError as e:
    reason = f"Blender's Python cannot import numpy, which its glTF importer needs: {e}"
    print("POSEKIT_RESULT " + json.dumps({"skip": reason}))
    sys.exit(0)
import io_anim_bvh.import_bvh as import_bvh
_open = open
import_bvh.open = lambda path, mode="r", *a, **k: _open(path, mode.replace("U", ""), *a, **k)

bvh_path, glb_path, fps, frames, times = sys.argv[sys.argv.index("--") + 1:]
fps, frames, times = float(fps), json.loads(frames), json.loads(times)
scene = bpy.context.scene
out = {}

def at(frame):
    scene.frame_set(int(frame), subframe=frame - int(frame))

bpy.ops.import_anim.bvh(filepath=bvh_path, global_scale=0.01)
arm = next(o for o in scene.objects if o.type == "ARMATURE")
out["bvh_bones"] = len(arm.data.bones)
out["bvh_frame_range"] = list(arm.animation_data.action.frame_range)
out["bvh_wrists"] = []
for f in frames:
    at(1 + f)  # the importer starts at frame 1
    out["bvh_wrists"].append([list(arm.matrix_world @ arm.pose.bones[n].head) for n in ("LeftHand", "RightHand")])

scene.render.fps, scene.render.fps_base = round(fps), 1.0  # the glTF importer keys time x scene rate
before = set(scene.objects)
bpy.ops.import_scene.gltf(filepath=glb_path)
nodes = {o.name: o for o in scene.objects if o not in before}
out["glb_nodes"] = len(nodes)
out["glb_frame_range"] = list(nodes["Hips"].animation_data.action.frame_range)
out["glb_wrists"] = []
for t in times:
    at(t * scene.render.fps)
    out["glb_wrists"].append([list(nodes[n].matrix_world.translation) for n in ("LeftHand", "RightHand")])
print("POSEKIT_RESULT " + json.dumps(out))
"""


def _to_blender(p: np.ndarray) -> np.ndarray:
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], -1)


@pytest.mark.slow
@pytest.mark.skipif(BLENDER is None, reason="blender is not on PATH (e.g. apt-get install blender)")
def test_blender_imports_bvh_and_glb(tmp_path: Path) -> None:
    seq = walking_sequence(num_frames=40)
    bvh = export_animation(seq, tmp_path / "walk.bvh")
    glb = export_animation(seq, tmp_path / "walk.glb")
    motion = motion_from_sequence(seq)
    frames = [0, 17, 39]
    times = motion.times[frames].tolist()
    script = tmp_path / "probe.py"
    script.write_text(SCRIPT)
    args = [str(bvh), str(glb), str(seq.estimated_fps()), json.dumps(frames), json.dumps(times)]
    # A Blender without a bundled Python looks for the interpreter on PATH; put Blender's own folder first so
    # it finds the system Python it was built for, not a venv's or pyenv's (which lack the system's numpy).
    env = {**os.environ, "PATH": f"{Path(BLENDER).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.run(
        [BLENDER, "--background", "--factory-startup", "--python", str(script), "--", *args],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    lines = [line for line in run.stdout.splitlines() if line.startswith("POSEKIT_RESULT ")]
    assert lines, f"Blender printed no result (exit {run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    result = json.loads(lines[-1].split(" ", 1)[1])
    if "skip" in result:
        pytest.skip(result["skip"])
    names = motion.rig.definition.names
    positions = forward_kinematics(motion.rig, motion.local_rotations, motion.root_translation)
    wrists = _to_blender(positions[frames][:, [names.index("LeftHand"), names.index("RightHand")]])
    assert result["bvh_bones"] == len(names)
    assert result["bvh_frame_range"] == [1, seq.num_frames]
    assert result["glb_nodes"] == len(names)
    assert result["glb_frame_range"][1] == pytest.approx(motion.times[-1] * round(seq.estimated_fps()), abs=1e-3)
    bvh_err = np.linalg.norm(np.array(result["bvh_wrists"]) - wrists, axis=-1) * 100
    glb_err = np.linalg.norm(np.array(result["glb_wrists"]) - wrists, axis=-1) * 100
    print(f"bones {result['bvh_bones']}, frames {seq.num_frames}, wrist errors (cm) at frames {frames}: "
          f"BVH max {bvh_err.max():.2e}, GLB max {glb_err.max():.2e}")  # fmt: skip
    assert bvh_err.max() < 1.0
    assert glb_err.max() < 1.0
