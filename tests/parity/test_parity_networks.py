"""RTMW3D-L/X and RTMDet-M against OpenMMLab's own networks, layer by layer, with the same random weights.

The reference side (``ref_build.py``, in the reference venv) builds the networks from mmpose's/mmdet's
configs, randomises them, saves mmengine-style checkpoints and records backbone, neck and raw head
outputs; here the checkpoints go through ``posekit.io.checkpoints`` into posekit's modules (strict keys)
and every recorded output must agree within 1e-4 of its scale in fp32, also after BN folding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from reference import ReferenceNetwork, assert_close_to_scale

from posekit.io.checkpoints import load_into, load_state_dict
from posekit.models.fuse import count_batchnorms, fold_batchnorm, optimize_for_inference
from posekit.models.rtmdet import RTMDet, rtmdet_m
from posekit.models.rtmw3d import rtmw3d_l, rtmw3d_x

pytestmark = pytest.mark.parity

FACTORIES: dict[str, Callable[..., torch.nn.Module]] = {
    "rtmw3d-l": rtmw3d_l,
    "rtmw3d-x": rtmw3d_x,
    "rtmdet-m": rtmdet_m,
}
REL = 1e-4


def layer_outputs(model: torch.nn.Module, x: torch.Tensor) -> dict[str, np.ndarray]:
    """posekit's outputs under the names ``ref_build.network_outputs`` uses."""
    with torch.no_grad():
        feats = model.backbone(x)
        neck = model.neck(feats)
        out = {f"backbone.{i}": t for i, t in enumerate(feats)} | {f"neck.{i}": t for i, t in enumerate(neck)}
        if isinstance(model, RTMDet):
            cls_scores, bbox_preds = model.bbox_head(neck)
            out |= {f"head.cls_scores.{i}": t for i, t in enumerate(cls_scores)}
            out |= {f"head.bbox_preds.{i}": t for i, t in enumerate(bbox_preds)}
        else:
            out |= {f"head.simcc_{axis}": t for axis, t in zip("xyz", model.head(neck), strict=True)}
    return {k: v.float().numpy() for k, v in out.items()}


def assert_matches(model: torch.nn.Module, ref: ReferenceNetwork, channels_last: bool = False) -> None:
    expected = ref.outputs()
    x = torch.from_numpy(expected.pop("input"))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    actual = layer_outputs(model, x)
    assert sorted(actual) == sorted(expected)
    for key, value in expected.items():
        assert_close_to_scale(actual[key], value, REL, f"{ref.name} {key}")


def loaded(ref: ReferenceNetwork) -> torch.nn.Module:
    model = FACTORIES[ref.name]()
    return load_into(model, load_state_dict(ref.checkpoint), ref.checkpoint).eval()


@pytest.mark.parametrize("name", FACTORIES)
def test_state_dict_keys_and_shapes_equal_reference(name: str, reference_networks: dict[str, ReferenceNetwork]) -> None:
    ours = {k: tuple(v.shape) for k, v in FACTORIES[name]().state_dict().items()}
    ref = reference_networks[name].state_dict_shapes
    assert list(ours) == list(ref), f"missing {set(ref) - set(ours)}, unexpected {set(ours) - set(ref)}"
    assert ours == ref


@pytest.mark.parametrize("name", FACTORIES)
def test_layers_match_reference(name: str, reference_networks: dict[str, ReferenceNetwork]) -> None:
    assert_matches(loaded(reference_networks[name]), reference_networks[name])


@pytest.mark.parametrize("name", FACTORIES)
def test_factory_loads_reference_checkpoint(name: str, reference_networks: dict[str, ReferenceNetwork]) -> None:
    ref = reference_networks[name]
    model = FACTORIES[name](weights=ref.checkpoint)
    expected = load_state_dict(ref.checkpoint)
    assert not model.training
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("name", FACTORIES)
def test_bn_folded_layers_match_reference(name: str, reference_networks: dict[str, ReferenceNetwork]) -> None:
    folded = fold_batchnorm(loaded(reference_networks[name]))
    assert count_batchnorms(folded) == 0
    assert_matches(folded, reference_networks[name])


@pytest.mark.parametrize("name", ["rtmw3d-l", "rtmdet-m"])
def test_channels_last_folded_layers_match_reference(
    name: str, reference_networks: dict[str, ReferenceNetwork]
) -> None:
    model = optimize_for_inference(loaded(reference_networks[name]), channels_last=True)
    assert_matches(model, reference_networks[name], channels_last=True)
