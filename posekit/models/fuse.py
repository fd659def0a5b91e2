"""Inference-time rewrites of conv+BatchNorm networks: fold BN into the conv, channels-last layout.

A BatchNorm in eval mode is an affine map per channel, so the conv before it can absorb it:
``W' = W * g / sqrt(var + eps)`` (per output channel), ``b' = (b - mean) * g / sqrt(var + eps) + beta``.
The folded network computes the same function up to fp32 rounding and skips one memory pass per layer.

Two patterns are folded, anywhere in the module tree:

* a module with attributes ``conv`` (``nn.Conv2d``) and ``bn`` (``nn.BatchNorm2d``) whose forward applies
  ``bn`` right after ``conv`` (mmcv-style ``ConvModule``, :class:`posekit.models.cspnext.ConvModule`);
* ``nn.Conv2d`` immediately followed by ``nn.BatchNorm2d`` inside an ``nn.Sequential``.

The BN becomes ``nn.Identity`` and the conv gains a bias. A conv shared by several modules (RTMDet's head
shares conv weights across levels, each with its own BN) is copied per BN, as folding requires.
The folded model's ``state_dict()`` no longer matches the checkpoints: fold after loading weights.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def _foldable(conv: object, bn: object) -> bool:
    return (
        type(conv) is nn.Conv2d
        and isinstance(bn, nn.BatchNorm2d)
        and bn.track_running_stats
        and bn.num_features == conv.out_channels
    )


def _fused(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    fused = fuse_conv_bn_eval(conv, bn)
    # Keep the conv's memory format (channels-last weights stay channels-last).
    fmt = torch.channels_last if conv.weight.is_contiguous(memory_format=torch.channels_last) else None
    if fmt is not None and conv.weight.dim() == 4:
        fused.weight.data = fused.weight.data.contiguous(memory_format=fmt)
    return fused


def _fold_children(module: nn.Module) -> int:
    folded = 0
    conv, bn = getattr(module, "conv", None), getattr(module, "bn", None)
    if _foldable(conv, bn):
        module.conv = _fused(conv, bn)
        module.bn = nn.Identity()
        folded += 1
    if isinstance(module, nn.Sequential):
        names = list(module._modules)
        for first, second in zip(names, names[1:], strict=False):
            conv, bn = module._modules[first], module._modules[second]
            if _foldable(conv, bn):
                module._modules[first] = _fused(conv, bn)
                module._modules[second] = nn.Identity()
                folded += 1
    for child in module.children():
        folded += _fold_children(child)
    return folded


def fold_batchnorm(module: nn.Module, inplace: bool = False) -> nn.Module:
    """Fold every BatchNorm2d that directly follows a Conv2d into that conv (see the module docstring).

    Args:
        module: a network with loaded weights; BN running statistics are used, so it is put in eval mode.
        inplace: rewrite ``module`` itself instead of a deep copy.

    Returns:
        The folded network, in eval mode; equal outputs within fp32 rounding (about 1e-6 relative).
    """
    model = module if inplace else copy.deepcopy(module)
    model.eval()
    with torch.no_grad():
        _fold_children(model)
    return model


def count_batchnorms(module: nn.Module) -> int:
    """Number of BatchNorm layers left in ``module`` (0 after folding a CSPNeXt-based network)."""
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def optimize_for_inference(
    module: nn.Module, fold_bn: bool = True, channels_last: bool = False, inplace: bool = False
) -> nn.Module:
    """Eval-mode copy of ``module`` with BN folded and, optionally, channels-last conv weights.

    With ``channels_last=True`` feed inputs as ``x.contiguous(memory_format=torch.channels_last)``;
    outputs are numerically the same either way.
    """
    model = module if inplace else copy.deepcopy(module)
    if fold_bn:
        model = fold_batchnorm(model, inplace=True)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model.eval()
