"""glTF binary export: valid per the spec's layout rules, and quaternion FK reproduces the input."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from anim_readers import glb_positions, parse_glb, reference_positions, rms_cm
from generators.motions import motion_sequence, walking_sequence

from posekit.io.animation import export_animation, motion_from_sequence


@pytest.mark.parametrize(
    ("kind", "fingers"),
    [("take", False), ("capture", False), ("capture", True), ("walking", False), ("walking", True)],
)
def test_round_trip_within_1cm(kind: str, fingers: bool, tmp_path: Path) -> None:
    seq = motion_sequence(kind, tmp_path)
    glb = parse_glb(export_animation(seq, tmp_path / "out.glb", fingers=fingers).read_bytes())
    times, names, got = glb_positions(glb)
    rig = motion_from_sequence(seq, fingers=fingers).rig
    assert names == list(rig.definition.names)
    np.testing.assert_allclose(times, seq.timestamps - seq.timestamps[0], atol=1e-5)  # real timing
    want, known = reference_positions(seq, rig)
    assert rms_cm(got, want, known) < 1.0
    assert rms_cm(got, want, known) < 0.01  # float32 is the only loss


def test_layout_follows_the_spec(tmp_path: Path) -> None:
    data = export_animation(walking_sequence(num_frames=7), tmp_path / "a.glb").read_bytes()
    glb = parse_glb(data)
    doc = glb.doc
    assert doc["asset"]["version"] == "2.0"
    assert len(data) % 4 == 0
    assert struct.unpack_from("<I", data, 12)[0] % 4 == 0
    assert doc["buffers"] == [{"byteLength": len(glb.bin)}]
    for view in doc["bufferViews"]:
        assert view["byteOffset"] % 4 == 0 and view["byteOffset"] + view["byteLength"] <= len(glb.bin)
    anim = doc["animations"][0]
    inputs = {s["input"] for s in anim["samplers"]}
    for i in inputs:
        acc = doc["accessors"][i]
        values = glb.accessor(i)
        assert acc["min"] == [values.min()] and acc["max"] == [values.max()]
        assert np.all(np.diff(values) > 0)
    for ch in anim["channels"]:
        out = glb.accessor(anim["samplers"][ch["sampler"]]["output"])
        if ch["target"]["path"] == "rotation":
            np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1, atol=1e-6)
            assert np.all(np.sum(out[1:] * out[:-1], axis=-1) >= 0)  # keys never flip hemisphere
    assert {ch["target"]["path"] for ch in anim["channels"] if ch["target"]["node"] == 0} == {"translation", "rotation"}
    children = [c for node in doc["nodes"] for c in node.get("children", [])]
    assert sorted(children) == list(range(1, len(doc["nodes"])))  # one tree, rooted at node 0
    assert doc["scenes"][doc["scene"]]["nodes"] == [0]


def test_repeated_timestamps_are_dropped(tmp_path: Path) -> None:
    seq = walking_sequence(num_frames=6)
    seq.timestamps = np.array([0.0, 0.1, 0.1, 0.2, 0.3, 0.3])
    times, _, _ = glb_positions(parse_glb(export_animation(seq, tmp_path / "a.glb").read_bytes()))
    np.testing.assert_allclose(times, [0.0, 0.1, 0.2, 0.3], atol=1e-7)


def test_model_space_is_marked_not_metric(tmp_path: Path) -> None:
    seq = walking_sequence(num_frames=4)
    seq.space_3d = "model"
    doc = parse_glb(export_animation(seq, tmp_path / "a.glb").read_bytes()).doc
    assert doc["asset"]["extras"]["posekit"]["metric"] is False
