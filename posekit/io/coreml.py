"""Reading the PoseKit app's compiled Core ML model (``pkmodel.mlmodelc``) into PyTorch tensors.

A compiled ML Program folder holds ``model.mil`` (the program as text) and ``weights/weight.bin`` (MIL blob
storage). This module parses the subset of MIL that the PoseKit model uses, reads the fp16 blobs, checks that
the program is the PoseKit network (input, normalisation, outputs, every convolution's shape and
hyper-parameters) and returns the state dict of ``PoseKitNet(fused=True)``:

* Core ML has BatchNorm fused into the convolutions, so the weights load into the **fused variant** of the
  network (same module names, BatchNorm replaced by ``nn.Identity``, each convolution with a bias); nothing
  is lost, since an inference-time BatchNorm is exactly such an affine map.
* A convolution's weight constant keeps its PyTorch module path, e.g.
  ``self_backbone_features1_0_0_weight_fused_bn_to_fp16`` is ``backbone.features1.0.0.weight``; its bias is
  whatever constant the ``conv`` statement names (the Core ML converter gives fused biases anonymous names).
* fp16 weights are widened to float32: the network then computes in float32 what the app computes in fp16.

MIL text, one statement per line::

    tensor<fp16, [32]> NAME = const()[name = tensor<string, []>("..."), val = tensor<fp16, [32]>(BLOBFILE(
        path = tensor<string, []>("@model_path/weights/weight.bin"), offset = tensor<uint64, []>(1856)))];
    tensor<fp16, [1, 32, 96, 96]> NAME = conv(bias = NAME, ..., x = NAME)[name = tensor<string, []>("...")];

Blob storage: at each BLOBFILE offset a 64-byte record, little-endian ``uint32 sentinel 0xDEADBEEF, uint32
data type (1 fp16, 2 fp32), uint64 size in bytes, uint64 absolute data offset``, then padding.

Anything else (another op, data type, shape, a bad sentinel, a truncated blob) raises :class:`CoreMLError`
naming the file and line.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from posekit.io.checkpoints import CheckpointError
from posekit.models.posekit_net import GRID_SIZE, INPUT_SIZE, NUM_JOINTS, PoseKitNet

SUPPORTED_OPS = frozenset({"const", "cast", "mul", "add", "conv", "relu", "sigmoid", "upsample_bilinear"})
NUMPY_DTYPES = {"fp16": np.float16, "fp32": np.float32, "int32": np.int32, "bool": np.bool_}
BLOB_DTYPES = {1: "fp16", 2: "fp32"}  # MILBlob BlobDataType codes
BLOB_SENTINEL = 0xDEADBEEF
BLOB_RECORD = struct.Struct("<IIQQ")  # sentinel, data type, size in bytes, data offset; padded to 64 bytes
BLOB_RECORD_SIZE = 64
OUTPUTS = {
    "heatmaps": (1, NUM_JOINTS, GRID_SIZE, GRID_SIZE),
    "centers": (1, 1, GRID_SIZE, GRID_SIZE),
    "regs": (1, 2 * NUM_JOINTS, GRID_SIZE, GRID_SIZE),
    "offsets": (1, 2 * NUM_JOINTS, GRID_SIZE, GRID_SIZE),
}
INPUT_SHAPE = (1, 3, INPUT_SIZE, INPUT_SIZE)

_TYPE = r"tensor<(?P<{0}>\w+), \[(?P<{0}_shape>[^\]]*)\]>"
_FUNC = re.compile(r"^func (?P<name>\w+)<(?P<opset>\w+)>\((?P<args>.*)\) \{$")
_ARG = re.compile("^" + _TYPE.format("dtype") + r" (?P<name>\w+)$")
_STATEMENT = re.compile(
    "^" + _TYPE.format("dtype") + r" (?P<out>\w+) = (?P<op>\w+)\((?P<args>[^()]*)\)\[(?P<attrs>.*)\];$"
)
_ATTRS = re.compile(
    r'^name = tensor<string, \[\]>\("(?P<name>[^"]*)"\)(?:, val = ' + _TYPE.format("vtype") + r"\((?P<lit>.*)\))?$"
)
_BLOBFILE = re.compile(
    r'^BLOBFILE\(path = tensor<string, \[\]>\("(?P<path>[^"]*)"\), '
    r"offset = tensor<uint64, \[\]>\((?P<offset>\d+)\)\)$"
)
_RETURN = re.compile(r"^\} -> \((?P<outs>[\w, ]*)\);$")
_TOKEN = re.compile(r"\[|\]|,|[^\[\],\s]+")
_WEIGHT_SUFFIX = re.compile(r"_weight(_fused_bn)?(_to_fp16)?$")


class CoreMLError(CheckpointError):
    """A Core ML model folder that cannot be read as the PoseKit network; the message names file and line."""


@dataclass(frozen=True)
class BlobRef:
    """A constant stored in a blob file: ``path`` as written (``@model_path/...``) and the record offset."""

    path: str
    offset: int


@dataclass
class MilConst:
    """A ``const`` statement: its line, declared type, and value (array, string, or :class:`BlobRef`)."""

    line: int
    dtype: str
    shape: tuple[int, ...]
    value: np.ndarray | str | BlobRef


@dataclass
class MilOp:
    """A non-const statement ``tensor<dtype, shape> output = op(arg = variable, ...)``."""

    line: int
    op: str
    output: str
    dtype: str
    shape: tuple[int, ...]
    args: dict[str, str]


@dataclass
class MilProgram:
    """The parsed ``main`` function of a ``model.mil``."""

    path: Path
    input_name: str
    input_dtype: str
    input_shape: tuple[int, ...]
    outputs: tuple[str, ...]
    func_line: int
    consts: dict[str, MilConst] = field(default_factory=dict)
    ops: list[MilOp] = field(default_factory=list)
    defined: set[str] = field(default_factory=set)

    def where(self, line: int) -> str:
        return f"{self.path}:{line}"


def _shape(text: str, where: str) -> tuple[int, ...]:
    text = text.strip()
    if not text:
        return ()
    try:
        return tuple(int(d) for d in text.split(","))
    except ValueError:
        raise CoreMLError(f"{where}: expected a static shape of integers, got [{text}]") from None


def _number(token: str, where: str) -> float | int | bool:
    if token in ("true", "false"):
        return token == "true"
    try:
        if "0x" in token.lower():
            return float.fromhex(token)
        if re.fullmatch(r"[-+]?\d+", token):
            return int(token)
        return float(token)
    except ValueError:
        raise CoreMLError(f"{where}: cannot read the literal {token!r}") from None


def _literal(text: str, dtype: str, shape: tuple[int, ...], where: str) -> np.ndarray | str:
    """A constant's literal: a string, a scalar, or nested lists of numbers (decimal or hex floats)."""
    text = text.strip()
    if dtype == "string":
        if not (len(text) >= 2 and text[0] == '"' and text[-1] == '"'):
            raise CoreMLError(f"{where}: expected a quoted string literal, got {text[:60]}")
        return text[1:-1]
    tokens = _TOKEN.findall(text)
    pos = 0

    def parse() -> object:
        nonlocal pos
        if pos >= len(tokens):
            raise CoreMLError(f"{where}: the literal {text[:60]} ends too early")
        token = tokens[pos]
        pos += 1
        if token != "[":
            return _number(token, where)
        items = []
        while pos < len(tokens) and tokens[pos] != "]":
            items.append(parse())
            if pos < len(tokens) and tokens[pos] == ",":
                pos += 1
        if pos >= len(tokens):
            raise CoreMLError(f"{where}: unbalanced brackets in the literal {text[:60]}")
        pos += 1
        return items

    value = parse()
    if pos != len(tokens):
        raise CoreMLError(f"{where}: unexpected text after the literal {text[:60]}")
    try:
        arr = np.asarray(value, dtype=NUMPY_DTYPES[dtype])
    except (ValueError, OverflowError) as exc:
        raise CoreMLError(f"{where}: the literal {text[:60]} is not a {dtype} tensor ({exc})") from None
    if arr.shape != shape:
        raise CoreMLError(f"{where}: the literal has shape {arr.shape}, its type says {list(shape)}")
    return arr


def _check_dtype(dtype: str, where: str) -> None:
    if dtype not in NUMPY_DTYPES and dtype != "string":
        raise CoreMLError(
            f"{where}: unsupported data type {dtype!r}; expected one of {sorted([*NUMPY_DTYPES, 'string'])}"
        )


def _parse_statement(program: MilProgram, text: str, line: int) -> None:
    where = program.where(line)
    m = _STATEMENT.match(text)
    if m is None:
        raise CoreMLError(
            f"{where}: expected a statement `tensor<dtype, [shape]> name = op(...)[name = ...];`, got {text[:100]}"
        )
    op, out, dtype = m["op"], m["out"], m["dtype"]
    if op not in SUPPORTED_OPS:
        raise CoreMLError(f"{where}: unsupported op {op!r}; the PoseKit reader handles {sorted(SUPPORTED_OPS)}")
    _check_dtype(dtype, where)
    shape = _shape(m["dtype_shape"], where)
    if out in program.defined:
        raise CoreMLError(f"{where}: {out!r} is defined twice")
    attrs = _ATTRS.match(m["attrs"])
    if attrs is None:
        raise CoreMLError(f"{where}: cannot read the attributes [{m['attrs'][:80]}]")
    if op == "const":
        if attrs["lit"] is None:
            raise CoreMLError(f"{where}: const {out!r} has no value")
        if (attrs["vtype"], _shape(attrs["vtype_shape"], where)) != (dtype, shape):
            raise CoreMLError(
                f"{where}: const {out!r} is declared {dtype} {list(shape)} but its value is "
                f"{attrs['vtype']} [{attrs['vtype_shape']}]"
            )
        blob = _BLOBFILE.match(attrs["lit"].strip())
        if blob is not None:
            if dtype not in BLOB_DTYPES.values():
                raise CoreMLError(f"{where}: unsupported blob data type {dtype!r}; expected fp16 or fp32")
            value: np.ndarray | str | BlobRef = BlobRef(blob["path"], int(blob["offset"]))
        else:
            value = _literal(attrs["lit"], dtype, shape, where)
        program.consts[out] = MilConst(line, dtype, shape, value)
        program.defined.add(out)
        return
    if m["args"].strip():
        args = {}
        for part in m["args"].split(","):
            key, sep, name = (s.strip() for s in part.partition("="))
            if not sep or not re.fullmatch(r"\w+", name):
                raise CoreMLError(f"{where}: expected arguments `key = variable`, got {part.strip()!r}")
            if name not in program.defined:
                raise CoreMLError(f"{where}: {op} uses {name!r}, which is not defined before this line")
            args[key] = name
    else:
        args = {}
    program.ops.append(MilOp(line, op, out, dtype, shape, args))
    program.defined.add(out)


def parse_mil(path: str | Path) -> MilProgram:
    """Parse a ``model.mil`` holding one function ``main`` with one tensor input.

    Raises:
        CoreMLError: anything outside the supported subset, with ``file:line``.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CoreMLError(f"{path}: cannot read the MIL text ({exc})") from exc
    if not lines or not lines[0].startswith("program("):
        raise CoreMLError(f"{path}:1: expected `program(1.0)`, got {(lines[0] if lines else '(empty file)')[:60]!r}")
    program: MilProgram | None = None
    finished = False
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        where = f"{path}:{number}"
        if number == 1 or not text or text.startswith("[buildInfo") or text == "{":
            continue
        if finished:
            if text != "}":
                raise CoreMLError(f"{where}: expected one function; found more after `main`: {text[:60]}")
            continue
        if program is None:
            m = _FUNC.match(text)
            if m is None:
                raise CoreMLError(
                    f"{where}: expected `func main<opset>(tensor<fp32, [...]> input) {{`, got {text[:80]}"
                )
            arg = _ARG.match(m["args"].strip())
            if m["name"] != "main" or arg is None:
                raise CoreMLError(f"{where}: expected one function `main` with one tensor input, got {text[:80]}")
            _check_dtype(arg["dtype"], where)
            program = MilProgram(
                path,
                arg["name"],
                arg["dtype"],
                _shape(arg["dtype_shape"], where),
                (),
                number,
                defined={arg["name"]},
            )
            continue
        ret = _RETURN.match(text)
        if ret is not None:
            program.outputs = tuple(s.strip() for s in ret["outs"].split(",") if s.strip())
            finished = True
            continue
        _parse_statement(program, text, number)
    if program is None or not finished:
        raise CoreMLError(f"{path}: no complete `func main` (missing `}} -> (outputs);`): truncated file?")
    return program


def read_blob(weights: Path, data: bytes, ref: BlobRef, const: MilConst, where: str) -> np.ndarray:
    """The array of one blob record; checks sentinel, data type, size and bounds against the declared type."""
    end = ref.offset + BLOB_RECORD_SIZE
    if end > len(data):
        raise CoreMLError(
            f"{where}: blob record at offset {ref.offset} lies past the end of {weights} "
            f"({len(data)} bytes): truncated weights file"
        )
    sentinel, code, size, offset = BLOB_RECORD.unpack_from(data, ref.offset)
    if sentinel != BLOB_SENTINEL:
        raise CoreMLError(
            f"{where}: no blob record at offset {ref.offset} of {weights}: sentinel "
            f"0x{sentinel:08X}, expected 0x{BLOB_SENTINEL:08X}"
        )
    if code not in BLOB_DTYPES:
        raise CoreMLError(
            f"{where}: blob at offset {ref.offset} of {weights} has unsupported data type code "
            f"{code}; expected {BLOB_DTYPES}"
        )
    if BLOB_DTYPES[code] != const.dtype:
        raise CoreMLError(
            f"{where}: blob at offset {ref.offset} holds {BLOB_DTYPES[code]}, the const is declared {const.dtype}"
        )
    dtype = np.dtype(NUMPY_DTYPES[const.dtype]).newbyteorder("<")
    expected = math.prod(const.shape) * dtype.itemsize
    if size != expected:
        raise CoreMLError(
            f"{where}: blob at offset {ref.offset} of {weights} holds {size} bytes, the shape "
            f"{list(const.shape)} needs {expected}"
        )
    if offset + size > len(data):
        raise CoreMLError(
            f"{where}: blob data [{offset}, {offset + size}) lies past the end of {weights} "
            f"({len(data)} bytes): truncated weights file"
        )
    return np.frombuffer(data, dtype=dtype, count=math.prod(const.shape), offset=offset).reshape(const.shape)


class ConstantReader:
    """Constant values of a program, blobs read from the folder's blob files (each file read once)."""

    def __init__(self, program: MilProgram, folder: Path):
        self.program = program
        self.folder = folder
        self.files: dict[Path, bytes] = {}

    def blob_file(self, ref: BlobRef, where: str) -> Path:
        prefix = "@model_path/"
        if not ref.path.startswith(prefix):
            raise CoreMLError(f"{where}: expected a blob path under {prefix}, got {ref.path!r}")
        path = (self.folder / ref.path[len(prefix) :]).resolve()
        if self.folder.resolve() not in path.parents:
            raise CoreMLError(f"{where}: blob path {ref.path!r} points outside {self.folder}")
        return path

    def get(self, name: str, line: int) -> np.ndarray | str:
        where = self.program.where(line)
        const = self.program.consts.get(name)
        if const is None:
            raise CoreMLError(f"{where}: {name!r} is not a constant (computed weights are not supported)")
        if not isinstance(const.value, BlobRef):
            return const.value
        path = self.blob_file(const.value, self.program.where(const.line))
        if path not in self.files:
            try:
                self.files[path] = path.read_bytes()
            except OSError as exc:
                raise CoreMLError(
                    f"{self.program.where(const.line)}: cannot read the blob file {path} ({exc})"
                ) from exc
        return read_blob(path, self.files[path], const.value, const, self.program.where(const.line))


def _check_interface(program: MilProgram) -> None:
    where = program.where(program.func_line)
    if program.input_dtype != "fp32" or program.input_shape != INPUT_SHAPE:
        raise CoreMLError(
            f"{where}: unsupported input tensor<{program.input_dtype}, {list(program.input_shape)}>; "
            f"expected tensor<fp32, {list(INPUT_SHAPE)}> (RGB 0..255)"
        )
    if set(program.outputs) != set(OUTPUTS):
        raise CoreMLError(f"{program.path}: outputs {program.outputs}; expected {tuple(OUTPUTS)}")
    produced = {op.output: op for op in program.ops}
    for name, shape in OUTPUTS.items():
        op = produced.get(name)
        if op is None:
            raise CoreMLError(f"{program.path}: output {name!r} is returned but never computed")
        if op.shape != shape:
            raise CoreMLError(
                f"{program.where(op.line)}: unsupported shape {list(op.shape)} of output {name!r}; "
                f"expected {list(shape)}"
            )


def _check_normalisation(program: MilProgram, consts: ConstantReader) -> None:
    """The graph must start with ``input * (1/127.5) + (-1)``: the normalisation the network does itself."""
    users = [op for op in program.ops if program.input_name in op.args.values()]
    mul = users[0] if len(users) == 1 and users[0].op == "mul" else None
    add = next((op for op in program.ops if mul is not None and mul.output in op.args.values()), None)
    if mul is None or add is None or add.op != "add":
        raise CoreMLError(
            f"{program.path}: expected the graph to start with `input * (1/127.5) + (-1)` "
            "(RGB 0..255 in), found another input pipeline"
        )
    scale = np.asarray(consts.get(next(v for v in mul.args.values() if v != program.input_name), mul.line), float)
    bias = np.asarray(consts.get(next(v for v in add.args.values() if v != mul.output), add.line), float)
    if not (np.allclose(scale, 1 / 127.5, rtol=1e-5) and np.allclose(bias, -1.0, atol=1e-5)):
        raise CoreMLError(
            f"{program.where(mul.line)}: input normalisation is x * {scale.ravel()[:3]} + "
            f"{bias.ravel()[:3]}; expected x * (1/127.5) - 1"
        )


def _conv_padding(op: MilOp, consts: ConstantReader, kernel: int, stride: int) -> int:
    pad_type = consts.get(op.args["pad_type"], op.line) if "pad_type" in op.args else "valid"
    if pad_type == "valid":
        return 0
    if pad_type == "same" and stride == 1:
        return kernel // 2
    if pad_type == "custom" and "pad" in op.args:
        pad = np.asarray(consts.get(op.args["pad"], op.line)).tolist()
        if len(pad) == 4 and len(set(pad)) == 1:
            return int(pad[0])
    raise CoreMLError(
        f"{consts.program.where(op.line)}: unsupported padding {pad_type!r} for stride {stride} "
        "(expected symmetric padding)"
    )


def _int_pair(op: MilOp, consts: ConstantReader, key: str, default: int) -> tuple[int, ...]:
    if key not in op.args:
        return (default, default)
    return tuple(int(v) for v in np.asarray(consts.get(op.args[key], op.line)).ravel())


def mlmodelc_state_dict(folder: str | Path) -> dict[str, torch.Tensor]:
    """Read a compiled PoseKit Core ML model into the state dict of ``PoseKitNet(fused=True)``.

    Args:
        folder: the ``.mlmodelc`` folder (holding ``model.mil`` and ``weights/weight.bin``).

    Returns:
        float32 CPU tensors keyed ``<conv path>.weight`` / ``<conv path>.bias``.

    Raises:
        CoreMLError: missing files, unsupported content, or a program that is not the PoseKit network.
    """
    folder = Path(folder)
    mil = folder / "model.mil"
    if not mil.is_file():
        raise CoreMLError(f"{folder}: expected a compiled Core ML model folder with model.mil, found none")
    program = parse_mil(mil)
    consts = ConstantReader(program, folder)
    _check_interface(program)
    _check_normalisation(program, consts)

    reference = PoseKitNet(fused=True)
    convs = {name: m for name, m in reference.named_modules() if isinstance(m, torch.nn.Conv2d)}
    by_key = {name.replace(".", "_"): name for name in convs}
    out: dict[str, torch.Tensor] = {}
    for op in (o for o in program.ops if o.op == "conv"):
        where = program.where(op.line)
        weight_name = op.args.get("weight", "")
        key = _WEIGHT_SUFFIX.sub("", weight_name.removeprefix("self_"))
        module_name = by_key.get(key)
        if module_name is None or not _WEIGHT_SUFFIX.search(weight_name):
            raise CoreMLError(
                f"{where}: conv weight {weight_name!r} names no convolution of the PoseKit network "
                "(expected e.g. self_backbone_features1_0_0_weight_fused_bn_to_fp16)"
            )
        if f"{module_name}.weight" in out:
            raise CoreMLError(f"{where}: a second conv uses the weights of {module_name}")
        conv = convs[module_name]
        weight = np.asarray(consts.get(weight_name, op.line))
        if tuple(weight.shape) != tuple(conv.weight.shape):
            const_where = program.where(program.consts[weight_name].line)
            raise CoreMLError(
                f"{const_where}: unsupported shape {list(weight.shape)} of {weight_name}; "
                f"{module_name} needs {list(conv.weight.shape)}"
            )
        stride = _int_pair(op, consts, "strides", 1)
        groups = int(np.asarray(consts.get(op.args["groups"], op.line))) if "groups" in op.args else 1
        dilations = _int_pair(op, consts, "dilations", 1)
        padding = _conv_padding(op, consts, conv.kernel_size[0], stride[0])
        found = (stride, groups, dilations, padding)
        expected = (tuple(conv.stride), conv.groups, tuple(conv.dilation), conv.padding[0])
        if found != expected:
            raise CoreMLError(
                f"{where}: conv {module_name} has (strides, groups, dilations, padding) {found}; "
                f"the PoseKit network has {expected}"
            )
        out[f"{module_name}.weight"] = torch.from_numpy(weight.astype(np.float32))
        if "bias" in op.args:
            bias = np.asarray(consts.get(op.args["bias"], op.line))
            if conv.bias is None or tuple(bias.shape) != (conv.out_channels,):
                bias_where = program.where(program.consts[op.args["bias"]].line)
                raise CoreMLError(
                    f"{bias_where}: unsupported bias of shape {list(bias.shape)} for {module_name}, "
                    f"which has {'no bias' if conv.bias is None else [conv.out_channels]}"
                )
            out[f"{module_name}.bias"] = torch.from_numpy(bias.astype(np.float32))
        elif conv.bias is not None:
            out[f"{module_name}.bias"] = torch.zeros(conv.out_channels)
    missing = [name for name in convs if f"{name}.weight" not in out]
    if missing:
        raise CoreMLError(
            f"{mil}: {len(missing)} convolutions of the PoseKit network are missing "
            f"(e.g. {missing[:3]}): not a PoseKit model?"
        )
    return out
