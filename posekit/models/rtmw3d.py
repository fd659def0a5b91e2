"""RTMW3D (mmpose ``projects/rtmpose3d``): top-down whole-body 3D pose network, in plain PyTorch.

CSPNeXt backbone -> CSPNeXtPAFPN neck (stride 16 and 32 maps, no output convs) -> RTMW3D SimCC head.
``state_dict()`` keys (``backbone.*``, ``neck.*``, ``head.*``) equal those of OpenMMLab's checkpoints
``rtmw3d-l_8xb64_cocktail14-384x288-794dbc78_20240626.pth`` and
``rtmw3d-x_8xb64_cocktail14-384x288-b0a0eab7_20240626.pth``, which load with strict key checking.

The network maps one normalised person crop to raw SimCC logits; cropping (affine warp to 288 x 384,
BGR -> RGB, mean/std normalisation) and decoding live in ``posekit.pipeline``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from torch import Tensor, nn

from posekit.models.cspnext import CSPNeXt, CSPNeXtConfig
from posekit.models.cspnext_pafpn import CSPNeXtPAFPN
from posekit.models.rtmw3d_head import RTMW3DHead

# Normalisation the network was trained with, applied to RGB pixel values (0..255).
RTMW3D_MEAN_RGB = (123.675, 116.28, 103.53)
RTMW3D_STD_RGB = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class RTMW3DConfig:
    """Hyper-parameters of :class:`RTMW3D` (values of the upstream configs).

    ``input_size`` is ``(W, H, D)``: the crop is W x H pixels; depth is classified into ``D * ratio`` bins.
    """

    backbone: CSPNeXtConfig
    num_keypoints: int = 133
    input_size: tuple[int, int, int] = (288, 384, 288)
    simcc_split_ratio: float = 2.0
    num_csp_blocks: int = 2
    final_layer_kernel_size: int = 7
    gau_hidden_dims: int = 256
    gau_s: int = 128
    gau_expansion_factor: int = 2

    @property
    def in_featuremap_size(self) -> tuple[int, int, int]:
        return tuple(n // 32 for n in self.input_size)  # type: ignore[return-value]


RTMW3D_L = RTMW3DConfig(backbone=CSPNeXtConfig(deepen_factor=1.0, widen_factor=1.0))
RTMW3D_X = RTMW3DConfig(backbone=CSPNeXtConfig(deepen_factor=1.33, widen_factor=1.25))


class RTMW3D(nn.Module):
    """Top-down RTMW3D network: one normalised crop in, SimCC logits for x, y and z out.

    Forward:
        x: ``(B, 3, H, W)`` float, RGB, normalised with :data:`RTMW3D_MEAN_RGB` / :data:`RTMW3D_STD_RGB`;
            ``(H, W)`` = ``(input_size[1], input_size[0])`` = (384, 288).

    Returns:
        ``(simcc_x, simcc_y, simcc_z)``: raw logits of shape ``(B, K, 576)``, ``(B, K, 768)``,
        ``(B, K, 576)`` for the default config (K = 133, bins = input_size * simcc_split_ratio).
    """

    def __init__(self, config: RTMW3DConfig = RTMW3D_L) -> None:
        super().__init__()
        self.config = config
        self.backbone = CSPNeXt(config.backbone)
        in_channels = config.backbone.out_channels
        self.neck = CSPNeXtPAFPN(
            in_channels, None, out_indices=(1, 2), num_csp_blocks=config.num_csp_blocks, expand_ratio=0.5
        )
        self.head = RTMW3DHead(
            in_channels[-1],
            num_keypoints=config.num_keypoints,
            input_size=config.input_size,
            in_featuremap_size=config.in_featuremap_size,
            simcc_split_ratio=config.simcc_split_ratio,
            final_layer_kernel_size=config.final_layer_kernel_size,
            hidden_dims=config.gau_hidden_dims,
            s=config.gau_s,
            expansion_factor=config.gau_expansion_factor,
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.head(self.neck(self.backbone(x)))


def _build(config: RTMW3DConfig, weights: str | os.PathLike | None) -> RTMW3D:
    model = RTMW3D(config)
    if weights is not None:
        from posekit.io.checkpoints import load_into, load_state_dict

        load_into(model, load_state_dict(weights), weights)
    return model.eval()


def rtmw3d_l(weights: str | os.PathLike | None = None) -> RTMW3D:
    """RTMW3D-L (CSPNeXt deepen 1.0, widen 1.0), in eval mode.

    Args:
        weights: optional checkpoint file (upstream ``.pth`` or ``.safetensors``), loaded strictly;
            without it the weights are random.
    """
    return _build(RTMW3D_L, weights)


def rtmw3d_x(weights: str | os.PathLike | None = None) -> RTMW3D:
    """RTMW3D-X (CSPNeXt deepen 1.33, widen 1.25), in eval mode. See :func:`rtmw3d_l`."""
    return _build(RTMW3D_X, weights)
