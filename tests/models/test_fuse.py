"""BatchNorm folding on generic conv+BN modules (the networks themselves: tests/test_rtmw3d_models.py)."""

from __future__ import annotations

import torch
from torch import nn

from posekit.models.cspnext import ConvModule
from posekit.models.fuse import count_batchnorms, fold_batchnorm, optimize_for_inference


def random_bn(*modules: nn.Module) -> None:
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in modules:
            for bn in (m for m in module.modules() if isinstance(m, nn.BatchNorm2d)):
                n = bn.num_features
                bn.weight.uniform_(0.5, 1.5, generator=gen)
                bn.bias.normal_(0, 0.5, generator=gen)
                bn.running_mean.normal_(0, 0.5, generator=gen)
                bn.running_var.uniform_(0.5, 2.0, generator=gen)
                bn.num_batches_tracked.fill_(n)


def test_folds_conv_bn_pairs_in_sequentials_and_leaves_the_rest() -> None:
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=True),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.BatchNorm2d(8),  # follows a ReLU: not foldable
        nn.Conv2d(8, 4, 1, bias=False),
        nn.BatchNorm2d(4),
    )
    random_bn(net)
    x = torch.randn(2, 3, 10, 12)
    folded = fold_batchnorm(net.train())
    assert net.training and count_batchnorms(net) == 3  # the input is left alone
    assert not folded.training and count_batchnorms(folded) == 1
    assert isinstance(folded[1], nn.Identity) and folded[4].bias is not None
    with torch.no_grad():
        torch.testing.assert_close(folded(x), net.eval()(x), rtol=1e-5, atol=1e-5)


def test_folds_conv_modules_and_unshares_convs_shared_across_bns() -> None:
    first, second = ConvModule(4, 6, 3, padding=1), ConvModule(4, 6, 3, padding=1)
    second.conv = first.conv  # as in RTMDet's head: one conv, one BN per level
    net = nn.ModuleList([first, second])
    random_bn(net)
    net.eval()
    x = torch.randn(1, 4, 8, 8)
    folded = fold_batchnorm(net)
    assert folded[0].conv is not folded[1].conv and count_batchnorms(folded) == 0
    with torch.no_grad():
        for ours, reference in zip(folded, net, strict=True):
            torch.testing.assert_close(ours(x), reference(x), rtol=1e-5, atol=1e-5)


def test_inplace_folding_rewrites_the_module_itself() -> None:
    net = ConvModule(3, 5, 1)
    assert fold_batchnorm(net, inplace=True) is net and isinstance(net.bn, nn.Identity)


def test_channels_last_inference_copy_gives_the_same_outputs() -> None:
    net = nn.Sequential(ConvModule(3, 8, 3, padding=1), ConvModule(8, 8, 3, groups=8, padding=1))
    random_bn(net)
    net.eval()
    fast = optimize_for_inference(net, channels_last=True)
    assert fast[0].conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        out = fast(x.contiguous(memory_format=torch.channels_last))
        torch.testing.assert_close(out, net(x), rtol=1e-5, atol=1e-5)
