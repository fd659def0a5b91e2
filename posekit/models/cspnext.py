"""CSPNeXt: the convolutional backbone of RTMDet and RTMPose/RTMW, in plain PyTorch.

Module and parameter names follow mmdet's ``CSPNeXt`` (and mmcv's ``ConvModule``: ``conv`` + ``bn``), so
``state_dict()`` keys equal OpenMMLab checkpoints' ``backbone.*`` keys with the prefix removed.

Layout (arch P5, widen factor ``w``, deepen factor ``d``)::

    stem    3 x ConvModule 3x3 (stride 2, 1, 1)         ->  64w ch, stride 2
    stage1  ConvModule 3x3 s2, CSPLayer(3d blocks)      -> 128w ch, stride 4
    stage2  ConvModule 3x3 s2, CSPLayer(6d blocks)      -> 256w ch, stride 8
    stage3  ConvModule 3x3 s2, CSPLayer(6d blocks)      -> 512w ch, stride 16
    stage4  ConvModule 3x3 s2, SPPF, CSPLayer(3d, no identity) -> 1024w ch, stride 32

``out_indices`` count the stem as 0, so the default (2, 3, 4) returns stage2..stage4 (strides 8, 16, 32).
All BatchNorms use eps 1e-5, as in every config this project loads (``BN``/``SyncBN`` with defaults).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ActivationFactory = Callable[[], nn.Module]


class ConvModule(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d -> activation: mmcv's ``ConvModule`` with a BN norm.

    Attributes ``conv`` and ``bn`` carry mmcv's key names. :func:`posekit.models.fuse.fold_batchnorm`
    folds ``bn`` into ``conv`` (then ``bn`` is an ``nn.Identity`` and ``conv`` has a bias).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, groups: as for ``nn.Conv2d``.
        act: activation factory, e.g. ``nn.SiLU`` or ``nn.ReLU``; ``None`` for no activation.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        act: ActivationFactory | None = nn.SiLU,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = act() if act is not None else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class DepthwiseSeparableConvModule(nn.Module):
    """Depthwise kxk ConvModule then pointwise 1x1 ConvModule, each with BN and activation (mmcv's)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        act: ActivationFactory | None = nn.SiLU,
    ) -> None:
        super().__init__()
        self.depthwise_conv = ConvModule(
            in_channels, in_channels, kernel_size, stride, padding, groups=in_channels, act=act
        )
        self.pointwise_conv = ConvModule(in_channels, out_channels, 1, act=act)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


class ChannelAttention(nn.Module):
    """Squeeze-excitation without reduction: ``x * hardsigmoid(fc(mean over H, W of x))``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Conv2d(channels, channels, 1, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        weights = F.hardsigmoid(self.fc(x.mean(dim=(2, 3), keepdim=True)))
        return x * weights


class CSPNeXtBlock(nn.Module):
    """3x3 ConvModule then a depthwise-separable 5x5, with a residual when shapes allow.

    Args:
        in_channels, out_channels: channels in and out.
        expansion: hidden channels = ``int(out_channels * expansion)``.
        add_identity: add the input to the output (only applied when ``in_channels == out_channels``).
        kernel_size: kernel of the depthwise convolution.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expansion: float = 0.5,
        add_identity: bool = True,
        kernel_size: int = 5,
        act: ActivationFactory = nn.SiLU,
    ) -> None:
        super().__init__()
        hidden = int(out_channels * expansion)
        self.conv1 = ConvModule(in_channels, hidden, 3, padding=1, act=act)
        self.conv2 = DepthwiseSeparableConvModule(hidden, out_channels, kernel_size, padding=kernel_size // 2, act=act)
        self.add_identity = add_identity and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class CSPLayer(nn.Module):
    """Cross-stage-partial layer with CSPNeXt blocks.

    ``final_conv(attention(cat(blocks(main_conv(x)), short_conv(x))))``; both branches have
    ``int(out_channels * expand_ratio)`` channels.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expand_ratio: float = 0.5,
        num_blocks: int = 1,
        add_identity: bool = True,
        channel_attention: bool = False,
        act: ActivationFactory = nn.SiLU,
    ) -> None:
        super().__init__()
        mid = int(out_channels * expand_ratio)
        self.main_conv = ConvModule(in_channels, mid, 1, act=act)
        self.short_conv = ConvModule(in_channels, mid, 1, act=act)
        self.final_conv = ConvModule(2 * mid, out_channels, 1, act=act)
        self.blocks = nn.Sequential(*(CSPNeXtBlock(mid, mid, 1.0, add_identity, act=act) for _ in range(num_blocks)))
        self.attention = ChannelAttention(2 * mid) if channel_attention else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x_main = self.blocks(self.main_conv(x))
        x_short = self.short_conv(x)
        return self.final_conv(self.attention(torch.cat((x_main, x_short), dim=1)))


class SPPF(nn.Module):
    """mmdet's ``SPPBottleneck`` with kernel sizes (5, 9, 13), computed the SPPF way.

    Upstream max-pools the same map with 5x5, 9x9 and 13x13 windows in parallel. Stride-1 max pooling
    with -inf padding composes exactly (a 5x5 pool of a 5x5 pool is a 9x9 pool, once more a 13x13 pool),
    so three chained 5x5 pools give bit-identical results for far fewer comparisons.
    """

    def __init__(self, in_channels: int, out_channels: int, act: ActivationFactory = nn.SiLU) -> None:
        super().__init__()
        mid = in_channels // 2
        self.conv1 = ConvModule(in_channels, mid, 1, act=act)
        self.conv2 = ConvModule(mid * 4, out_channels, 1, act=act)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        p5 = F.max_pool2d(x, 5, 1, 2)
        p9 = F.max_pool2d(p5, 5, 1, 2)
        p13 = F.max_pool2d(p9, 5, 1, 2)
        return self.conv2(torch.cat((x, p5, p9, p13), dim=1))


# Per stage: in channels, out channels, blocks, residual inside blocks, SPP before the CSP layer.
ARCH_SETTINGS: dict[str, tuple[tuple[int, int, int, bool, bool], ...]] = {
    "P5": (
        (64, 128, 3, True, False),
        (128, 256, 6, True, False),
        (256, 512, 6, True, False),
        (512, 1024, 3, False, True),
    ),
}


@dataclass(frozen=True)
class CSPNeXtConfig:
    """Hyper-parameters of :class:`CSPNeXt` (mmdet's argument names)."""

    arch: str = "P5"
    deepen_factor: float = 1.0
    widen_factor: float = 1.0
    expand_ratio: float = 0.5
    channel_attention: bool = True
    out_indices: tuple[int, ...] = (2, 3, 4)

    def stage_channels(self) -> list[int]:
        """Output channels of stem, stage1, stage2, ... (indexable by ``out_indices``)."""
        settings = ARCH_SETTINGS[self.arch]
        return [int(settings[0][0] * self.widen_factor)] + [int(s[1] * self.widen_factor) for s in settings]

    @property
    def out_channels(self) -> list[int]:
        """Channels of the returned feature maps, in order."""
        channels = self.stage_channels()
        return [channels[i] for i in self.out_indices]


class CSPNeXt(nn.Module):
    """CSPNeXt backbone (RTMDet, RTMPose, RTMW).

    Input ``(B, 3, H, W)`` normalised image; output a tuple of feature maps, one per ``out_indices``
    entry, ``(B, C_i, H / s_i, W / s_i)`` with ``s`` = 2, 4, 8, 16, 32 for indices 0..4 (H and W are
    best multiples of 32; otherwise each stride-2 conv rounds up).
    """

    def __init__(self, config: CSPNeXtConfig = CSPNeXtConfig(), act: ActivationFactory = nn.SiLU) -> None:
        super().__init__()
        if config.arch not in ARCH_SETTINGS:
            raise ValueError(f"arch must be one of {sorted(ARCH_SETTINGS)}, got {config.arch!r}")
        settings = ARCH_SETTINGS[config.arch]
        if not set(config.out_indices) <= set(range(len(settings) + 1)):
            raise ValueError(f"out_indices must lie in 0..{len(settings)} (0 = stem), got {config.out_indices}")
        self.config = config
        w = config.widen_factor
        stem = int(settings[0][0] * w)
        self.stem = nn.Sequential(
            ConvModule(3, stem // 2, 3, stride=2, padding=1, act=act),
            ConvModule(stem // 2, stem // 2, 3, padding=1, act=act),
            ConvModule(stem // 2, stem, 3, padding=1, act=act),
        )
        self.stage_names = ["stem"]
        for i, (c_in, c_out, blocks, add_identity, use_spp) in enumerate(settings):
            c_in, c_out = int(c_in * w), int(c_out * w)
            stage: list[nn.Module] = [ConvModule(c_in, c_out, 3, stride=2, padding=1, act=act)]
            if use_spp:
                stage.append(SPPF(c_out, c_out, act=act))
            stage.append(
                CSPLayer(
                    c_out,
                    c_out,
                    config.expand_ratio,
                    num_blocks=max(round(blocks * config.deepen_factor), 1),
                    add_identity=add_identity,
                    channel_attention=config.channel_attention,
                    act=act,
                )
            )
            self.add_module(f"stage{i + 1}", nn.Sequential(*stage))
            self.stage_names.append(f"stage{i + 1}")

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        outs = []
        for i, name in enumerate(self.stage_names[: max(self.config.out_indices) + 1]):
            x = getattr(self, name)(x)
            if i in self.config.out_indices:
                outs.append(x)
        return tuple(outs)
