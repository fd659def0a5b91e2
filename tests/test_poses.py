import json

import numpy as np
import pytest
import torch

from posekit.coords import camera_to_seed, seed_to_camera
from posekit.poses import Poses, concatenate
from posekit.skeletons import COCO_WHOLEBODY, POSEKIT_COCO17_2


def make(n=2, with_3d=True):
    rng = np.random.default_rng(0)
    return Poses(
        keypoints_2d=rng.random((n, 133, 2)) * 100,
        scores=rng.random((n, 133)),
        bboxes=np.tile([1, 2, 30, 40], (n, 1)),
        bbox_scores=np.ones(n),
        skeleton=COCO_WHOLEBODY,
        keypoints_3d=rng.random((n, 133, 3)) if with_3d else None,
        space_3d="model" if with_3d else None,
    )


def test_empty_has_correct_shapes():
    p = Poses.empty(COCO_WHOLEBODY, with_3d=True)
    d = p.to_dict()
    assert len(p) == 0
    assert d["keypoints_3d"].shape == (0, 133, 3)
    assert d["keypoints_2d"].shape == (0, 133, 2)
    assert d["scores"].shape == (0, 133)
    assert d["bboxes"].shape == (0, 4)


def test_dict_view_is_the_seed_convention():
    p = make()
    np.testing.assert_array_equal(p["keypoints_3d"], -p.keypoints_3d[..., [0, 2, 1]])
    np.testing.assert_array_equal(p["keypoints_2d"], p.keypoints_2d)
    assert set(p.keys()) == {"keypoints_3d", "keypoints_2d", "scores", "bboxes"}
    np.testing.assert_allclose(seed_to_camera(camera_to_seed(p.keypoints_3d)), p.keypoints_3d)
    pt = p.to_dict(return_tensors="pt")
    assert isinstance(pt["scores"], torch.Tensor) and pt["scores"].shape == (2, 133)


def test_2d_only_has_no_3d_key():
    p = make(with_3d=False)
    assert "keypoints_3d" not in p
    with pytest.raises(KeyError, match="expected one of"):
        p["keypoints_3d"]


def test_shape_errors_say_what_was_expected():
    with pytest.raises(ValueError, match=r"expected shape \(\*, 19, 2\), got \(1, 17, 2\)"):
        Poses(np.zeros((1, 17, 2)), np.zeros((1, 17)), np.zeros((1, 4)), np.zeros(1), POSEKIT_COCO17_2)


def test_select_and_concatenate():
    p = make(3)
    one = p.select(1)
    assert len(one) == 1
    np.testing.assert_array_equal(one.keypoints_2d[0], p.keypoints_2d[1])
    both = concatenate([p.select([0]), p.select([2])])
    np.testing.assert_array_equal(both.scores, p.scores[[0, 2]])


def test_json_round_trip_keeps_nan_as_null():
    p = make()
    p.keypoints_3d[0, 5] = np.nan
    text = json.dumps(p.to_json(), allow_nan=False)
    back = Poses.from_json(json.loads(text))
    assert np.isnan(back.keypoints_3d[0, 5]).all()
    np.testing.assert_allclose(back.keypoints_2d, p.keypoints_2d, rtol=1e-6)
    empty = Poses.from_json(json.loads(json.dumps(Poses.empty(COCO_WHOLEBODY).to_json())))
    assert empty.keypoints_2d.shape == (0, 133, 2)
