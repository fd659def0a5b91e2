"""Test helper: random PoseKit networks whose outputs depend on the input."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from posekit.models.posekit_net import PoseKitNet


def smooth_images(batch: int = 1, seed: int = 0, size: int = 192) -> torch.Tensor:
    """(batch, 3, size, size) float RGB 0..255: smooth random images (bicubic 12x12 noise), image-like enough
    that the network's strided convolutions do not average them to a constant."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand(batch, 3, 12, 12, generator=gen)
    return F.interpolate(low, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1) * 255


def random_posekit_net(seed: int = 0) -> PoseKitNet:
    """A randomly initialised, unfused ``PoseKitNet`` in eval mode with random BatchNorm statistics.

    The running statistics are calibrated on smooth images (so activations neither vanish nor explode through
    the 50-odd layers) and then perturbed, and the affine parameters are random: folding BatchNorm is
    exercised and the outputs vary with the input.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = PoseKitNet()
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.momentum = None  # cumulative average: one calibration batch sets the statistics
        net.train()(smooth_images(2, seed + 1000, size=96))
        for bn in bns:
            c = bn.num_features
            bn.running_mean.add_(torch.randn(c, generator=gen) * 0.05 * bn.running_var.sqrt())
            bn.running_var.mul_(torch.rand(c, generator=gen) * 0.4 + 0.8)
            bn.weight.copy_(torch.rand(c, generator=gen) * 0.8 + 0.6)
            bn.bias.copy_(torch.rand(c, generator=gen) * 0.4 - 0.2)
            bn.momentum = 0.1
    return net.eval()
