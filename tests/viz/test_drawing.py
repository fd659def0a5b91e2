import numpy as np

from posekit.io.images import read_image
from posekit.poses import Poses
from posekit.skeletons import COCO_WHOLEBODY, POSEKIT_COCO17_2
from posekit.viz.drawing import draw_poses


def test_draws_both_skeletons_without_touching_input(data_dir):
    img = read_image(data_dir / "coco" / "000000000785.jpg")
    before = img.copy()
    rng = np.random.default_rng(1)
    for skel in (COCO_WHOLEBODY, POSEKIT_COCO17_2):
        k = skel.num_keypoints
        p = Poses(rng.random((2, k, 2)) * [640, 425], np.ones((2, k)), [[10, 10, 200, 300]] * 2, [1, 1], skel,
                  track_ids=[0, 7])  # fmt: skip
        out = draw_poses(img, p)
        assert out.shape == img.shape and (out != img).any()
    np.testing.assert_array_equal(img, before)


def test_threshold_hides_low_scores():
    img = np.zeros((50, 50, 3), np.uint8)
    p = Poses(np.full((1, 19, 2), 25.0), np.zeros((1, 19)), np.zeros((1, 4)), [1], POSEKIT_COCO17_2)
    assert (draw_poses(img, p, keypoint_threshold=0.5) == 0).all()
