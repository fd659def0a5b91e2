"""BVH export: an independent reader's forward kinematics reproduces the input (bone lengths set to the rig's)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from anim_readers import bvh_positions, parse_bvh, reference_positions, rms_cm
from generators.motions import motion_sequence, walking_sequence

from posekit.io.animation import export_animation, motion_from_sequence


@pytest.mark.parametrize(
    ("kind", "fingers"),
    [("take", False), ("capture", False), ("capture", True), ("walking", False), ("walking", True)],
)
def test_round_trip_within_1cm(kind: str, fingers: bool, tmp_path: Path) -> None:
    seq = motion_sequence(kind, tmp_path)
    path = export_animation(seq, tmp_path / "out.bvh", fingers=fingers)
    bvh = parse_bvh(path.read_text())
    rig = motion_from_sequence(seq, fingers=fingers).rig
    assert bvh.names == list(rig.definition.names)
    got = bvh_positions(bvh) / 100  # centimetres by default
    want, known = reference_positions(seq, rig)
    assert known.mean() > 0.7  # most of the input is compared (dropouts cut the chains below them)
    assert rms_cm(got, want, known) < 1.0
    # Not just within 1 cm: the only loss is the text's 6 decimals of a centimetre and a degree.
    assert rms_cm(got, want, known) < 0.01


def test_channels_units_and_frame_time(tmp_path: Path) -> None:
    seq = walking_sequence(num_frames=12, fps=25.0)
    cm = parse_bvh(export_animation(seq, tmp_path / "a.bvh").read_text())
    m = parse_bvh(export_animation(seq, tmp_path / "b.bvh", units="m").read_text())
    assert cm.channels[0] == ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]
    assert all(c == ["Zrotation", "Xrotation", "Yrotation"] for c in cm.channels[1:])
    assert np.allclose(cm.offsets[0], 0)  # the root's position channels are its position for every reader
    assert cm.frame_time == pytest.approx(1 / 25, abs=1e-7)
    assert cm.motion.shape == (12, 6 + 3 * (len(cm.names) - 1))
    np.testing.assert_allclose(cm.offsets / 100, m.offsets, atol=1e-6)
    np.testing.assert_allclose(bvh_positions(cm) / 100, bvh_positions(m), atol=1e-5)
    assert set(cm.end_sites) == {j for j in range(len(cm.names)) if j not in cm.parents}


def test_rest_pose_is_y_up_t_pose(tmp_path: Path) -> None:
    bvh = parse_bvh(export_animation(walking_sequence(num_frames=8), tmp_path / "a.bvh").read_text())
    rest = {}
    for j, name in enumerate(bvh.names):
        rest[name] = bvh.offsets[j] + (rest[bvh.names[bvh.parents[j]]] if bvh.parents[j] >= 0 else 0)
    assert rest["Neck"][1] > 40 and rest["LeftFoot"][1] < -80  # head up, feet down (Y-up, centimetres)
    assert rest["LeftHand"][0] > 60 and rest["RightHand"][0] < -60  # arms out sideways, left at +X
    assert rest["LeftHand"][1] == pytest.approx(rest["LeftArm"][1])


def test_frame_time_from_timestamps_without_nominal_fps(tmp_path: Path) -> None:
    seq = walking_sequence(num_frames=10)
    seq.fps = None
    seq.timestamps = np.arange(10) / 24.0 + 100.0
    assert parse_bvh(export_animation(seq, tmp_path / "a.bvh").read_text()).frame_time == pytest.approx(1 / 24)


def test_atomic_write_honours_umask(tmp_path: Path) -> None:
    seq = walking_sequence(num_frames=5)
    old = os.umask(0o027)
    try:
        path = export_animation(seq, tmp_path / "sub" / "a.bvh")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["a.bvh"]  # no temporary file left behind
