"""Test helper: write a ``PoseKitNet`` as a compiled Core ML model folder, in the app model's format.

The output mirrors ``pkmodel.mlmodelc`` as the Core ML tools compile it: ``model.mil`` (``program(1.0)``, one
``main<ios15>`` function, fp32 input normalised in the graph by ``input * 0x1.010102p-7 + (-1)``, then cast to
fp16; BatchNorm fused into the fp16 convolution weights and biases; fp32 outputs) and ``weights/weight.bin``
(a 64-byte storage header, then per constant a 64-byte record ``0xDEADBEEF, dtype code, size, offset`` and
its 64-byte-aligned data). Weight constants keep the module path
(``self_backbone_..._weight_fused_bn_to_fp16``), fused biases get anonymous names, as the real converter does.

The graph comes from ``torch.fx`` tracing the fused network, so it is the network's real dataflow.
"""

from __future__ import annotations

import operator
import struct
from pathlib import Path

import numpy as np
import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from posekit.models.posekit_net import PoseKitNet, conv_bn_pairs, fuse_batchnorm

OUTPUT_NAMES = ("heatmaps", "centers", "regs", "offsets")
BLOB_PATH = "@model_path/weights/weight.bin"


def hex_float(value: float) -> str:
    """A float32 value as MIL writes it: ``0x1.010102p-7``, ``-0x1p+0``."""
    text = float(np.float32(value)).hex()
    mantissa, exponent = text.split("p")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}p{exponent}"


def _type(dtype: str, shape: tuple[int, ...] | list[int]) -> str:
    return f"tensor<{dtype}, [{', '.join(str(int(d)) for d in shape)}]>"


def _name_attr(name: str) -> str:
    return f'[name = tensor<string, []>("{name}")'


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.blob = bytearray(64)
        self.blob_count = 0
        self.counter = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter}"

    def const(self, name: str, dtype: str, shape: tuple[int, ...], literal: str) -> str:
        t = _type(dtype, shape)
        self.lines.append(f"{t} {name} = const()" + _name_attr(name) + f", val = {t}({literal})];")
        return name

    def scalar(self, prefix: str, dtype: str, value: object) -> str:
        literal = {
            "string": lambda v: f'"{v}"',
            "int32": lambda v: str(int(v)),
            "bool": lambda v: "true" if v else "false",
            "fp32": hex_float,
        }[dtype](value)
        return self.const(self.fresh(prefix), dtype, (), literal)

    def ints(self, prefix: str, values: list[int]) -> str:
        return self.const(self.fresh(prefix), "int32", (len(values),), "[" + ", ".join(map(str, values)) + "]")

    def blob_const(self, name: str, array: np.ndarray) -> str:
        """An fp16 constant in the blob file: record at a 64-byte boundary, data right after it."""
        data = np.ascontiguousarray(array, dtype="<f2").tobytes()
        offset = len(self.blob)
        record = struct.pack("<IIQQ", 0xDEADBEEF, 1, len(data), offset + 64).ljust(64, b"\0")
        self.blob += record + data + b"\0" * (-len(data) % 64)
        self.blob_count += 1
        literal = f'BLOBFILE(path = tensor<string, []>("{BLOB_PATH}"), offset = tensor<uint64, []>({offset}))'
        return self.const(name, "fp16", tuple(array.shape), literal)

    def op(self, dtype: str, shape: tuple[int, ...], out: str, op: str, args: dict[str, str]) -> str:
        arg_text = ", ".join(f"{k} = {v}" for k, v in sorted(args.items()))
        self.lines.append(f"{_type(dtype, shape)} {out} = {op}({arg_text})" + _name_attr(out) + "];")
        return out


def write_mlmodelc(net: PoseKitNet, folder: str | Path) -> Path:
    """Write ``net`` (unfused, eval mode) as ``folder`` (a ``.mlmodelc`` directory); returns ``folder``."""
    folder = Path(folder)
    has_bn = {conv: bn is not None for conv, bn in conv_bn_pairs(net)}
    fused = fuse_batchnorm(net.float().cpu().eval())
    graph = fx.symbolic_trace(fused)
    ShapeProp(graph).propagate(torch.zeros(1, 3, 192, 192))
    modules = dict(graph.named_modules())
    w = _Writer()
    names: dict[fx.Node, str] = {}
    outputs: list[str] = []

    def shape(node: fx.Node) -> tuple[int, ...]:
        return tuple(node.meta["tensor_meta"].shape)

    for node in graph.graph.nodes:
        if node.op == "placeholder":
            names[node] = "input"
        elif node.op == "call_function" and node.target is operator.truediv:
            scale = w.scalar("input__scaled___y", "fp32", 1 / node.args[1])
            names[node] = w.op("fp32", shape(node), "input__scaled__", "mul", {"x": names[node.args[0]], "y": scale})
        elif node.op == "call_function" and node.target is operator.sub:
            bias = w.const(
                w.fresh("input__biased___y"),
                "fp32",
                (1, 3, 1, 1),
                "[[[[-0x1p+0]], [[-0x1p+0]], [[-0x1p+0]]]]",
            )
            biased = w.op("fp32", shape(node), "input__biased__", "add", {"x": names[node.args[0]], "y": bias})
            dtype = w.scalar("input_to_fp16_dtype", "string", "fp16")
            names[node] = w.op("fp16", shape(node), "input_to_fp16", "cast", {"dtype": dtype, "x": biased})
        elif node.op == "call_function" and node.target in (operator.add, operator.iadd):
            a, b = (names[n] for n in node.args)
            names[node] = w.op("fp16", shape(node), w.fresh("add"), "add", {"x": a, "y": b})
        elif node.op == "call_module":
            module = modules[node.target]
            x = names[node.args[0]]
            if isinstance(module, nn.Identity):
                names[node] = x
            elif isinstance(module, nn.Conv2d):
                key = node.target.replace(".", "_")
                suffix = "_fused_bn" if has_bn[node.target] else ""
                args = {
                    "x": x,
                    "weight": w.blob_const(f"self_{key}_weight{suffix}_to_fp16", module.weight.detach().numpy()),
                    "strides": w.ints("strides", list(module.stride)),
                    "dilations": w.ints("dilations", list(module.dilation)),
                    "groups": w.scalar("groups", "int32", module.groups),
                }
                pad = module.padding[0]
                args["pad_type"] = w.scalar("pad_type", "string", "custom" if pad else "valid")
                args["pad"] = w.ints("pad", [pad] * 4)
                if module.bias is not None:
                    bias_name = (
                        w.fresh("var_21_fused_bn") + "_to_fp16" if has_bn[node.target] else f"self_{key}_bias_to_fp16"
                    )
                    args["bias"] = w.blob_const(bias_name, module.bias.detach().numpy())
                names[node] = w.op("fp16", shape(node), w.fresh("conv"), "conv", args)
            elif isinstance(module, (nn.ReLU, nn.Sigmoid)):
                op = "relu" if isinstance(module, nn.ReLU) else "sigmoid"
                names[node] = w.op("fp16", shape(node), w.fresh(op), op, {"x": x})
            elif isinstance(module, nn.Upsample):
                args = {
                    "x": x,
                    "scale_factor_height": w.scalar("scale_h", "fp32", 2.0),
                    "scale_factor_width": w.scalar("scale_w", "fp32", 2.0),
                    "align_corners": w.scalar("align_corners", "bool", False),
                }
                names[node] = w.op("fp16", shape(node), w.fresh("upsample"), "upsample_bilinear", args)
            else:
                raise NotImplementedError(f"no MIL for {type(module).__name__}")
        elif node.op == "output":
            for out_name, value in zip(OUTPUT_NAMES, node.args[0], strict=True):
                dtype = w.scalar("to_fp32_dtype", "string", "fp32")
                w.op("fp32", shape(value), out_name, "cast", {"dtype": dtype, "x": names[value]})
                outputs.append(out_name)
        else:
            raise NotImplementedError(f"no MIL for fx node {node.op} {node.target}")

    struct.pack_into("<II", w.blob, 0, w.blob_count, 2)
    body = "\n".join(" " * 12 + line for line in w.lines)
    text = (
        "program(1.0)\n"
        '[buildInfo = dict<tensor<string, []>, tensor<string, []>>({{"coremltools-version", "9.0"}})]\n'
        "{\n"
        "    func main<ios15>(tensor<fp32, [1, 3, 192, 192]> input) {\n"
        f"{body}\n"
        f"        }} -> ({', '.join(outputs)});\n"
        "}\n"
    )
    (folder / "weights").mkdir(parents=True, exist_ok=True)
    (folder / "model.mil").write_text(text)
    (folder / "weights" / "weight.bin").write_bytes(bytes(w.blob))
    return folder
