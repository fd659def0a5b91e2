"""export_animation(s): person selection, file naming, and errors that say what was expected and what came."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from anim_readers import parse_bvh, parse_glb
from generators.motions import walking_sequence

from posekit.io.animation import (
    AnimationExportError,
    ExportFormatError,
    NoPose3DError,
    NoRigError,
    TrackNotSeenError,
    export_animation,
    export_animations,
    main_track,
)
from posekit.sequence import PoseSequence
from posekit.skeletons import Skeleton


def _two_people(num_frames: int = 20) -> PoseSequence:
    """Person 0 (track 7) present in frames 0-7 only; person 1 (track 3) walks throughout."""
    one = walking_sequence(num_frames)
    kp3 = np.concatenate([one.keypoints_3d + [0.5, 0, 1], one.keypoints_3d], axis=1)
    kp2 = np.concatenate([one.keypoints_2d, one.keypoints_2d], axis=1)
    scores = np.concatenate([one.scores, one.scores], axis=1)
    kp3[8:, 0], kp2[8:, 0], scores[8:, 0] = np.nan, np.nan, 0
    return replace(one, keypoints_3d=kp3, keypoints_2d=kp2, scores=scores, track_ids=np.array([7, 3]))


def test_main_track_is_the_one_seen_most() -> None:
    seq = _two_people()
    assert main_track(seq) == 1


def test_person_and_each_track(tmp_path: Path) -> None:
    seq = _two_people()
    main = parse_bvh(export_animation(seq, tmp_path / "main.bvh").read_text())
    first = parse_bvh(export_animation(seq, tmp_path / "first.bvh", person=0).read_text())
    assert main.motion[0, 2] != pytest.approx(first.motion[0, 2])  # person 0 stands 1 m farther away
    paths = export_animations(seq, tmp_path / "out", "clip", each_track=True)
    assert [p.name for p in paths] == ["clip_track7.bvh", "clip_track7.glb", "clip_track3.bvh", "clip_track3.glb"]
    assert parse_glb(paths[1].read_bytes()).doc["animations"][0]["name"] == "track 7"
    assert [p.name for p in export_animations(seq, tmp_path, "only", formats=("glb",))] == ["only.glb"]


def test_format_from_suffix(tmp_path: Path) -> None:
    seq = walking_sequence(num_frames=4)
    assert export_animation(seq, tmp_path / "A.BVH").read_text().startswith("HIERARCHY")
    assert export_animation(seq, tmp_path / "a.bin", format="glb").read_bytes()[:4] == b"glTF"
    with pytest.raises(ExportFormatError, match=r"expected an animation format in \('bvh', 'glb'\).*got suffix '.fbx'"):
        export_animation(seq, tmp_path / "a.fbx")
    with pytest.raises(ExportFormatError, match="got format 'usd'"):
        export_animations(seq, tmp_path, "x", formats=("bvh", "usd"))  # type: ignore[arg-type]
    with pytest.raises(AnimationExportError, match="units: expected one of"):
        export_animation(seq, tmp_path / "a.bvh", units="mm")  # type: ignore[arg-type]
    with pytest.raises(AnimationExportError, match="units: expected one of"):
        export_animations(seq, tmp_path, "x", units="inch")  # type: ignore[arg-type]


def test_errors_say_what_was_expected(tmp_path: Path) -> None:
    seq = walking_sequence(num_frames=4)
    with pytest.raises(NoPose3DError, match="expected a sequence with keypoints_3d, got none"):
        export_animation(replace(seq, keypoints_3d=None), tmp_path / "a.bvh")
    with pytest.raises(TrackNotSeenError, match=r"person: expected an index in 0\.\.0, got 3"):
        export_animation(seq, tmp_path / "a.bvh", person=3)
    hidden = replace(seq, keypoints_3d=np.full_like(seq.keypoints_3d, np.nan))
    with pytest.raises(TrackNotSeenError, match="expected a person with 3D in at least one frame"):
        export_animation(hidden, tmp_path / "a.glb")
    low = replace(seq, scores=np.full_like(seq.scores, 0.1))
    with pytest.raises(TrackNotSeenError, match=r"track 0\): expected 3D keypoints scored >= 0.3 .* got none in 4"):
        export_animation(low, tmp_path / "a.glb")
    other = Skeleton("hand21", tuple(f"k{i}" for i in range(21)), (), {"body": tuple(range(21))})
    odd = PoseSequence(np.arange(2.0), np.zeros((2, 1, 21, 2)), np.ones((2, 1, 21)), other, np.ones((2, 1, 21, 3)))
    with pytest.raises(NoRigError, match="no animation rig for skeleton 'hand21'"):
        export_animation(odd, tmp_path / "a.bvh")
    for error in (NoPose3DError, TrackNotSeenError, ExportFormatError, NoRigError):
        assert issubclass(error, ValueError)
    assert not list(tmp_path.iterdir())  # nothing half-written
