"""RTMW3D-L/X and RTMDet-M networks: shapes, upstream key layout, strict loading, BN folding.

The key counts and sample keys/shapes below were checked against the networks that mmpose 1.3.2 and
mmdet 3.3.0 build from their configs (tests/parity compares all keys and outputs where the reference
venv exists).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from posekit.io.checkpoints import CheckpointError, save_safetensors
from posekit.models.fuse import count_batchnorms, fold_batchnorm
from posekit.models.rtmdet import rtmdet_m
from posekit.models.rtmw3d import rtmw3d_l, rtmw3d_x

FACTORIES: dict[str, Callable[..., nn.Module]] = {
    "rtmw3d-l": rtmw3d_l,
    "rtmw3d-x": rtmw3d_x,
    "rtmdet-m": rtmdet_m,
}

UPSTREAM_KEYS: dict[str, tuple[int, dict[str, tuple[int, ...]]]] = {
    "rtmw3d-l": (
        729,
        {
            "backbone.stem.0.conv.weight": (32, 3, 3, 3),
            "backbone.stage2.1.blocks.5.conv2.pointwise_conv.bn.num_batches_tracked": (),
            "backbone.stage3.1.blocks.5.conv2.depthwise_conv.conv.weight": (256, 1, 5, 5),
            "backbone.stage4.1.conv2.conv.weight": (1024, 2048, 1, 1),
            "backbone.stage4.2.attention.fc.weight": (1024, 1024, 1, 1),
            "neck.reduce_layers.0.conv.weight": (512, 1024, 1, 1),
            "neck.bottom_up_blocks.1.final_conv.bn.running_var": (1024,),
            "head.final_layer2.conv.weight": (133, 768, 7, 7),
            "head.conv_dec.conv.weight": (256, 256, 7, 7),
            "head.mlp.0.g": (1,),
            "head.mlp2.1.weight": (128, 432),
            "head.gau.uv.weight": (1152, 256),
            "head.gau.gamma": (2, 128),
            "head.gau.res_scale.scale": (256,),
            "head.cls_y.weight": (768, 256),
            "head.cls_z.weight": (576, 256),
        },
    ),
    "rtmw3d-x": (
        837,
        {
            "backbone.stem.0.conv.weight": (40, 3, 3, 3),
            "backbone.stage2.1.blocks.7.conv1.conv.weight": (160, 160, 3, 3),
            "backbone.stage4.1.conv2.conv.weight": (1280, 2560, 1, 1),
            "neck.top_down_blocks.1.blocks.1.conv2.pointwise_conv.bn.weight": (160,),
            "head.final_layer.conv.weight": (133, 1280, 7, 7),
            "head.final_layer2.conv.weight": (133, 960, 7, 7),
            "head.cls_x.weight": (576, 256),
            "head.cls_z.weight": (576, 256),
        },
    ),
    "rtmdet-m": (
        692,
        {
            "backbone.stem.2.conv.weight": (48, 24, 3, 3),
            "backbone.stage2.1.blocks.3.conv2.pointwise_conv.bn.num_batches_tracked": (),
            "backbone.stage4.2.blocks.1.conv2.depthwise_conv.conv.weight": (384, 1, 5, 5),
            "neck.out_convs.2.conv.weight": (192, 768, 3, 3),
            "neck.out_convs.0.bn.num_batches_tracked": (),
            "bbox_head.cls_convs.2.1.conv.weight": (192, 192, 3, 3),
            "bbox_head.reg_convs.1.0.bn.running_mean": (192,),
            "bbox_head.rtm_cls.2.weight": (1, 192, 1, 1),
            "bbox_head.rtm_cls.0.bias": (1,),
            "bbox_head.rtm_reg.1.weight": (4, 192, 1, 1),
        },
    ),
}


def randomize_batchnorm(model: nn.Module, x: torch.Tensor, seed: int = 0) -> nn.Module:
    """Random BN affine terms (small gains, so the random net stays well conditioned) and running
    statistics measured on ``x`` layer by layer, as tests/parity/ref_build.py does."""
    gen = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]

    def calibrate(bn: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        flat = inputs[0].transpose(0, 1).flatten(1)
        spread = torch.empty(bn.num_features).uniform_(0.8, 1.25, generator=gen)
        bn.running_var.copy_(flat.var(dim=1) * spread)
        bn.running_mean.copy_(flat.mean(dim=1) + 0.1 * torch.randn(bn.num_features, generator=gen))

    with torch.no_grad():
        for bn in bns:
            bn.weight.copy_(torch.empty(bn.num_features).uniform_(0.1, 0.35, generator=gen))
            bn.bias.copy_(0.2 * torch.randn(bn.num_features, generator=gen))
        hooks = [bn.register_forward_pre_hook(calibrate) for bn in bns]
        model.eval()(x)
        for hook in hooks:
            hook.remove()
    return model


def flat_outputs(out: tuple) -> list[torch.Tensor]:
    return [t for item in out for t in (item if isinstance(item, list) else [item])]


@pytest.mark.parametrize("name", FACTORIES)
def test_state_dict_has_upstream_keys_and_shapes(name: str) -> None:
    count, samples = UPSTREAM_KEYS[name]
    state = FACTORIES[name]().state_dict()
    assert len(state) == count
    for key, shape in samples.items():
        assert tuple(state[key].shape) == shape, key
    head = "bbox_head" if name == "rtmdet-m" else "head"
    assert {k.split(".")[0] for k in state} == {"backbone", "neck", head}


def test_rtmw3d_l_outputs_raw_simcc_for_a_batch() -> None:
    model = rtmw3d_l()
    assert not model.training
    with torch.no_grad():
        simcc_x, simcc_y, simcc_z = model(torch.randn(2, 3, 384, 288))
    assert (simcc_x.shape, simcc_y.shape, simcc_z.shape) == ((2, 133, 576), (2, 133, 768), (2, 133, 576))
    assert simcc_x.dtype == torch.float32 and torch.isfinite(simcc_z).all()


def test_rtmw3d_x_outputs_raw_simcc() -> None:
    with torch.no_grad():
        out = rtmw3d_x()(torch.randn(1, 3, 384, 288))
    assert [tuple(t.shape) for t in out] == [(1, 133, 576), (1, 133, 768), (1, 133, 576)]


def test_rtmw3d_rejects_another_input_size() -> None:
    with pytest.raises(ValueError, match="expected a stride-32 map of 12x9"):
        rtmw3d_l()(torch.randn(1, 3, 256, 192))


def test_rtmdet_m_outputs_per_stride_maps() -> None:
    model = rtmdet_m()
    with torch.no_grad():
        cls_scores, bbox_preds = model(torch.randn(1, 3, 640, 640))
    assert [tuple(t.shape) for t in cls_scores] == [(1, 1, 80, 80), (1, 1, 40, 40), (1, 1, 20, 20)]
    assert [tuple(t.shape) for t in bbox_preds] == [(1, 4, 80, 80), (1, 4, 40, 40), (1, 4, 20, 20)]
    assert all((b > 0).all() for b in bbox_preds)  # exp(reg) * stride: distances are positive


def test_rtmdet_head_shares_conv_weights_across_levels() -> None:
    head = rtmdet_m().bbox_head
    assert head.cls_convs[2][1].conv is head.cls_convs[0][1].conv
    assert head.reg_convs[1][0].conv is head.reg_convs[0][0].conv
    assert head.cls_convs[1][0].bn is not head.cls_convs[0][0].bn


@pytest.mark.parametrize(("name", "fmt"), [("rtmdet-m", "pth"), ("rtmdet-m", "safetensors"), ("rtmw3d-l", "pth")])
def test_checkpoint_round_trip_loads_strictly(name: str, fmt: str, tmp_path) -> None:
    source = FACTORIES[name]()
    with torch.no_grad():
        for param in source.parameters():
            param.normal_()
    path = tmp_path / f"model.{fmt}"
    if fmt == "pth":
        # mmengine's layout, with meta that a weights-only load must cope with
        torch.save({"state_dict": source.state_dict(), "meta": {"seed": np.int64(3)}}, path)
    else:
        save_safetensors(source.state_dict(), path)
    loaded = FACTORIES[name](weights=path).state_dict()
    for key, value in source.state_dict().items():
        assert torch.equal(loaded[key], value), key


def test_checkpoint_of_another_size_is_refused_with_the_reason(tmp_path) -> None:
    path = tmp_path / "l.pth"
    torch.save({"state_dict": rtmw3d_l().state_dict()}, path)
    with pytest.raises(CheckpointError, match="shape mismatches"):
        rtmw3d_x(weights=path)


@pytest.mark.parametrize(("name", "shape"), [("rtmw3d-l", (1, 3, 384, 288)), ("rtmdet-m", (2, 3, 128, 160))])
def test_bn_folded_network_computes_the_same(name: str, shape: tuple[int, ...]) -> None:
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    model = randomize_batchnorm(FACTORIES[name](), x)
    folded = fold_batchnorm(model)
    assert count_batchnorms(folded) == 0 and count_batchnorms(model) > 0  # the original is untouched
    with torch.no_grad():
        expected, actual = flat_outputs(model(x)), flat_outputs(folded(x))
    for e, a in zip(expected, actual, strict=True):
        assert (a - e).abs().max() <= 1e-4 * e.abs().max()
