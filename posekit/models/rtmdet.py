"""RTMDet (mmdet): one-stage anchor-free detector, in plain PyTorch; here the person-only RTMDet-M.

CSPNeXt backbone -> CSPNeXtPAFPN neck (3 levels, 3x3 output convs) -> ``RTMDetSepBNHead``.
``state_dict()`` keys (``backbone.*``, ``neck.*``, ``bbox_head.*``) equal those of
``rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.pth``, which loads with strict key checking.

The network returns raw per-level maps; decoding (anchor points, distance -> box, score threshold, NMS,
undoing the letterbox resize) lives in ``posekit.pipeline``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from torch import Tensor, nn

from posekit.models.cspnext import ConvModule, CSPNeXt, CSPNeXtConfig
from posekit.models.cspnext_pafpn import CSPNeXtPAFPN

# Normalisation the detector was trained with, applied to BGR pixel values (0..255; no BGR -> RGB swap).
RTMDET_MEAN_BGR = (103.53, 116.28, 123.675)
RTMDET_STD_BGR = (57.375, 57.12, 58.395)


class RTMDetSepBNHead(nn.Module):
    """RTMDet head: per level, two stacked 3x3 ConvModules for classes and for boxes, then 1x1 predictors.

    With ``share_conv`` every level uses the same conv weights (``cls_convs[n][i].conv`` is
    ``cls_convs[0][i].conv``) but its own BatchNorm; the state dict still lists the shared weight under
    every level, as upstream's does.

    Args:
        num_classes: class logits per location (1 for the person detector).
        in_channels: channels of each neck level.
        feat_channels: channels of the stacked convs.
        stacked_convs: 3x3 ConvModules per branch.
        strides: stride of each level in input pixels.
        share_conv: share conv weights across levels.
        exp_on_reg: box distances are ``exp(reg) * stride`` instead of ``reg * stride``.
        pred_kernel_size: kernel of ``rtm_cls`` / ``rtm_reg``.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        feat_channels: int,
        stacked_convs: int = 2,
        strides: tuple[int, ...] = (8, 16, 32),
        share_conv: bool = True,
        exp_on_reg: bool = True,
        pred_kernel_size: int = 1,
    ) -> None:
        super().__init__()
        self.strides = tuple(strides)
        self.exp_on_reg = exp_on_reg

        def branch() -> nn.ModuleList:
            return nn.ModuleList(
                ConvModule(in_channels if i == 0 else feat_channels, feat_channels, 3, padding=1)
                for i in range(stacked_convs)
            )

        self.cls_convs = nn.ModuleList(branch() for _ in strides)
        self.reg_convs = nn.ModuleList(branch() for _ in strides)
        pad = pred_kernel_size // 2
        self.rtm_cls = nn.ModuleList(
            nn.Conv2d(feat_channels, num_classes, pred_kernel_size, padding=pad) for _ in strides
        )
        self.rtm_reg = nn.ModuleList(nn.Conv2d(feat_channels, 4, pred_kernel_size, padding=pad) for _ in strides)
        if share_conv:
            for level in range(1, len(strides)):
                for i in range(stacked_convs):
                    self.cls_convs[level][i].conv = self.cls_convs[0][i].conv
                    self.reg_convs[level][i].conv = self.reg_convs[0][i].conv

    def forward(self, feats: tuple[Tensor, ...]) -> tuple[list[Tensor], list[Tensor]]:
        """Raw predictions per level.

        Args:
            feats: one ``(B, in_channels, H_l, W_l)`` map per stride.

        Returns:
            ``cls_scores``: per level ``(B, num_classes, H_l, W_l)`` logits (apply a sigmoid for scores).
            ``bbox_preds``: per level ``(B, 4, H_l, W_l)`` distances (left, top, right, bottom) from each
            anchor point ``((x, y) * stride)`` to the box sides, in input pixels.
        """
        if len(feats) != len(self.strides):
            raise ValueError(f"expected {len(self.strides)} feature maps (strides {self.strides}), got {len(feats)}")
        cls_scores, bbox_preds = [], []
        for level, (x, stride) in enumerate(zip(feats, self.strides, strict=True)):
            cls_feat, reg_feat = x, x
            for layer in self.cls_convs[level]:
                cls_feat = layer(cls_feat)
            for layer in self.reg_convs[level]:
                reg_feat = layer(reg_feat)
            reg = self.rtm_reg[level](reg_feat)
            cls_scores.append(self.rtm_cls[level](cls_feat))
            bbox_preds.append((reg.exp() if self.exp_on_reg else reg) * stride)
        return cls_scores, bbox_preds


@dataclass(frozen=True)
class RTMDetConfig:
    """Hyper-parameters of :class:`RTMDet` (values of mmdet's RTMDet configs)."""

    backbone: CSPNeXtConfig
    neck_out_channels: int
    num_csp_blocks: int
    num_classes: int = 1
    stacked_convs: int = 2
    strides: tuple[int, ...] = (8, 16, 32)
    exp_on_reg: bool = True


RTMDET_M_PERSON = RTMDetConfig(
    backbone=CSPNeXtConfig(deepen_factor=0.67, widen_factor=0.75), neck_out_channels=192, num_csp_blocks=2
)


class RTMDet(nn.Module):
    """RTMDet network.

    Forward:
        x: ``(B, 3, H, W)`` float, BGR, normalised with :data:`RTMDET_MEAN_BGR` / :data:`RTMDET_STD_BGR`;
            640 x 640 (letterboxed, padded with 114) for the published models. H, W multiples of 32.

    Returns:
        ``(cls_scores, bbox_preds)``: lists over strides 8, 16, 32 of ``(B, num_classes, H/s, W/s)``
        logits and ``(B, 4, H/s, W/s)`` ltrb distances in input pixels (see
        :meth:`RTMDetSepBNHead.forward`).
    """

    def __init__(self, config: RTMDetConfig = RTMDET_M_PERSON) -> None:
        super().__init__()
        self.config = config
        self.backbone = CSPNeXt(config.backbone)
        width = config.neck_out_channels
        self.neck = CSPNeXtPAFPN(
            config.backbone.out_channels, width, num_csp_blocks=config.num_csp_blocks, expand_ratio=0.5
        )
        self.bbox_head = RTMDetSepBNHead(
            config.num_classes,
            width,
            width,
            stacked_convs=config.stacked_convs,
            strides=config.strides,
            exp_on_reg=config.exp_on_reg,
        )

    def forward(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        return self.bbox_head(self.neck(self.backbone(x)))


def rtmdet_m(weights: str | os.PathLike | None = None) -> RTMDet:
    """Person-only RTMDet-M (CSPNeXt deepen 0.67, widen 0.75; 1 class), in eval mode.

    Args:
        weights: optional checkpoint file (upstream ``.pth`` or ``.safetensors``), loaded strictly;
            without it the weights are random.
    """
    model = RTMDet(RTMDET_M_PERSON)
    if weights is not None:
        from posekit.io.checkpoints import load_into, load_state_dict

        load_into(model, load_state_dict(weights), weights)
    return model.eval()
