import numpy as np
import pytest
import torch

from posekit.estimators import rtmdet_post as rp


def brute_force_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    """Textbook greedy NMS in float64: visit by decreasing score, drop anything overlapping a kept box."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep: list[int] = []
    for i in order:
        ok = True
        for j in keep:
            xx1, yy1 = max(boxes[i, 0], boxes[j, 0]), max(boxes[i, 1], boxes[j, 1])
            xx2, yy2 = min(boxes[i, 2], boxes[j, 2]), min(boxes[i, 3], boxes[j, 3])
            inter = max(0.0, xx2 - xx1) * max(0.0, yy2 - yy1)
            area_i = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
            area_j = (boxes[j, 2] - boxes[j, 0]) * (boxes[j, 3] - boxes[j, 1])
            if inter / (area_i + area_j - inter) > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


def random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.uniform(0, 200, (n, 2))
    wh = rng.uniform(5, 80, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype(np.float32)


@pytest.mark.parametrize("seed", range(5))
def test_nms_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, 300)
    scores = rng.permutation(300).astype(np.float32) / 300  # distinct scores
    keep = rp.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.6)
    assert keep.tolist() == brute_force_nms(boxes.astype(np.float64), scores, 0.6)
    assert rp.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.6, max_keep=7).tolist() == keep[:7].tolist()


def test_nms_threshold_is_strict_and_empty_input_is_fine():
    boxes = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 6], [0, 0, 10, 7]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    # IoU(0, 1) = 0.6 exactly: kept (suppression needs > 0.6); IoU(0, 2) = 0.7: suppressed.
    assert rp.nms(boxes, scores, 0.6).tolist() == [0, 1]
    assert rp.nms(torch.zeros(0, 4), torch.zeros(0), 0.6).numel() == 0


def test_batched_nms_keeps_overlapping_boxes_of_other_classes():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    labels = torch.tensor([0, 0, 1])
    assert rp.batched_nms(boxes, scores, labels, 0.6).tolist() == [0, 2]


def test_box_iou_hand_numbers():
    iou = rp.box_iou(torch.tensor([[0.0, 0, 2, 2], [1, 1, 3, 3], [5, 5, 6, 6]]))
    np.testing.assert_allclose(iou.numpy()[0], [1, 1 / 7, 0], rtol=1e-6)


def test_resize_and_pad_keeps_the_ratio():
    image = np.full((500, 1000, 3), 7, np.uint8)
    padded, factor = rp.resize_and_pad(image)
    assert padded.shape == (640, 640, 3) and factor == (0.64, 0.64)
    assert (padded[:320] == 7).all() and (padded[320:] == 114).all()
    small = np.zeros((100, 50, 3), np.uint8)  # upscaled: 1280 x 640 would not fit, 640 x 320 does
    padded, factor = rp.resize_and_pad(small)
    assert factor == (320 / 50, 640 / 100) and (padded[:, 320:] == 114).all()


def test_normalize_images_keeps_bgr():
    batch = torch.zeros(1, 2, 2, 3, dtype=torch.uint8)
    batch[..., 0] = 255
    x = rp.normalize_images(batch)
    np.testing.assert_allclose(x[0, :, 0, 0].numpy(), [(255 - 103.53) / 57.375, -116.28 / 57.12, -123.675 / 58.395])


def test_grid_points_are_row_major_with_offset_zero():
    pts = rp.grid_points(2, 3, 8)
    assert pts.tolist() == [[0, 0], [8, 0], [16, 0], [0, 8], [8, 8], [16, 8]]


def test_distance_to_boxes_clips_to_the_input():
    boxes = rp.distance_to_boxes(torch.tensor([[16.0, 8.0]]), torch.tensor([[4.0, 10.0, 700.0, 2.0]]), (640, 640))
    assert boxes.tolist() == [[12.0, 0.0, 640.0, 10.0]]


def level_outputs(hw: tuple[int, int], hits: dict[int, tuple[float, list[float]]]) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = hw
    cls = torch.full((1, h, w), -10.0)
    reg = torch.ones(4, h, w)
    for index, (logit, dist) in hits.items():
        cls[0, index // w, index % w] = logit
        reg[:, index // w, index % w] = torch.tensor(dist)
    return cls, reg


def test_postprocess_decodes_filters_rescales_and_suppresses():
    # 64 x 64 input, strides 8/16/32 -> 8x8, 4x4, 2x2 maps; resize factor 0.5 (the image was 128 x 128).
    c8, r8 = level_outputs((8, 8), {9: (3.0, [8, 8, 8, 8]), 10: (2.0, [8, 8, 8, 8]), 20: (-3.5, [1, 1, 1, 1])})
    c16, r16 = level_outputs((4, 4), {5: (1.0, [4, 4, 20, 20])})
    c32, r32 = level_outputs((2, 2), {3: (0.5, [0, 0, 0, 5])})  # zero width: dropped
    boxes, scores, labels = rp.postprocess_image(
        [c8, c16, c32], [r8, r16, r32], (0.5, 0.5), rp.DetectorPostprocess(), input_size=(64, 64)
    )
    # level 8, index 9 -> point (8, 8): box (0, 0, 16, 16) -> x2: (0, 0, 32, 32)
    # level 8, index 10 -> point (16, 8): (8, 0, 24, 16) -> (16, 0, 48, 32); IoU with the first 1/3: kept
    # level 16, index 5 -> point (16, 16): (12, 12, 36, 36) -> (24, 24, 72, 72)
    # index 20 at stride 8: sigmoid(-3.5) = 0.029 < 0.05: filtered
    expected = [[0, 0, 32, 32], [16, 0, 48, 32], [24, 24, 72, 72]]
    np.testing.assert_allclose(boxes.numpy(), expected)
    np.testing.assert_allclose(scores.numpy(), torch.sigmoid(torch.tensor([3.0, 2.0, 1.0])).numpy(), rtol=1e-6)
    assert labels.tolist() == [0, 0, 0]


def test_postprocess_caps_candidates_and_results():
    rng = np.random.default_rng(1)
    c8 = torch.from_numpy(rng.normal(0, 1, (1, 8, 8)).astype(np.float32))
    r8 = torch.full((4, 8, 8), 2.0)  # disjoint 4 x 4 boxes around points 8 px apart: no suppression
    empty_c = [torch.full((1, 4, 4), -20.0), torch.full((1, 2, 2), -20.0)]
    empty_r = [torch.ones(4, 4, 4), torch.ones(4, 2, 2)]
    cfg = rp.DetectorPostprocess(nms_pre=10, max_per_img=4)
    boxes, scores, _ = rp.postprocess_image([c8, *empty_c], [r8, *empty_r], (1.0, 1.0), cfg, input_size=(64, 64))
    best = np.sort(torch.sigmoid(c8).numpy().ravel())[::-1][:4]
    np.testing.assert_allclose(scores.numpy(), best, rtol=1e-6)
    assert boxes.shape == (4, 4)
