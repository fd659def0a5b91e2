"""RTMDet (person detector) pre- and post-processing, as mmdet 3.3 runs RTMDet-M's person config.

Preprocessing (mmdet ``Resize(scale=(640, 640), keep_ratio=True)`` + ``Pad(size=(640, 640), 114)`` +
``DetDataPreprocessor``): the image is resized with OpenCV's bilinear ``cv2.resize`` by
``min(640 / long side, 640 / short side)`` to ``int(w * s + 0.5) x int(h * s + 0.5)``, padded right and
bottom with grey 114 to 640 x 640, kept **BGR**, and normalised with mean (103.53, 116.28, 123.675) and std
(57.375, 57.12, 58.395).

Post-processing (mmdet ``BaseDenseHead._predict_by_feat_single`` + ``_bbox_post_process``), per image:

1. per level (strides 8, 16, 32): scores = sigmoid(class logits); keep scores > ``score_thr`` (0.05), the
   ``nms_pre`` (1000) best, sorted by score;
2. boxes from anchor points ``(j * stride, i * stride)`` (offset 0) and the head's distances
   ``(left, top, right, bottom)`` in input pixels (the network already applied ``exp(raw) * stride``,
   ``exp_on_reg``), clipped to the 640 x 640 input;
3. mapped back to the original image by multiplying with ``1 / scale_factor`` (boxes reaching into the
   padding may leave the image, as in mmdet); boxes of zero width or height dropped;
4. batched NMS (class offsets; IoU > 0.6 suppresses, areas without the +1), the ``max_per_img`` (100)
   best kept, sorted by score.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from posekit.models.rtmdet import RTMDET_MEAN_BGR, RTMDET_STD_BGR

INPUT_SIZE = 640
PAD_VALUE = 114
STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class DetectorPostprocess:
    """RTMDet test settings (the RTMPose3D person detector's: mmpose ``rtmdet_m_640-8xb32_coco-person``)."""

    score_thr: float = 0.05
    nms_pre: int = 1000
    iou_threshold: float = 0.6
    max_per_img: int = 100
    strides: tuple[int, ...] = STRIDES


def resize_and_pad(image_bgr: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, tuple[float, float]]:
    """Keep-ratio resize to fit ``size x size`` and pad right/bottom with 114 (mmdet ``Resize`` + ``Pad``).

    Args:
        image_bgr: (H, W, 3) uint8.
        size: the square input size.

    Returns:
        the (size, size, 3) uint8 input, and ``scale_factor = (new_w / W, new_h / H)``.
    """
    h, w = image_bgr.shape[:2]
    factor = min(size / max(h, w), size / min(h, w))
    new_w, new_h = int(w * factor + 0.5), int(h * factor + 0.5)
    resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    padded = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    padded[:new_h, :new_w] = resized
    return padded, (new_w / w, new_h / h)


def normalize_images(batch_bgr: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(B, H, W, 3) uint8 BGR -> (B, 3, H, W) ``(x - mean) / std`` in BGR order, channels-last memory."""
    x = batch_bgr.permute(0, 3, 1, 2).float()
    mean = torch.tensor(RTMDET_MEAN_BGR, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(RTMDET_STD_BGR, device=x.device).view(1, 3, 1, 1)
    return ((x - mean) / std).to(dtype=dtype, memory_format=torch.channels_last)


def grid_points(height: int, width: int, stride: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Anchor points of one level, row-major: (H * W, 2) float32 ``(x, y) = (j * stride, i * stride)``."""
    xs = torch.arange(width, device=device, dtype=torch.float32) * stride
    ys = torch.arange(height, device=device, dtype=torch.float32) * stride
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1)


def distance_to_boxes(points: torch.Tensor, distances: torch.Tensor, max_size: tuple[int, int]) -> torch.Tensor:
    """Boxes from points and ``(left, top, right, bottom)`` distances, clipped to ``max_size = (W, H)``.

    Args:
        points: (N, 2) ``(x, y)``; distances: (N, 4) pixels.

    Returns:
        (N, 4) ``[x1, y1, x2, y2]``.
    """
    x1 = (points[:, 0] - distances[:, 0]).clamp(0, max_size[0])
    y1 = (points[:, 1] - distances[:, 1]).clamp(0, max_size[1])
    x2 = (points[:, 0] + distances[:, 2]).clamp(0, max_size[0])
    y2 = (points[:, 1] + distances[:, 3]).clamp(0, max_size[1])
    return torch.stack([x1, y1, x2, y2], dim=-1)


def box_iou(boxes: torch.Tensor) -> torch.Tensor:
    """(N, 4) boxes -> (N, N) IoU, float32, areas ``(x2 - x1) * (y2 - y1)`` (mmcv ``nms`` with offset 0)."""
    b = boxes.float()
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    w = (torch.minimum(b[:, None, 2], b[None, :, 2]) - torch.maximum(b[:, None, 0], b[None, :, 0])).clamp(min=0)
    h = (torch.minimum(b[:, None, 3], b[None, :, 3]) - torch.maximum(b[:, None, 1], b[None, :, 1])).clamp(min=0)
    inter = w * h
    return inter / (area[:, None] + area[None, :] - inter)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, max_keep: int = -1) -> torch.Tensor:
    """Greedy non-maximum suppression: the highest score wins, a box with IoU > threshold to a winner goes.

    Args:
        boxes: (N, 4) ``[x1, y1, x2, y2]``; scores: (N,).
        iou_threshold: suppress when IoU is strictly above it.
        max_keep: stop after this many winners (-1: all).

    Returns:
        (M,) int64 indices into ``boxes`` of the kept boxes, by decreasing score.
    """
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    # The IoU matrix is computed on the device; the greedy pass is sequential and runs on the host.
    over = (box_iou(boxes[order]) > iou_threshold).cpu().numpy()
    suppressed = np.zeros(len(order), dtype=bool)
    keep: list[int] = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        if len(keep) == max_keep:
            break
        suppressed |= over[i]
    return order[torch.as_tensor(keep, dtype=torch.long, device=boxes.device)]


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float, max_keep: int = -1
) -> torch.Tensor:
    """NMS within each class: boxes of class c are shifted by ``c * (max coordinate + 1)`` so that boxes of
    different classes never overlap (mmcv ``batched_nms``). Returns kept indices by decreasing score."""
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    offsets = labels.to(boxes) * (boxes.max() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold, max_keep)


def _select_level(
    cls_score: torch.Tensor, bbox_pred: torch.Tensor, stride: int, cfg: DetectorPostprocess
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One level of one image: scores above threshold, the ``nms_pre`` best; their distances and points."""
    num_classes, h, w = cls_score.shape
    scores = cls_score.float().permute(1, 2, 0).reshape(-1, num_classes).sigmoid()
    dist = bbox_pred.float().permute(1, 2, 0).reshape(-1, 4)
    valid = torch.nonzero(scores > cfg.score_thr)
    kept = scores[valid[:, 0], valid[:, 1]]
    kept, order = torch.sort(kept, descending=True, stable=True)
    kept, order = kept[: cfg.nms_pre], order[: cfg.nms_pre]
    index, labels = valid[order, 0], valid[order, 1]
    distances = dist[index]
    points = grid_points(h, w, stride, cls_score.device)[index]
    return kept, labels, distances, points


def postprocess_image(
    cls_scores: list[torch.Tensor],
    bbox_preds: list[torch.Tensor],
    scale_factor: tuple[float, float],
    cfg: DetectorPostprocess | None = None,
    input_size: tuple[int, int] = (INPUT_SIZE, INPUT_SIZE),
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Detections of one image from the raw head outputs.

    Args:
        cls_scores: per level (C, H_l, W_l) class logits.
        bbox_preds: per level (4, H_l, W_l) ltrb distances in input pixels (``RTMDet``'s output).
        scale_factor: ``(sx, sy)`` of the resize (from :func:`resize_and_pad`).
        cfg: thresholds (default: the person config's).
        input_size: network input ``(W, H)`` (boxes are clipped to it before rescaling).

    Returns:
        boxes (M, 4) float32 ``[x1, y1, x2, y2]`` original-image pixels, scores (M,), labels (M,) int64,
        by decreasing score, M <= ``cfg.max_per_img``.
    """
    cfg = cfg if cfg is not None else DetectorPostprocess()
    parts = [_select_level(c, b, s, cfg) for c, b, s in zip(cls_scores, bbox_preds, cfg.strides, strict=True)]
    scores = torch.cat([p[0] for p in parts])
    labels = torch.cat([p[1] for p in parts])
    boxes = distance_to_boxes(torch.cat([p[3] for p in parts]), torch.cat([p[2] for p in parts]), input_size)
    inverse = torch.tensor([1 / scale_factor[0], 1 / scale_factor[1]], dtype=torch.float32, device=boxes.device)
    boxes = boxes * inverse.repeat(2)
    valid = (boxes[:, 2] - boxes[:, 0] > 0) & (boxes[:, 3] - boxes[:, 1] > 0)
    boxes, scores, labels = boxes[valid], scores[valid], labels[valid]
    keep = batched_nms(boxes, scores, labels, cfg.iou_threshold, cfg.max_per_img)
    return boxes[keep], scores[keep], labels[keep]
