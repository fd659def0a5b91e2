"""CSPNeXtPAFPN: the path-aggregation neck of RTMDet and RTMW, in plain PyTorch.

Names follow mmdet's/mmpose's ``CSPNeXtPAFPN`` so ``state_dict()`` keys equal checkpoints' ``neck.*`` keys.
With ``out_channels=None`` (RTMW/RTMW3D, mmpose's variant) there are no output convs and each level keeps
its input channel count; with an int (RTMDet) every level gets a 3x3 ``out_convs`` ConvModule.
``out_indices`` (mmpose's addition) picks which levels are returned.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.models.cspnext import ActivationFactory, ConvModule, CSPLayer


class CSPNeXtPAFPN(nn.Module):
    """Top-down then bottom-up feature fusion over N levels.

    Input: a sequence of N maps ``(B, in_channels[i], H_i, W_i)``, each level half the size of the previous
    (strides 8, 16, 32 for N = 3). Output: a tuple with the levels in ``out_indices``, each
    ``(B, out_channels or in_channels[i], H_i, W_i)``.

    Args:
        in_channels: channels per input level, finest first.
        out_channels: channels after the output convs, or ``None`` for no output convs.
        out_indices: which levels to return, finest = 0.
        num_csp_blocks: CSPNeXt blocks in each CSP layer.
        expand_ratio: hidden-channel ratio of the CSP layers.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int | None,
        out_indices: Sequence[int] = (0, 1, 2),
        num_csp_blocks: int = 3,
        expand_ratio: float = 0.5,
        act: ActivationFactory = nn.SiLU,
    ) -> None:
        super().__init__()
        if not set(out_indices) <= set(range(len(in_channels))):
            raise ValueError(f"out_indices must lie in 0..{len(in_channels) - 1}, got {tuple(out_indices)}")
        self.in_channels = tuple(in_channels)
        self.out_indices = tuple(out_indices)
        levels = len(in_channels)

        def csp(c_in: int, c_out: int) -> CSPLayer:
            return CSPLayer(c_in, c_out, expand_ratio, num_csp_blocks, add_identity=False, act=act)

        # Built coarsest-first, as upstream: reduce_layers[0] acts on the coarsest level.
        self.reduce_layers = nn.ModuleList(
            ConvModule(in_channels[i], in_channels[i - 1], 1, act=act) for i in range(levels - 1, 0, -1)
        )
        self.top_down_blocks = nn.ModuleList(
            csp(in_channels[i - 1] * 2, in_channels[i - 1]) for i in range(levels - 1, 0, -1)
        )
        self.downsamples = nn.ModuleList(
            ConvModule(in_channels[i], in_channels[i], 3, stride=2, padding=1, act=act) for i in range(levels - 1)
        )
        self.bottom_up_blocks = nn.ModuleList(csp(in_channels[i] * 2, in_channels[i + 1]) for i in range(levels - 1))
        self.out_convs = (
            nn.ModuleList(ConvModule(c, out_channels, 3, padding=1, act=act) for c in in_channels)
            if out_channels is not None
            else None
        )

    def forward(self, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f"expected {len(self.in_channels)} feature maps, got {len(inputs)}")
        levels = len(inputs)
        # Top-down: inner[i] is the fused map at level i; the coarsest is replaced by its reduced form.
        inner = [inputs[-1]]
        for step, i in enumerate(range(levels - 1, 0, -1)):
            high = self.reduce_layers[step](inner[0])
            inner[0] = high
            up = F.interpolate(high, scale_factor=2.0, mode="nearest")
            inner.insert(0, self.top_down_blocks[step](torch.cat((up, inputs[i - 1]), dim=1)))
        # Bottom-up.
        outs = [inner[0]]
        for i in range(levels - 1):
            down = self.downsamples[i](outs[-1])
            outs.append(self.bottom_up_blocks[i](torch.cat((down, inner[i + 1]), dim=1)))
        if self.out_convs is not None:
            outs = [conv(o) for conv, o in zip(self.out_convs, outs, strict=True)]
        return tuple(outs[i] for i in self.out_indices)
