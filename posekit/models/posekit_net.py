"""The PoseKit 2D network: a MoveNet-style single-person model on a MobileNetV2-like backbone.

Module names and ``nn.Sequential`` indices follow upstream ``PoseKitModel/pkmodel/lib/models.py``
(surinrasu/PoseKit), so ``PoseKitNet().state_dict()`` keys equal the upstream ``.pth`` keys
(``backbone.*``, ``header.*``).

Two variants share those names:

* ``PoseKitNet()``: every bias-free convolution is followed by ``BatchNorm2d`` (the training layout, loads
  upstream ``.pth`` checkpoints).
* ``PoseKitNet(fused=True)``: each ``BatchNorm2d`` is folded into the convolution before it (which then has a
  bias) and replaced by ``nn.Identity``. It computes the same function with fewer ops, loads the Core ML
  app model (whose BatchNorms are fused the same way), and is what :func:`fuse_batchnorm` returns.

Input: float (B, 3, 192, 192) **RGB** values 0..255 (normalised inside by ``x / 127.5 - 1``).
Output: ``(heatmaps (B, 17, 48, 48) in 0..1, centers (B, 1, 48, 48) in 0..1, regs (B, 34, 48, 48) grid cells,
offsets (B, 34, 48, 48) grid cells)``; channels ``2n, 2n+1`` of regs and offsets are joint n's x, y.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

INPUT_SIZE = 192
GRID_SIZE = 48
NUM_JOINTS = 17


def _bn(channels: int, fused: bool) -> nn.Module:
    return nn.Identity() if fused else nn.BatchNorm2d(channels)


def _conv(inp: int, oup: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(inp, oup, kernel, stride, kernel // 2, groups=groups, bias=bias)


def conv_3x3_act(inp: int, oup: int, stride: int, fused: bool = False) -> nn.Sequential:
    """Conv3x3 + BN + ReLU."""
    return nn.Sequential(_conv(inp, oup, 3, stride, bias=fused), _bn(oup, fused), nn.ReLU(inplace=True))


def conv_1x1_act(inp: int, oup: int, fused: bool = False) -> nn.Sequential:
    """Conv1x1 + BN + ReLU."""
    return nn.Sequential(_conv(inp, oup, 1, bias=fused), _bn(oup, fused), nn.ReLU(inplace=True))


def dw_conv(inp: int, oup: int, stride: int = 1, fused: bool = False) -> nn.Sequential:
    """Depthwise Conv3x3 + BN + ReLU, then Conv1x1 + BN (no final ReLU)."""
    return nn.Sequential(
        _conv(inp, inp, 3, stride, groups=inp, bias=fused), _bn(inp, fused), nn.ReLU(inplace=True),
        _conv(inp, oup, 1, bias=fused), _bn(oup, fused),
    )  # fmt: skip


def dw_conv3(inp: int, oup: int, stride: int = 1, fused: bool = False) -> nn.Sequential:
    """Depthwise Conv3x3 + BN (no ReLU), then Conv1x1 + BN + ReLU."""
    return nn.Sequential(
        _conv(inp, inp, 3, stride, groups=inp, bias=fused), _bn(inp, fused),
        _conv(inp, oup, 1, bias=fused), _bn(oup, fused), nn.ReLU(inplace=True),
    )  # fmt: skip


def upsample(inp: int, oup: int, fused: bool = False) -> nn.Sequential:
    """Depthwise Conv3x3 with bias + ReLU, Conv1x1 + BN + ReLU, bilinear x2 (align_corners=False)."""
    return nn.Sequential(
        _conv(inp, inp, 3, groups=inp, bias=True), nn.ReLU(inplace=True),
        conv_1x1_act(inp, oup, fused),
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
    )  # fmt: skip


def ir_block(oup: int, hidden: int, fused: bool = False) -> nn.Sequential:
    """The residual branch of an inverted-residual repeat: expand 1x1, depthwise 3x3, project 1x1."""
    return nn.Sequential(
        _conv(oup, hidden, 1, bias=fused), _bn(hidden, fused), nn.ReLU(inplace=False),
        _conv(hidden, hidden, 3, groups=hidden, bias=fused), _bn(hidden, fused), nn.ReLU(inplace=False),
        _conv(hidden, oup, 1, bias=fused), _bn(oup, fused),
    )  # fmt: skip


class InvertedResidual(nn.Module):
    """MobileNetV2 stage: one strided inverted residual (``conv1``, no skip) then ``n`` residual repeats.

    Args:
        inp, oup: input and output channels.
        stride: 1 or 2, of the depthwise convolution of ``conv1``.
        expand_ratio: hidden channels = ``round(inp * expand_ratio)``.
        n: number of residual :func:`ir_block` repeats (``x = x + block(x)``), may be 0.
    """

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: float, n: int, fused: bool = False):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: expected stride 1 or 2, got {stride}")
        hidden = round(inp * expand_ratio)
        self.conv1 = nn.Sequential(
            _conv(inp, hidden, 1, bias=fused), _bn(hidden, fused), nn.ReLU(inplace=True),
            _conv(hidden, hidden, 3, stride, groups=hidden, bias=True), _bn(hidden, fused),
            nn.ReLU(inplace=True),
            _conv(hidden, oup, 1, bias=fused), _bn(oup, fused),
        )  # fmt: skip
        self.conv2 = nn.ModuleList(ir_block(oup, hidden, fused) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        for block in self.conv2:
            x = x + block(x)
        return x


class Backbone(nn.Module):
    """(B, 3, 192, 192) RGB 0..255 -> (B, 24, 48, 48) features (stride-4 FPN-like top-down merge)."""

    def __init__(self, fused: bool = False):
        super().__init__()
        self.features1 = nn.Sequential(
            conv_3x3_act(3, 32, 2, fused), dw_conv(32, 16, 1, fused), InvertedResidual(16, 24, 2, 6, 1, fused)
        )
        self.features2 = InvertedResidual(24, 32, 2, 6, 2, fused)
        self.features3 = InvertedResidual(32, 64, 2, 6, 3, fused)
        self.features4 = nn.Sequential(
            InvertedResidual(64, 96, 1, 6, 2, fused),
            InvertedResidual(96, 160, 2, 6, 2, fused),
            InvertedResidual(160, 320, 1, 6, 0, fused),
            conv_1x1_act(320, 1280, fused),
            _conv(1280, 64, 1),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        )
        self.upsample2 = upsample(64, 32, fused)
        self.upsample1 = upsample(32, 24, fused)
        self.conv3 = _conv(64, 64, 1, bias=True)
        self.conv2 = _conv(32, 32, 1, bias=True)
        self.conv1 = _conv(24, 24, 1, bias=True)
        self.conv4 = dw_conv3(24, 24, 1, fused)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x / 127.5 - 1
        f1 = self.features1(x)  # 24 x 48 x 48
        f2 = self.features2(f1)  # 32 x 24 x 24
        f3 = self.features3(f2)  # 64 x 12 x 12
        f4 = self.features4(f3) + self.conv3(f3)  # 64 x 12 x 12
        f4 = self.upsample2(f4) + self.conv2(f2)  # 32 x 24 x 24
        f4 = self.upsample1(f4) + self.conv1(f1)  # 24 x 48 x 48
        return self.conv4(f4)


def _head(channels: int, sigmoid: bool, fused: bool) -> nn.Sequential:
    layers: list[nn.Module] = [dw_conv3(24, 96, 1, fused), _conv(96, channels, 1, bias=True)]
    if sigmoid:
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


class Header(nn.Module):
    """Four heads on the (B, 24, 48, 48) features: heatmaps, centers (sigmoid), regs, offsets (linear)."""

    def __init__(self, num_classes: int = NUM_JOINTS, fused: bool = False):
        super().__init__()
        self.header_heatmaps = _head(num_classes, True, fused)
        self.header_centers = _head(1, True, fused)
        self.header_regs = _head(num_classes * 2, False, fused)
        self.header_offsets = _head(num_classes * 2, False, fused)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.header_heatmaps(x), self.header_centers(x), self.header_regs(x), self.header_offsets(x)


class PoseKitNet(nn.Module):
    """The PoseKit detector network (upstream ``PoseKitModel`` in its ``'train'`` mode, which the app uses).

    Args:
        num_classes: joints (17, COCO order).
        fused: BatchNorm folded into the convolutions (see the module docstring).

    Shape:
        - Input: (B, 3, 192, 192) float RGB 0..255.
        - Output: heatmaps (B, K, 48, 48), centers (B, 1, 48, 48), regs (B, 2K, 48, 48),
          offsets (B, 2K, 48, 48).
    """

    def __init__(self, num_classes: int = NUM_JOINTS, fused: bool = False):
        super().__init__()
        self.fused = fused
        self.backbone = Backbone(fused)
        self.header = Header(num_classes, fused)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.header(self.backbone(x))


def conv_bn_pairs(net: PoseKitNet) -> list[tuple[str, str | None]]:
    """``(conv path, batchnorm path or None)`` for every convolution of ``net``, in module order.

    A convolution's BatchNorm is the module right after it in the same ``nn.Sequential``, if any (always None
    in a fused net).
    """
    modules = dict(net.named_modules())
    pairs: list[tuple[str, str | None]] = []
    for name, module in modules.items():
        if not isinstance(module, nn.Conv2d):
            continue
        parent_name, _, index = name.rpartition(".")
        parent = modules[parent_name]
        bn = None
        if isinstance(parent, nn.Sequential) and int(index) + 1 < len(parent):
            if isinstance(parent[int(index) + 1], nn.BatchNorm2d):
                bn = f"{parent_name}.{int(index) + 1}"
        pairs.append((name, bn))
    return pairs


@torch.no_grad()
def fused_state_dict(net: PoseKitNet) -> dict[str, torch.Tensor]:
    """The state dict of ``PoseKitNet(fused=True)`` computing the same function as the unfused ``net``.

    BatchNorm (eval mode, running statistics) after a convolution is folded into it:
    ``w' = w * g / sqrt(var + eps)`` per output channel, ``b' = (b - mean) * g / sqrt(var + eps) + beta``.
    Computed in float64 and stored in the dtype of ``net``'s weights.
    """
    if net.fused:
        return {k: v.clone() for k, v in net.state_dict().items()}
    modules = dict(net.named_modules())
    out: dict[str, torch.Tensor] = {}
    for conv_name, bn_name in conv_bn_pairs(net):
        conv = modules[conv_name]
        dtype = conv.weight.dtype
        w = conv.weight.double()
        b = conv.bias.double() if conv.bias is not None else None
        if bn_name is not None:
            bn = modules[bn_name]
            stats = (bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
            w, b = fuse_conv_bn_weights(w, b, *(t.double() if torch.is_tensor(t) else t for t in stats))
        out[f"{conv_name}.weight"] = w.to(dtype)
        if b is not None:
            out[f"{conv_name}.bias"] = b.to(dtype)
    return out


def fuse_batchnorm(net: PoseKitNet) -> PoseKitNet:
    """A new ``PoseKitNet(fused=True)`` (eval mode, same device and dtype) equal to ``net`` up to rounding."""
    weight = next(net.parameters())
    fused = PoseKitNet(num_classes=net.header.header_heatmaps[1].out_channels, fused=True)
    fused.load_state_dict(fused_state_dict(net), strict=True)
    return fused.to(device=weight.device, dtype=weight.dtype).eval()
