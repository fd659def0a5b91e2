import json

import numpy as np
import pytest

from posekit.poses import Poses
from posekit.sequence import PoseSequence
from posekit.skeletons import COCO_WHOLEBODY, POSEKIT_COCO17_2


def poses(ids, k=19, skel=POSEKIT_COCO17_2, with_3d=True, seed=0):
    rng = np.random.default_rng(seed)
    n = len(ids)
    return Poses(rng.random((n, k, 2)) * 100, rng.random((n, k)), np.tile([0, 0, 10, 10], (n, 1)), np.ones(n),
                 skel, keypoints_3d=rng.random((n, k, 3)) if with_3d else None, track_ids=ids,
                 image_size=(640, 480))  # fmt: skip


def test_from_frames_aligns_tracks_and_marks_absence():
    frames = [poses([3, 5], seed=0), poses([5], seed=1), poses([], seed=2), poses([7, 3], seed=3)]
    seq = PoseSequence.from_frames(frames, [0.0, 0.1, 0.2, 0.3])
    assert seq.track_ids.tolist() == [3, 5, 7]
    assert seq.keypoints_2d.shape == (4, 3, 19, 2)
    assert seq.present.tolist() == [[True, True, False], [False, True, False], [False] * 3, [True, False, True]]
    np.testing.assert_allclose(seq.keypoints_2d[3, 0], frames[3].keypoints_2d[1], rtol=1e-6)
    back = seq.frame(3)
    assert back.track_ids.tolist() == [3, 7]
    np.testing.assert_allclose(back.keypoints_3d, seq.keypoints_3d[3, [0, 2]], rtol=1e-6)
    assert len(seq.frame(2)) == 0
    assert seq.estimated_fps() == pytest.approx(10.0)


def test_slicing_and_json_round_trip():
    seq = PoseSequence.from_frames([poses([0, 1], seed=i) for i in range(5)], np.arange(5) / 30, fps=30.0)
    part = seq.frames(slice(1, 4)).people(1)
    assert part.keypoints_2d.shape == (3, 1, 19, 2) and part.track_ids.tolist() == [1]
    seq.keypoints_3d[0, 0, 0] = np.nan
    back = PoseSequence.from_json(json.loads(json.dumps(seq.to_json(), allow_nan=False)))
    np.testing.assert_array_equal(back.keypoints_2d, seq.keypoints_2d)
    np.testing.assert_array_equal(back.keypoints_3d, seq.keypoints_3d)
    assert back.fps == 30.0 and back.image_size == (640, 480)


def test_empty_sequence_and_shape_errors():
    seq = PoseSequence.from_frames([], [], skeleton=COCO_WHOLEBODY)
    assert seq.keypoints_2d.shape == (0, 0, 133, 2)
    back = PoseSequence.from_json(json.loads(json.dumps(seq.to_json())))
    assert back.num_frames == 0
    with pytest.raises(ValueError, match=r"expected shape \(2, P, 19, 2\)"):
        PoseSequence(np.zeros(2), np.zeros((2, 1, 17, 2)), np.zeros((2, 1, 17)), POSEKIT_COCO17_2)
