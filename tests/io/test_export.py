import csv
import io
import json
import zipfile

import numpy as np
import pytest

from posekit.io.export import (
    CSV_COLUMNS,
    keypoints_csv,
    read_result,
    result_document,
    write_json,
    write_results_zip,
)
from posekit.poses import Poses
from posekit.sequence import PoseSequence
from posekit.skeletons import COCO_WHOLEBODY, POSEKIT_COCO17_2


def image_result():
    rng = np.random.default_rng(0)
    k3 = rng.random((2, 133, 3))
    k3[1, 5] = np.nan
    return Poses(rng.random((2, 133, 2)) * 100, rng.random((2, 133)), [[0, 0, 9, 9]] * 2, [0.9, 0.8],
                 COCO_WHOLEBODY, keypoints_3d=k3, space_3d="model", image_size=(640, 480))  # fmt: skip


def test_json_round_trip_image_and_sequence(tmp_path):
    res = image_result()
    path = write_json(result_document(res, "rtmw3d-l", {"name": "a.jpg"}), tmp_path / "r.json")
    doc = json.loads(path.read_text())
    assert doc["schema"] == "posekit.result" and doc["version"] == 1 and doc["kind"] == "image"
    back = read_result(path)
    np.testing.assert_allclose(back.keypoints_2d, res.keypoints_2d)
    assert np.isnan(back.keypoints_3d[1, 5]).all()
    seq = PoseSequence.from_frames([res, res.select(0)], [0.0, 0.5])
    back_seq = read_result(write_json(result_document(seq, "rtmw3d-l"), tmp_path / "s.json"))
    assert isinstance(back_seq, PoseSequence) and back_seq.num_frames == 2


def test_newer_version_or_other_document_refused(tmp_path):
    (tmp_path / "n.json").write_text(json.dumps({"schema": "posekit.result", "version": 99, "kind": "image"}))
    with pytest.raises(ValueError, match="newer"):
        read_result(tmp_path / "n.json")
    (tmp_path / "o.json").write_text(json.dumps({"foo": 1}))
    with pytest.raises(ValueError, match="expected a posekit.result document"):
        read_result(tmp_path / "o.json")


def test_csv_rows_and_blank_unknowns():
    res = image_result()
    rows = list(csv.reader(io.StringIO(keypoints_csv(res))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1 + 2 * 133
    row = rows[1 + 133 + 5]
    assert row[4] == "left_shoulder" and row[8:] == ["", "", ""]
    two_d = Poses(np.zeros((1, 19, 2)), np.ones((1, 19)), [[0, 0, 1, 1]], [1], POSEKIT_COCO17_2)
    assert list(csv.reader(io.StringIO(keypoints_csv(two_d))))[1][4] == "Nose"


def test_zip_holds_json_csv_and_extras(tmp_path):
    res = image_result()
    (tmp_path / "overlay.png").write_bytes(b"png")
    out = write_results_zip(tmp_path / "r.zip", result_document(res, "posekit"), res,
                            files={"overlay.png": tmp_path / "overlay.png"},
                            writers={"take.zip": lambda p: p.write_bytes(b"take")})  # fmt: skip
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == ["keypoints.csv", "overlay.png", "results.json", "take.zip"]
        assert z.read("take.zip") == b"take"


def test_failed_write_leaves_nothing(tmp_path):
    res = image_result()

    def boom(path):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_results_zip(tmp_path / "r.zip", result_document(res, "x"), res, writers={"t": boom})
    assert list(tmp_path.iterdir()) == []
