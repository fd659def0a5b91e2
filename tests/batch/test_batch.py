"""posekit batch on a local Ray (2 CPUs): images in two folders (one corrupt), a video, a take and a capture.

The workers are separate processes, so they load PoseKit from real-format random weights (``POSEKIT_WEIGHTS_DIR``)
rather than the in-process oracles; one Ray session serves the whole module (its start-up costs seconds).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ray = pytest.importorskip("ray", reason='posekit batch needs Ray Data: pip install "posekit[batch]"')
pa = pytest.importorskip("pyarrow", reason='posekit batch needs pyarrow: pip install "posekit[batch]"')
import pyarrow.parquet as pq  # noqa: E402
from generators.captures import write_generic  # noqa: E402
from generators.scene import make_scene  # noqa: E402
from generators.takes import make_take, write_zip  # noqa: E402
from generators.videos import draw_frame, walking_boxes, walking_video  # noqa: E402
from generators.weights import write_posekit  # noqa: E402

from posekit.batch import run_batch  # noqa: E402
from posekit.batch.cli import add_batch_arguments, run_batch_command  # noqa: E402
from posekit.batch.inputs import discover  # noqa: E402
from posekit.batch.run import make_units, plan_resources  # noqa: E402
from posekit.batch.state import STATE_DIR  # noqa: E402
from posekit.batch.tables import keypoint_table  # noqa: E402
from posekit.poses import Poses  # noqa: E402
from posekit.sequence import PoseSequence  # noqa: E402
from posekit.skeletons import POSEKIT_COCO17_2  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
from posekit.pipelines import Models, Settings, run_file  # noqa: E402

SETTINGS = Settings(model="posekit", device="cpu", max_frames=6)
GOOD = {"photos/a/frame0", "photos/a/frame1", "photos/b/frame0", "clips/walk", "takes/PoseTake", "captures/room"}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    write_posekit(folder)
    return folder


@pytest.fixture(scope="module")
def ray_session(weights):
    """One local Ray for the module; the workers inherit POSEKIT_WEIGHTS_DIR from this process."""
    old = os.environ.get("POSEKIT_WEIGHTS_DIR")
    os.environ["POSEKIT_WEIGHTS_DIR"] = str(weights)
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    yield
    ray.shutdown()
    if old is None:
        os.environ.pop("POSEKIT_WEIGHTS_DIR", None)
    else:
        os.environ["POSEKIT_WEIGHTS_DIR"] = old


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    size = (160, 120)
    boxes = walking_boxes(3, size)
    for folder, names in (("photos/a", ("frame0", "frame1")), ("photos/b", ("frame0",))):
        (root / folder).mkdir(parents=True)
        for i, name in enumerate(names):
            cv2.imwrite(str(root / folder / f"{name}.png"), draw_frame(size, boxes[i]))
    (root / "photos/b/broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    (root / "photos/notes.txt").write_text("not an input: skipped by the folder walk")
    (root / "clips").mkdir()
    walking_video(root / "clips/walk.mp4", num_frames=8, size=size)
    (root / "takes").mkdir()
    write_zip(root / "takes/PoseTake.zip", make_take(num_frames=6))
    (root / "captures").mkdir()
    write_generic(make_scene(num_frames=3, color_size=size, depth_size=(64, 48)), root / "captures/room.zip")
    return root


@pytest.fixture(scope="module")
def first_run(ray_session, inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    summary = run_batch([inputs], out, SETTINGS, workers=2, progress=False)
    return out, summary


def _keypoints(out: Path):
    return pq.read_table(out / "keypoints").to_pandas()


def _rel(inputs: Path, source: str) -> str:
    return Path(source).relative_to(inputs).with_suffix("").as_posix()


# ---------------------------------------------------------------------------------------------------- on Ray


def test_every_good_input_has_its_json_and_keypoint_rows(first_run, inputs):
    out, summary = first_run
    assert (summary.total, summary.done, summary.skipped, summary.failed) == (7, 6, 0, 1)
    assert summary.frames == 3 + 6 + 6 + 3  # images, the video (max_frames), the take, the capture
    for rel in GOOD:
        assert (out / f"{rel}.json").is_file(), rel  # the inputs' folders, mirrored
    assert (out / "photos/a/frame0_overlay.jpg").is_file() and (out / "clips/walk_overlay.mp4").is_file()
    rows = _keypoints(out)
    assert {_rel(inputs, s) for s in rows["input"].unique()} == GOOD
    assert set(rows["kind"].astype(str)) == {"image", "video", "take", "capture"}
    assert sorted(p.parent.name for p in (out / "keypoints").rglob("*.parquet")) == [
        "kind=capture", "kind=image", "kind=take", "kind=video"]  # fmt: skip
    take = rows[rows["input"].str.endswith("PoseTake.zip")]
    assert take["frame"].nunique() == 6 and set(take["joint"]) == set(POSEKIT_COCO17_2.keypoint_names)
    assert take["z"].notna().mean() > 0.5 and (take["space_3d"] == "phone").all()  # NaN: joints under 0.3
    assert rows.loc[rows["kind"] == "image", "time"].isna().all()
    assert len(list((out / STATE_DIR).glob("*.done"))) == 6


def test_the_bad_input_is_in_the_errors_table(first_run, inputs):
    out, _ = first_run
    errors = pq.read_table(out / "errors.parquet").to_pylist()
    assert len(errors) == 1
    assert errors[0]["input"] == str(inputs / "photos/b/broken.jpg")
    assert errors[0]["error_type"] and errors[0]["message"]
    assert not (out / "photos/b/broken.json").exists()


def test_keypoints_equal_the_single_input_run_file(first_run, inputs, weights, tmp_path, monkeypatch):
    monkeypatch.setenv("POSEKIT_WEIGHTS_DIR", str(weights))
    out, _ = first_run
    rows = _keypoints(out)
    models = Models.for_settings(SETTINGS)
    for source in rows["input"].unique():
        alone = run_file(Path(source), SETTINGS, models, tmp_path, stem=_rel(inputs, source).replace("/", "_"))
        want = keypoint_table(alone.result, source).to_pandas()
        got = rows[rows["input"] == source].drop(columns="kind")
        key = ["frame", "track_id", "joint_index"]
        got, want = (t.sort_values(key).reset_index(drop=True) for t in (got, want))
        assert len(got) == len(want) > 0, source
        for column in ("frame", "track_id", "joint_index"):
            np.testing.assert_array_equal(got[column], want[column])
        for column in ("x", "y", "z", "score", "time"):
            np.testing.assert_allclose(got[column].astype(float), want[column].astype(float), rtol=1e-5,
                                       atol=1e-3, equal_nan=True, err_msg=f"{source}: {column}")  # fmt: skip


def test_dry_run_lists_only_the_failed_input_as_to_run(first_run, inputs):
    out, _ = first_run
    summary = run_batch([inputs], out, SETTINGS, dry_run=True, progress=False)
    assert summary.to_run == [str(inputs / "photos/b/broken.jpg")]
    assert {_rel(inputs, s) for s in summary.to_skip} == GOOD


def test_a_rerun_processes_nothing_new(first_run, inputs):
    out, _ = first_run
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != "errors.parquet"}
    summary = run_batch([inputs], out, SETTINGS, workers=1, progress=False)
    assert (summary.done, summary.skipped, summary.failed) == (0, 6, 1)
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != "errors.parquet"}
    assert after == before
    assert len(pq.read_table(out / "errors.parquet")) == 1


def test_a_changed_input_and_a_cut_off_one_are_redone_without_duplicate_rows(first_run, inputs):
    out, _ = first_run
    rows_before = _keypoints(out)
    changed = inputs / "photos/a/frame1.png"
    cv2.imwrite(str(changed), draw_frame((160, 120), walking_boxes(3, (160, 120))[2]))
    os.utime(changed, (1e9, 1e9))
    take = out / STATE_DIR / next(p.name for p in (out / STATE_DIR).glob("*.done")
                                  if json.loads(p.read_text())["source"].endswith("PoseTake.zip"))  # fmt: skip
    take.unlink()  # as if the run had been cut off before this input's marker
    summary = run_batch([inputs], out, SETTINGS, workers=1, progress=False)
    assert (summary.done, summary.skipped, summary.failed) == (2, 4, 1)
    rows = _keypoints(out)
    assert len(rows) == len(rows_before)
    assert not rows.duplicated(["input", "frame", "track_id", "joint_index"]).any()


def test_manifest_and_the_command_line(ray_session, inputs, tmp_path, capsys):
    manifest = tmp_path / "list.csv"
    manifest.write_text(f"path,label\n{inputs / 'photos/a/frame0.png'},x\nclips/missing.mp4,y\n")
    parser = add_batch_arguments(__import__("argparse").ArgumentParser())
    args = parser.parse_args([str(manifest), str(inputs / "takes/*.zip"), "-o", str(tmp_path / "out"),
                              "--model", "posekit", "--device", "cpu", "--workers", "1", "-q"])  # fmt: skip
    assert run_batch_command(args) == 1  # the missing file fails; the others are done
    out = tmp_path / "out"
    assert (out / "photos/a/frame0.json").is_file() and (out / "takes/PoseTake.json").is_file()
    errors = pq.read_table(out / "errors.parquet").to_pylist()
    assert [e["input"] for e in errors] == [str(tmp_path / "clips/missing.mp4")]
    args.dry_run, args.quiet = True, False
    assert run_batch_command(args) == 1
    text = capsys.readouterr().out
    assert "skip  " in text and "run   " not in text and "1 not readable" in text


# ---------------------------------------------------------------------------------------------------- no Ray


def test_layout_mirrors_the_folders_and_keeps_names_unique(inputs, tmp_path):
    (inputs / "photos/a/frame0.jpg").write_bytes((inputs / "photos/a/frame0.png").read_bytes())
    try:
        items, errors = discover([inputs / "photos", inputs / "photos/a/frame0.png", tmp_path / "nothing"])
        inside, _ = discover([inputs], exclude=[inputs / "photos", inputs / "clips"])  # e.g. OUT inside an input
    finally:
        (inputs / "photos/a/frame0.jpg").unlink()
    assert [e["input"] for e in errors] == [str(tmp_path / "nothing")]
    assert [(i.rel_dir, i.stem) for i in items] == [("a", "frame0"), ("a", "frame0-2"), ("a", "frame1"),
                                                    ("b", "broken"), ("b", "frame0")]  # fmt: skip
    assert len({i.id for i in items}) == 5
    assert [(i.rel_dir, i.kind) for i in inside] == [("captures", "capture"), ("takes", "take")]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"path": "s3://bucket/x/clip.mp4"}\n{"path": "s3://bucket/y/take.zip"}\n')
    items, _ = discover([manifest])
    assert [(i.rel_dir, i.stem, i.kind) for i in items] == [("x", "clip", "video"), ("y", "take", "remote")]


def test_units_put_sequences_first_and_batch_images(inputs):
    items, _ = discover([inputs])
    units = make_units(items, 4)
    kinds = [u["kind"] for u in units]
    assert kinds == sorted(kinds, key=lambda k: k == "image")
    assert all(len(json.loads(u["unit"])) <= 4 for u in units)
    assert sum(len(json.loads(u["unit"])) for u in units) == len(items)


def test_resources_from_the_cluster():
    cpu = Settings(device="auto")
    assert plan_resources({"CPU": 2.0}, cpu, None, None) == (2, 1.0, 0.0, 1)
    assert plan_resources({"CPU": 2.0}, cpu, 1, None) == (1, 2.0, 0.0, 2)
    assert plan_resources({"CPU": 64.0, "GPU": 8.0}, cpu, None, None) == (16, 1.0, 0.5, None)
    assert plan_resources({"CPU": 64.0, "GPU": 8.0}, cpu, None, 0.25)[0] == 32
    assert plan_resources({"CPU": 64.0, "GPU": 8.0}, Settings(device="cpu"), None, None)[2] == 0.0


def test_keypoint_rows_skip_absent_people():
    k = POSEKIT_COCO17_2.num_keypoints
    kp = np.random.default_rng(0).random((3, 2, k, 2)) * 100
    kp[1, 0] = np.nan  # person 0 absent from frame 1
    seq = PoseSequence(timestamps=[0.0, 0.5, 1.0], keypoints_2d=kp, scores=np.ones((3, 2, k)),
                       skeleton=POSEKIT_COCO17_2, track_ids=np.array([7, 9]))  # fmt: skip
    table = keypoint_table(seq, "clip.mp4").to_pandas()
    assert len(table) == 5 * k and set(table["track_id"]) == {7, 9}
    assert table["z"].isna().all() and table["space_3d"].isna().all()
    assert table.loc[table["frame"] == 1, "time"].eq(0.5).all()
    poses = Poses(keypoints_2d=kp[0], scores=np.ones((2, k)), bboxes=np.zeros((2, 4)), bbox_scores=np.ones(2),
                  skeleton=POSEKIT_COCO17_2)  # fmt: skip
    table = keypoint_table(poses, "a.jpg").to_pandas()
    assert len(table) == 2 * k and (table["frame"] == 0).all() and table["time"].isna().all()


def test_importing_posekit_does_not_import_ray():
    code = "import sys, posekit, posekit.batch, posekit.batch.cli; assert 'ray' not in sys.modules, 'ray imported'"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
