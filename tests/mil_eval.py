"""Test helper: run a parsed ``model.mil`` op by op with torch, independently of ``PoseKitNet``.

Arithmetic is float32; with ``fp16_activations`` the results of ops declared fp16 are rounded to fp16, as
Core ML stores them. Used to
check that the reader maps every weight to the right convolution (the network loaded from the reader must
compute what the program computes) and that the test writer emits a program that means what it should.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from posekit.io.coreml import ConstantReader, parse_mil


def _value(env: dict[str, torch.Tensor], consts: ConstantReader, name: str, line: int) -> torch.Tensor | object:
    if name in env:
        return env[name]
    value = consts.get(name, line)
    return torch.from_numpy(np.asarray(value, dtype=np.float32)) if not isinstance(value, str) else value


@torch.no_grad()
def run_mlmodelc(folder: str | Path, x: torch.Tensor, fp16_activations: bool = True) -> dict[str, torch.Tensor]:
    """Evaluate ``folder/model.mil`` on ``x`` (1, 3, 192, 192) RGB 0..255; returns the named outputs."""
    folder = Path(folder)
    program = parse_mil(folder / "model.mil")
    consts = ConstantReader(program, folder)
    env: dict[str, torch.Tensor] = {program.input_name: x.float()}
    for op in program.ops:
        a = {k: _value(env, consts, v, op.line) for k, v in op.args.items()}
        if op.op == "cast":
            y = a["x"]
        elif op.op == "mul":
            y = a["x"] * a["y"]
        elif op.op == "add":
            y = a["x"] + a["y"]
        elif op.op == "relu":
            y = torch.relu(a["x"])
        elif op.op == "sigmoid":
            y = torch.sigmoid(a["x"])
        elif op.op == "upsample_bilinear":
            scale = (float(a["scale_factor_height"]), float(a["scale_factor_width"]))
            y = F.interpolate(a["x"], scale_factor=scale, mode="bilinear", align_corners=bool(a["align_corners"]))
        elif op.op == "conv":
            pad_type = a.get("pad_type", "valid")
            pad = [int(p) for p in a["pad"].tolist()] if pad_type == "custom" else [0, 0, 0, 0]
            padded = F.pad(a["x"], (pad[2], pad[3], pad[0], pad[1]))
            y = F.conv2d(
                padded, a["weight"], a.get("bias"),
                stride=[int(s) for s in a["strides"].tolist()],
                dilation=[int(d) for d in a["dilations"].tolist()],
                groups=int(a["groups"]),
                padding="same" if pad_type == "same" else 0,
            )  # fmt: skip
        else:
            raise NotImplementedError(op.op)
        env[op.output] = y.half().float() if fp16_activations and op.dtype == "fp16" else y
    return {name: env[name] for name in program.outputs}
