"""The PoseKit network: upstream state-dict layout, output contract, BatchNorm folding, optimised path."""

from __future__ import annotations

import copy
import shutil

import pytest
import torch
from posekit_helpers import random_posekit_net, smooth_images

from posekit.estimators.posekit import PoseKit
from posekit.models.posekit_net import PoseKitNet, conv_bn_pairs, fuse_batchnorm, fused_state_dict


@pytest.fixture(scope="module")
def net() -> PoseKitNet:
    return random_posekit_net(seed=1)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return smooth_images(2, seed=3)


def test_state_dict_has_the_upstream_layout() -> None:
    state = PoseKitNet().state_dict()
    # Upstream models.py gives 409 entries and 1,912,118 parameters (checked against it when written).
    assert len(state) == 409
    assert sum(p.numel() for p in PoseKitNet().parameters()) == 1_912_118
    shapes = {
        "backbone.features1.0.0.weight": (32, 3, 3, 3),
        "backbone.features1.0.1.running_var": (32,),
        "backbone.features1.2.conv1.3.bias": (96,),  # the depthwise conv of conv1 has a bias
        "backbone.features1.2.conv2.0.6.weight": (24, 96, 1, 1),
        "backbone.features4.2.conv1.6.weight": (320, 960, 1, 1),
        "backbone.features4.3.0.weight": (1280, 320, 1, 1),
        "backbone.features4.4.weight": (64, 1280, 1, 1),
        "backbone.upsample2.0.bias": (64,),
        "backbone.upsample1.2.1.num_batches_tracked": (),
        "backbone.conv3.bias": (64,),
        "backbone.conv4.3.running_mean": (24,),
        "header.header_heatmaps.1.weight": (17, 96, 1, 1),
        "header.header_centers.1.bias": (1,),
        "header.header_regs.0.2.weight": (96, 24, 1, 1),
        "header.header_offsets.1.weight": (34, 96, 1, 1),
    }
    for key, shape in shapes.items():
        assert tuple(state[key].shape) == shape, key
    assert "backbone.features4.4.bias" not in state
    assert not any(k.startswith("backbone.features4.2.conv2.") for k in state)  # n = 0 repeats


def test_outputs_have_the_documented_shapes_and_ranges(net: PoseKitNet, images: torch.Tensor) -> None:
    with torch.no_grad():
        heatmaps, centers, regs, offsets = net(images)
    assert heatmaps.shape == (2, 17, 48, 48)
    assert centers.shape == (2, 1, 48, 48)
    assert regs.shape == offsets.shape == (2, 34, 48, 48)
    assert 0 <= heatmaps.min() and heatmaps.max() <= 1 and 0 <= centers.min() and centers.max() <= 1
    assert regs.min() < 0 < regs.max()  # linear heads


def test_outputs_depend_on_the_input(net: PoseKitNet, images: torch.Tensor) -> None:
    with torch.no_grad():
        a, b = net(images[:1]), net(images[1:])
    for x, y in zip(a, b, strict=True):
        assert (x - y).abs().mean() > 1e-3


def test_fused_network_computes_the_same_function(net: PoseKitNet, images: torch.Tensor) -> None:
    fused = fuse_batchnorm(net)
    assert fused.fused and not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert not any("running" in k for k in fused.state_dict())
    assert set(fused.state_dict()) == set(fused_state_dict(net))
    assert len(conv_bn_pairs(net)) == 74  # as many convolutions as the app's Core ML program
    with torch.no_grad():
        for x, y in zip(net(images), fused(images), strict=True):
            torch.testing.assert_close(y, x, atol=1e-3, rtol=1e-3)


def test_fusing_a_fused_network_is_a_copy(net: PoseKitNet, images: torch.Tensor) -> None:
    fused = fuse_batchnorm(net)
    again = fuse_batchnorm(fused)
    with torch.no_grad():
        for x, y in zip(fused(images), again(images), strict=True):
            torch.testing.assert_close(y, x, atol=0, rtol=0)


@pytest.mark.parametrize(
    "variant",
    [
        "fused",
        "eager",
        pytest.param(
            "compile",
            marks=[
                pytest.mark.slow,
                pytest.mark.skipif(shutil.which("c++") is None, reason="torch.compile needs a C++ compiler"),
            ],
        ),
    ],
)
def test_optimised_path_matches_eager(net: PoseKitNet, images: torch.Tensor, variant: str) -> None:
    model = PoseKit(copy.deepcopy(net), "cpu", fuse=variant != "eager", compile=variant == "compile")
    fast = model.forward(images)
    with torch.no_grad():
        for x, y in zip(net(images), fast, strict=True):
            torch.testing.assert_close(y, x, atol=1e-3, rtol=1e-3)
