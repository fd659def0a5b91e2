"""PoseKit takes: every form the app exports, byte-exact round trips, and malformed input."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from generators.takes import (
    frames_bin,
    make_take,
    meta_json,
    take_json,
    write_all,
    write_bin,
    write_folder,
    write_json,
    write_zip,
)

from posekit.io.archive import ArchiveError
from posekit.io.take_writer import save_take
from posekit.io.takes import TakeError, detect_take_format, load_take
from posekit.limits import LimitError, Limits
from posekit.sequence import PoseSequence
from posekit.skeletons import COCO_WHOLEBODY, POSEKIT_COCO17_2, Skeleton

NAN = float("nan")


@pytest.fixture(scope="module")
def take():
    return make_take()


@pytest.fixture()
def forms(tmp_path, take):
    return write_all(tmp_path, take)


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _assert_matches(seq: PoseSequence, take) -> None:
    t = take.num_frames
    assert seq.skeleton is POSEKIT_COCO17_2 and seq.num_people == 1 and seq.image_size == (1, 1)
    assert seq.space_3d == "phone" and seq.keypoints_3d.shape == (t, 1, 19, 3)
    assert np.array_equal(seq.timestamps, take.timestamps)
    assert np.array_equal(seq.keypoints_2d[:, 0], take.uv)
    assert np.array_equal(seq.scores[:, 0], take.scores)
    assert np.array_equal(seq.keypoints_3d[:, 0], take.camera3d, equal_nan=True)
    assert np.array_equal(seq.canonical_3d[:, 0], take.playback3d, equal_nan=True)
    assert np.array_equal(seq.depth_confidence[:, 0], take.depth_confidence)


@pytest.mark.parametrize("form", ["bin", "json", "zip", "folder"])
def test_every_form_reads(forms, take, form):
    assert detect_take_format(forms[form]) == form
    seq = load_take(forms[form])
    _assert_matches(seq, take)
    if form == "bin":
        assert seq.meta == {} and seq.fps == pytest.approx(30, abs=0.1)  # inferred from the timestamps
    else:
        assert seq.meta == take.meta and seq.fps == 30
    assert np.isnan(seq.keypoints_3d[:, 0, 3]).all()  # the untrusted left ear
    assert seq.scores[5, 0, 16] == 0 and np.array_equal(seq.keypoints_2d[5, 0, 16], [0.5, 0.5])


@pytest.mark.parametrize("style", ["token", "null", "string"])
def test_json_missing_value_spellings(tmp_path, take, style):
    seq = load_take(write_json(tmp_path / "t.json", take, style))
    _assert_matches(seq, take)


def test_detection_by_content_not_name(tmp_path, forms, take):
    for form, src in forms.items():
        if form == "folder":
            continue
        renamed = tmp_path / f"renamed_{form}.dat"
        renamed.write_bytes(src.read_bytes())
        assert detect_take_format(renamed) == form
        _assert_matches(load_take(renamed), take)
    misnamed = tmp_path / "really_a_zip.json"
    misnamed.write_bytes(forms["zip"].read_bytes())
    assert load_take(misnamed).meta == take.meta


def test_trailing_partial_frame_ignored(tmp_path, take):
    seq = load_take(write_bin(tmp_path / "t.bin", take, trailing=300))
    assert seq.num_frames == take.num_frames


def test_zipped_take_folder(tmp_path, take):
    path = write_zip(tmp_path / "t.zip", take, ("meta.json", "frames.bin"), prefix="5F0E8D52/")
    assert load_take(path).meta == take.meta


@pytest.mark.parametrize("form", ["bin", "json", "zip", "folder"])
def test_round_trip_frames_bin_byte_exact(tmp_path, forms, take, form):
    seq = load_take(forms[form])
    expected = frames_bin(take)
    out = save_take(seq, tmp_path / "out.bin", format="bin")
    assert out.read_bytes() == expected
    saved = save_take(seq, tmp_path / "out.zip")
    with zipfile.ZipFile(saved) as z:
        assert z.read("frames.bin") == expected
        if form != "bin":  # a bare .bin has no meta.json to keep
            assert z.read("meta.json") == meta_json(take.meta)
    folder = save_take(seq, tmp_path / "out_folder", format="folder")
    assert (folder / "frames.bin").read_bytes() == expected


def test_saved_zip_is_the_apps_layout(tmp_path, forms, take):
    saved = save_take(load_take(forms["zip"]), tmp_path / "out.zip")
    with zipfile.ZipFile(saved) as z:
        infos = z.infolist()
        assert [i.filename for i in infos] == ["meta.json", "frames.bin", "frames.json"]
        assert all(i.compress_type == zipfile.ZIP_STORED and not i.extra for i in infos)
        assert all(i.create_version == 20 and i.extract_version == 20 and i.flag_bits == 0 for i in infos)
        assert z.testzip() is None
        export = json.loads(z.read("frames.json"))
    assert export["meta"] == take.meta and len(export["frames"]) == take.num_frames
    joint = export["frames"][0]["joints"][0]
    assert sorted(joint) == ["camera3D", "depthConfidence", "joint", "keypoint2D", "playback3D", "score2D"]
    assert joint["joint"] == "Nose" and np.float32(joint["score2D"]) == take.scores[0, 0]
    assert export["frames"][0]["joints"][3]["camera3D"] == [None, None, None]  # NaN, which Swift refuses
    # A saved ZIP reads back to the same take.
    _assert_matches(load_take(saved), take)


def test_saved_json_is_swift_formatted(tmp_path, forms, take):
    text = save_take(load_take(forms["json"]), tmp_path / "out.json", format="json").read_text()
    assert text.startswith('{\n  "frames" : [\n    {\n      "joints" : [\n        {\n          "camera3D" : [\n')
    assert '\n  "meta" : {\n    "createdAt" : 757382400.5,\n' in text and not text.endswith("\n")
    assert '"minKeypointScore" : 0.3,' in text  # a Swift Float: shortest float32 digits
    _assert_matches(load_take(tmp_path / "out.json"), take)


def test_new_meta_defaults_and_overrides(tmp_path, forms, take):
    seq = load_take(forms["bin"])
    out = save_take(seq, tmp_path / "out.zip", meta={"notes": "from the server", "deviceModel": "iPhone16,1"})
    meta = load_take(out).meta
    assert meta["notes"] == "from the server" and meta["deviceModel"] == "iPhone16,1"
    assert meta["frameCount"] == take.num_frames and meta["fps"] == 30 and meta["jointSchema"] == "COCO17+2"
    assert meta["duration"] == take.timestamps[-1] - take.timestamps[0]
    assert len(meta["uuid"]) == 36 and meta["uuid"] == meta["uuid"].upper()
    with pytest.raises(TakeError, match="unknown fields"):
        save_take(seq, tmp_path / "x.zip", meta={"color": "red"})
    with pytest.raises(TakeError, match="'fps'"):
        save_take(seq, tmp_path / "x.zip", meta={"fps": "thirty"})
    assert not (tmp_path / "x.zip").exists()


def test_save_pixel_sequence_from_another_source(tmp_path):
    t, k = 4, 19
    rng = np.random.default_rng(0)
    kp2 = rng.uniform(0, 640, (t, 2, k, 2))
    kp2[:, 1, :, 1] = kp2[:, 1, :, 1] * 0.75  # in a 640 x 480 image
    kp2[2, 0] = NAN  # person 0 absent in frame 2
    kp2[:, 1] = NAN
    kp2[0, 1] = 10.0  # person 1 only in frame 0
    kp3 = rng.uniform(-1, 1, (t, 2, k, 3)) + [0, 0, 3]
    seq = PoseSequence(np.arange(t) / 10, kp2, np.full((t, 2, k), 0.9), POSEKIT_COCO17_2, keypoints_3d=kp3,
                       image_size=(640, 480), space_3d="metric_depth")  # fmt: skip
    out = load_take(save_take(seq, tmp_path / "px.zip"))
    assert np.allclose(out.keypoints_2d[[0, 1, 3], 0], (kp2[[0, 1, 3], 0] / [640, 480]), atol=1e-6)
    assert np.array_equal(out.keypoints_2d[2, 0], np.full((k, 2), 0.5)) and (out.scores[2, 0] == 0).all()
    assert np.allclose(out.keypoints_3d[:, 0], kp3[:, 0], atol=1e-6)
    assert np.isfinite(out.canonical_3d[0, 0]).all() and np.allclose(out.canonical_3d[0, 0, 17], 0, atol=1e-6)
    assert out.meta["fps"] == 10
    assert np.array_equal(load_take(save_take(seq, tmp_path / "p1.bin", "bin", person=1)).keypoints_2d[0, 0, 0],
                          np.float32([10 / 640, 10 / 480]))  # fmt: skip


def test_save_wholebody_maps_to_posekit(tmp_path):
    rng = np.random.default_rng(0)
    kp2 = rng.uniform(0, 100, (3, 1, 133, 2))
    kp3 = rng.uniform(-1, 1, (3, 1, 133, 3)) + [0, 0, 3]
    seq = PoseSequence(np.arange(3) / 30, kp2, np.ones((3, 1, 133)), COCO_WHOLEBODY, keypoints_3d=kp3,
                       image_size=(100, 100))  # fmt: skip
    out = load_take(save_take(seq, tmp_path / "wb.zip"))
    assert np.allclose(out.keypoints_3d[:, 0, :17], kp3[:, 0, :17], atol=1e-6)
    assert np.allclose(out.keypoints_3d[:, 0, 17], kp3[:, 0, [11, 12]].mean(1), atol=1e-6)


def test_save_refuses_other_skeletons(tmp_path):
    other = Skeleton("hand21", tuple(f"k{i}" for i in range(21)), (), {"body": tuple(range(21))})
    seq = PoseSequence(np.zeros(1), np.zeros((1, 1, 21, 2)), np.ones((1, 1, 21)), other)
    with pytest.raises(TakeError, match="COCO17\\+2.*hand21"):
        save_take(seq, tmp_path / "x.zip")
    assert _listing(tmp_path) == []


def test_failed_write_leaves_nothing(tmp_path, forms, monkeypatch):
    seq = load_take(forms["zip"])
    out = tmp_path / "out"
    out.mkdir()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_take(seq, out / "t.zip")
    monkeypatch.setattr(os, "rename", fail)
    with pytest.raises(OSError, match="disk full"):
        save_take(seq, out / "folder", format="folder")
    assert _listing(out) == []
    with pytest.raises(TakeError, match="does not exist"):
        save_take(seq, tmp_path / "missing" / "t.zip")
    with pytest.raises(TakeError, match="format"):
        save_take(seq, out / "t.tar", format="tar")


def test_existing_file_replaced_and_folder_refused(tmp_path, forms):
    seq = load_take(forms["zip"])
    target = tmp_path / "t.bin"
    target.write_bytes(b"old")
    save_take(seq, target, format="bin")
    assert target.read_bytes() == forms["bin"].read_bytes()
    with pytest.raises(TakeError, match="not an empty folder"):
        save_take(seq, forms["folder"], format="folder")


# ---------------------------------------------------------------------------------------------------------
# Malformed input: a clear error, and nothing written anywhere.


def _load_fails(path: Path, error: type[Exception], match: str, limits: Limits | None = None) -> None:
    before = _listing(path.parent)
    with pytest.raises(error, match=match):
        load_take(path, **({"limits": limits} if limits else {}))
    assert _listing(path.parent) == before


def test_truncated(tmp_path, forms):
    (tmp_path / "short.bin").write_bytes(forms["bin"].read_bytes()[:700])
    _load_fails(tmp_path / "short.bin", TakeError, "768 bytes")
    (tmp_path / "cut.zip").write_bytes(forms["zip"].read_bytes()[:-200])
    _load_fails(tmp_path / "cut.zip", ArchiveError, "ZIP")
    (tmp_path / "cut.json").write_bytes(forms["json"].read_bytes()[:5000])
    _load_fails(tmp_path / "cut.json", TakeError, "could not parse")
    (tmp_path / "empty.bin").write_bytes(b"")
    _load_fails(tmp_path / "empty.bin", TakeError, "0 bytes")


@pytest.mark.parametrize("form", ["bin", "json", "zip", "folder"])
def test_oversized(forms, form):
    _load_fails(forms[form], LimitError, "frames", Limits(max_frames=10))


def test_oversized_bytes_and_duration(forms):
    _load_fails(forms["bin"], LimitError, "MB", Limits(max_file_bytes=1000))
    _load_fails(forms["zip"], LimitError, "over the limit", Limits(max_duration_s=1.0))


def test_nan_everywhere(tmp_path, take):
    (tmp_path / "nan.bin").write_bytes(np.full(768 * 3, 0xFF, np.uint8).tobytes())  # all NaN bit patterns
    _load_fails(tmp_path / "nan.bin", TakeError, "does not look like a PoseKit frames.bin")
    doc = json.loads(take_json(take))
    for frame in doc["frames"]:
        frame["timestamp"] = None
    (tmp_path / "nan.json").write_text(json.dumps(doc))
    _load_fails(tmp_path / "nan.json", TakeError, "frame 0: timestamp nan is not a finite number")
    for i, frame in enumerate(doc["frames"]):
        frame["timestamp"] = i / 30
        for joint in frame["joints"]:
            for key in ("camera3D", "playback3D", "keypoint2D"):
                joint[key] = ["NaN"] * len(joint[key])
            joint["score2D"] = joint["depthConfidence"] = None
    (tmp_path / "nan_joints.json").write_text(json.dumps(doc))
    seq = load_take(tmp_path / "nan_joints.json")
    assert np.isnan(seq.keypoints_3d).all() and np.isnan(seq.scores).all()


def _edit_json(tmp_path: Path, take, edit, name: str = "bad.json") -> Path:
    doc = json.loads(take_json(take))
    edit(doc)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_wrong_joint_count_and_schema(tmp_path, take):
    path = _edit_json(tmp_path, take, lambda d: d["frames"][3]["joints"].pop())
    _load_fails(path, TakeError, "frame 3: expected 19 joints")
    path = _edit_json(tmp_path, take, lambda d: d["meta"].update(jointSchema="COCO17"))
    _load_fails(path, TakeError, "jointSchema 'COCO17'")
    path = _edit_json(tmp_path, take, lambda d: d["frames"][0]["joints"][1].update(joint="Tail"))
    _load_fails(path, TakeError, "unknown joint 'Tail'")


def test_bad_numbers(tmp_path, take):
    path = _edit_json(tmp_path, take, lambda d: d["frames"][2]["joints"][4].update(score2D="high"))
    _load_fails(path, TakeError, "frame 2, joint 'R-Ear', score2D: expected a number")
    path = _edit_json(tmp_path, take, lambda d: d["frames"][0]["joints"][0].update(keypoint2D=[0.1, 0.2, 0.3]))
    _load_fails(path, TakeError, "keypoint2D: expected a list of 2 numbers")
    path = _edit_json(tmp_path, take, lambda d: d["frames"][0]["joints"][0].update(camera3D=[True, 1, 2]))
    _load_fails(path, TakeError, "camera3D: expected a number")
    path = _edit_json(tmp_path, take, lambda d: d["frames"][1]["joints"][0].pop("score2D"))
    _load_fails(path, TakeError, "expected a 'score2D' field")


def test_not_a_take(tmp_path, data_dir):
    _load_fails(data_dir / "coco" / "000000000785.jpg", TakeError, "does not look like a PoseKit")
    (tmp_path / "other.json").write_text('{"people": []}')
    _load_fails(tmp_path / "other.json", TakeError, "expected a PoseKit take JSON with 'frames'")
    (tmp_path / "list.json").write_text("[1, 2]")
    _load_fails(tmp_path / "list.json", TakeError, "frame 0: expected an object")
    _load_fails(tmp_path / "missing.zip", TakeError, "does not exist")
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as z:
        z.writestr("a.jpg", b"x")
    _load_fails(tmp_path / "photos.zip", TakeError, "frames.bin or frames.json")


def test_zip_slip_names(tmp_path, take):
    with zipfile.ZipFile(tmp_path / "slip.zip", "w") as z:
        z.writestr("../../evil/frames.bin", frames_bin(take))
        z.writestr("meta.json", meta_json(take.meta))
    _load_fails(tmp_path / "slip.zip", ArchiveError, "leave the archive")
    assert not (tmp_path.parent.parent / "evil").exists()


def test_zip_bomb(tmp_path, take):
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("meta.json", meta_json(take.meta))
        z.writestr("frames.json", b" " * (40 << 20))
    _load_fails(tmp_path / "bomb.zip", LimitError, "zip bomb|inflates past")


def test_missing_members(tmp_path, take):
    _load_fails(write_zip(tmp_path / "meta_only.zip", take, ("meta.json",)), TakeError, "frames.bin or frames.json")
    seq = load_take(write_zip(tmp_path / "frames_only.zip", take, ("frames.bin",)))
    assert seq.meta == {} and seq.num_frames == take.num_frames
    seq = load_take(write_zip(tmp_path / "json_only.zip", take, ("frames.json",)))
    assert seq.meta == take.meta
    folder = write_folder(tmp_path / "empty_take", take)
    (folder / "frames.bin").unlink()
    _load_fails(folder, TakeError, "frames.bin")
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as z:
        for prefix in ("a/", "b/"):
            z.writestr(prefix + "frames.bin", frames_bin(take))
    _load_fails(tmp_path / "two.zip", TakeError, "one take per ZIP")


def test_mismatched_frame_counts(tmp_path, take):
    bad = make_take()
    bad.meta = {**take.meta, "frameCount": take.num_frames + 5}
    _load_fails(write_zip(tmp_path / "count.zip", bad, ("meta.json", "frames.bin")), TakeError,
                f"frameCount {take.num_frames + 5} but frames.bin holds {take.num_frames}")  # fmt: skip
    # A JSON export may lack frames (Swift cannot encode NaN), never have more.
    assert load_take(write_json(tmp_path / "fewer.json", bad)).num_frames == take.num_frames
    bad.meta = {**take.meta, "frameCount": 3}
    _load_fails(write_json(tmp_path / "more.json", bad), TakeError, "frameCount 3 but the JSON holds")
    _load_fails(
        _edit_json(tmp_path, take, lambda d: d["meta"].update(frameCount="many")), TakeError, "frameCount: expected"
    )


def test_a_take_zipped_on_a_mac_is_still_a_take(tmp_path):
    import zipfile

    from posekit.io.takes import is_take_archive

    path = tmp_path / "t.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("PoseTake/meta.json", "{}")
        z.writestr("PoseTake/frames.bin", b"")
        z.writestr("__MACOSX/PoseTake/._frames.bin", b"")
        z.writestr("PoseTake/.DS_Store", b"")
    assert is_take_archive(path)
    other = tmp_path / "capture.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("intrinsics.json", "{}")
        z.writestr("metadata.json", "{}")
    assert not is_take_archive(other)
