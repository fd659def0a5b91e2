"""Reference side of the parity tests: runs INSIDE the OpenMMLab reference venv, never in posekit's.

It builds OpenMMLab's own networks from OpenMMLab's configs, gives them deterministic random weights,
writes them as mmengine-style checkpoints and records their outputs for fixed random inputs, so that the
project side (``tests/parity/reference.py`` and the tests) can load the same checkpoints into posekit's
modules and compare. posekit is never imported here, and nothing here is imported by posekit.

Command line (``$POSEKIT_REFERENCE_PYTHON tests/parity/ref_build.py ...``)::

    networks --out DIR [--models rtmw3d-l rtmw3d-x rtmdet-m] [--seed 0] [--batch 2]

writes, for each model NAME:

* ``DIR/NAME.pth``: ``{'state_dict': OrderedDict, 'meta': {...}}`` saved with ``torch.save``, like an
  mmengine checkpoint (``meta`` holds a numpy scalar, as mmengine's do, so a weights-only load must cope);
* ``DIR/NAME.npz``: ``input`` (the normalised input batch, float32 NCHW) and the reference outputs:
  ``backbone.{i}``, ``neck.{i}``, then ``head.simcc_x|y|z`` (pose) or ``head.cls_scores.{i}`` and
  ``head.bbox_preds.{i}`` (detector), all float32;
* ``DIR/manifest.json``: ``{NAME: {"checkpoint", "outputs", "config", "input_shape", "state_dict":
  {key: shape}}}`` (paths absolute; entries of earlier runs into DIR are kept); written last and
  atomically, so a model listed there is complete.

Model names and sources:

* ``rtmw3d-l`` / ``rtmw3d-x``: mmpose's 2D RTMW configs ``rtmw-{l,x}_8xb320-270e_cocktail14-384x288.py``,
  whose backbone, neck and head layers equal RTMW3D's (``projects/rtmpose3d`` configs); the package has no
  ``RTMW3DHead``, so the head is :class:`RTMW3DRefHead` = mmpose's ``RTMWHead`` + ``cls_z`` (Linear 256 ->
  576, no bias). ``head.forward`` stays the 2D one (so mmpose's 2D predict path works unchanged);
  ``head.forward_3d`` adds ``simcc_z``. ``test_cfg.flip_test`` is off, as in the RTMW3D configs.
* ``rtmdet-m``: mmdet's ``rtmdet_m_8xb32-300e_coco.py`` with ``bbox_head.num_classes = 1``, which is what
  mmpose's demo config ``rtmdet_m_640-8xb32_coco-person.py`` (the person checkpoint's) changes in the
  network. That file is not read directly: its ``mmdet::`` base needs ``pkg_resources``, which the venv's
  setuptools no longer ships.

Importable API for other reference scripts (run in the same venv; this folder is on ``sys.path`` when a
script here is run): :func:`build_reference` (model in eval mode, SyncBN reverted, no pretrained init),
:func:`randomize_`, :func:`save_checkpoint`, :func:`load_checkpoint`, :func:`network_outputs`,
:data:`MODELS_AVAILABLE`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

SITE = Path(__import__("mmpose").__file__).parent
MMPOSE_CONFIGS = SITE / ".mim" / "configs" / "wholebody_2d_keypoint" / "rtmpose" / "cocktail14"
CONFIGS = {
    "rtmw3d-l": MMPOSE_CONFIGS / "rtmw-l_8xb320-270e_cocktail14-384x288.py",
    "rtmw3d-x": MMPOSE_CONFIGS / "rtmw-x_8xb320-270e_cocktail14-384x288.py",
    "rtmdet-m": Path(__import__("mmdet").__file__).parent / ".mim/configs/rtmdet/rtmdet_m_8xb32-300e_coco.py",
}
MODELS_AVAILABLE = tuple(CONFIGS)
INPUT_SHAPES = {"rtmw3d-l": (3, 384, 288), "rtmw3d-x": (3, 384, 288), "rtmdet-m": (3, 640, 640)}
# RTMW3D codec: input_size (288, 384, 288) with simcc_split_ratio 2.0 -> 576 depth bins.
RTMW3D_DEPTH_BINS = 576

_HEAD_REGISTERED = False


def _register_rtmw3d_head() -> None:
    global _HEAD_REGISTERED
    if _HEAD_REGISTERED:
        return
    from mmpose.models.heads import RTMWHead
    from mmpose.registry import MODELS

    @MODELS.register_module()
    class RTMW3DRefHead(RTMWHead):
        """mmpose's RTMWHead plus RTMW3D's depth classifier ``cls_z``."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.cls_z = nn.Linear(self.cls_x.in_features, RTMW3D_DEPTH_BINS, bias=False)

        def forward_3d(self, feats):  # noqa: ANN001, ANN202
            """(simcc_x, simcc_y, simcc_z): upstream's 2D forward, plus cls_z on the GAU's output."""
            captured = []
            handle = self.gau.register_forward_hook(lambda _m, _i, out: captured.append(out))
            try:
                simcc_x, simcc_y = self.forward(feats)
            finally:
                handle.remove()
            return simcc_x, simcc_y, self.cls_z(captured[0])

    _HEAD_REGISTERED = True


def build_reference(name: str) -> nn.Module:
    """The OpenMMLab network ``name`` (one of :data:`MODELS_AVAILABLE`), eval mode, default init."""
    from mmengine.config import Config
    from mmengine.model.utils import revert_sync_batchnorm
    from mmengine.registry import DefaultScope

    if name not in CONFIGS:
        raise ValueError(f"unknown model {name!r}; expected one of {MODELS_AVAILABLE}")
    cfg = Config.fromfile(str(CONFIGS[name]))
    model_cfg = cfg.model
    model_cfg.backbone.init_cfg = None
    if name.startswith("rtmw3d"):
        import mmpose.models  # noqa: F401 - registers mmpose's modules
        from mmpose.registry import MODELS

        _register_rtmw3d_head()
        model_cfg.head.type = "RTMW3DRefHead"
        model_cfg.test_cfg = dict(flip_test=False)
        scope = "mmpose"
    else:
        import mmdet.models  # noqa: F401 - registers mmdet's modules
        from mmdet.registry import MODELS

        model_cfg.bbox_head.num_classes = 1

        scope = "mmdet"
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(model_cfg)
    model = revert_sync_batchnorm(model)
    model.cfg = cfg
    return model.eval()


def _forward(name: str, model: nn.Module, x: torch.Tensor) -> tuple[tuple, tuple, tuple]:
    """(backbone maps, neck maps, raw head outputs) of the reference network."""
    feats = model.backbone(x)
    neck = model.neck(feats)
    head = model.head.forward_3d(neck) if name.startswith("rtmw3d") else model.bbox_head(neck)
    return feats, neck, head


def randomize_(name: str, model: nn.Module, seed: int, calibration: torch.Tensor) -> nn.Module:
    """Deterministic random BatchNorm affine terms and running statistics, and random unit scales.

    Without this a random network's output barely depends on its input and a miswired layer could hide.
    BN weights are drawn from U(0.1, 0.35), biases from N(0, 0.2^2), and every parameter initialised to
    all ones (ScaleNorm ``g``, GAU ``res_scale``) from U(0.5, 1.5). Then one eval-mode pass over
    ``calibration`` sets each BN's running statistics, in execution order, to those of its actual input,
    mildly perturbed, just before it runs: on that batch every BN then standardises what it really
    receives, and activations neither vanish nor explode.

    Why small BN weights: normalised random networks are chaotic (at unit gain, fp32 rounding grows to
    ~1e-3 of the output scale through ~100 layers, and a 1e-4 comparison would test rounding, not
    wiring). At these gains rounding stays near 1e-5 while outputs still change by order 1 between inputs.
    Why calibrate on the recorded input itself: at stride 32 a noise image's features are nearly constant
    in space, so statistics from other noise images would be off and activations would explode.
    """
    gen = torch.Generator().manual_seed(seed)

    def calibrate(bn: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0].transpose(0, 1).flatten(1)
        n = bn.num_features
        bn.running_var.copy_(x.var(dim=1) * torch.empty(n).uniform_(0.8, 1.25, generator=gen))
        bn.running_mean.copy_(x.mean(dim=1) + torch.randn(n, generator=gen) * bn.running_var.sqrt() * 0.1)

    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for param in model.parameters():
            if param.numel() <= 4096 and bool((param == 1).all()):
                param.copy_(torch.empty(param.shape).uniform_(0.5, 1.5, generator=gen))
        for bn in bns:
            bn.weight.copy_(torch.empty(bn.num_features).uniform_(0.1, 0.35, generator=gen))
            bn.bias.copy_(torch.randn(bn.num_features, generator=gen) * 0.2)
        model.eval()
        hooks = [bn.register_forward_pre_hook(calibrate) for bn in bns]
        try:
            _forward(name, model, calibration)
        finally:
            for hook in hooks:
                hook.remove()
    return model


def save_checkpoint(model: nn.Module, path: str | os.PathLike, meta: dict) -> None:
    """``torch.save({'state_dict': ..., 'meta': ...})`` the way mmengine writes checkpoints."""
    state = OrderedDict((k, v.detach().cpu()) for k, v in model.state_dict().items())
    torch.save({"state_dict": state, "meta": meta}, str(path))


def load_checkpoint(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Strictly load a checkpoint written by :func:`save_checkpoint` (trusted: written by us)."""
    ckpt = torch.load(str(path), map_location="cpu", weights_only=False)
    model.load_state_dict(ckpt["state_dict"], strict=True)
    return model.eval()


def network_outputs(name: str, model: nn.Module, x: torch.Tensor) -> dict[str, np.ndarray]:
    """Backbone, neck and raw head outputs of ``model`` for input ``x`` (see the module docstring)."""
    with torch.no_grad():
        feats, neck, head = _forward(name, model, x)
    out = {f"backbone.{i}": t for i, t in enumerate(feats)} | {f"neck.{i}": t for i, t in enumerate(neck)}
    if name.startswith("rtmw3d"):
        out |= {f"head.simcc_{axis}": t for axis, t in zip("xyz", head, strict=True)}
    else:
        cls_scores, bbox_preds = head
        out |= {f"head.cls_scores.{i}": t for i, t in enumerate(cls_scores)}
        out |= {f"head.bbox_preds.{i}": t for i, t in enumerate(bbox_preds)}
    return {k: v.numpy().astype(np.float32) for k, v in out.items()}


def build_networks(out_dir: Path, names: list[str], seed: int, batch: int) -> None:
    import mmdet
    import mmpose

    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    for index, name in enumerate(names):
        torch.manual_seed(seed + index)
        model = build_reference(name)
        gen = torch.Generator().manual_seed(seed + 1000 + index)
        x = torch.randn((batch, *INPUT_SHAPES[name]), generator=gen)
        randomize_(name, model, seed + index, calibration=x)
        ckpt = out_dir / f"{name}.pth"
        outputs = out_dir / f"{name}.npz"
        meta = {
            "config": str(CONFIGS[name]),
            "mmpose_version": mmpose.__version__,
            "mmdet_version": mmdet.__version__,
            "seed": np.int64(seed + index),  # numpy scalar, as in mmengine's meta
            "note": "random weights for parity tests; not a trained model",
        }
        save_checkpoint(model, ckpt, meta)
        np.savez(outputs, input=x.numpy(), **network_outputs(name, model, x))
        manifest[name] = {
            "checkpoint": str(ckpt.resolve()),
            "outputs": str(outputs.resolve()),
            "config": str(CONFIGS[name]),
            "input_shape": [batch, *INPUT_SHAPES[name]],
            "state_dict": {k: list(v.shape) for k, v in model.state_dict().items()},
        }
        print(f"{name}: wrote {ckpt.name}, {outputs.name}", flush=True)
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(manifest_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    nets = sub.add_parser("networks", help="random-weight checkpoints and layer outputs")
    nets.add_argument("--out", type=Path, required=True)
    nets.add_argument("--models", nargs="+", default=list(MODELS_AVAILABLE), choices=MODELS_AVAILABLE)
    nets.add_argument("--seed", type=int, default=0)
    nets.add_argument("--batch", type=int, default=2)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)  # torch.cuda.amp deprecations in mmcv/mmdet
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    build_networks(args.out, args.models, args.seed, args.batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
