"""Reading compiled Core ML models: a random network written in the app model's format loads back exactly
(up to fp16), and every kind of bad file fails with a message naming the file and line."""

from __future__ import annotations

import os
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from mil_eval import run_mlmodelc
from mlmodelc_writer import hex_float, write_mlmodelc
from posekit_helpers import random_posekit_net, smooth_images

from posekit.io.coreml import BlobRef, CoreMLError, mlmodelc_state_dict, parse_mil
from posekit.models.posekit_net import PoseKitNet, fused_state_dict

OUTPUTS = ("heatmaps", "centers", "regs", "offsets")


@pytest.fixture(scope="module")
def net() -> PoseKitNet:
    return random_posekit_net(seed=2)


@pytest.fixture(scope="module")
def mlmodelc(net: PoseKitNet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mlmodelc(net, tmp_path_factory.mktemp("coreml") / "pkmodel.mlmodelc")


@pytest.fixture
def broken(mlmodelc: Path, tmp_path: Path) -> Path:
    """A fresh copy of the good model folder, for a test to damage."""
    return Path(shutil.copytree(mlmodelc, tmp_path / "pkmodel.mlmodelc"))


def edit_mil(folder: Path, old: str, new: str, count: int = 1) -> int:
    """Replace ``old`` by ``new`` in model.mil (the first ``count`` times); returns the first edited line."""
    path = folder / "model.mil"
    text = path.read_text()
    assert old in text, old
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, count))
    return line


def test_written_model_loads_into_the_fused_network(net: PoseKitNet, mlmodelc: Path) -> None:
    state = mlmodelc_state_dict(mlmodelc)
    expected = fused_state_dict(net)
    assert set(state) == set(expected)
    for key, value in state.items():  # exactly the fused weights, rounded to fp16 and widened again
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, expected[key].half().float(), atol=0, rtol=0, msg=key)
    fused = PoseKitNet(fused=True).eval()
    fused.load_state_dict(state, strict=True)
    x = smooth_images(1, seed=7)
    with torch.no_grad():
        for name, want, got in zip(OUTPUTS, net(x), fused(x), strict=True):
            scale = max(want.abs().max().item(), 1)  # fp16 weights: a few per cent at worst on random weights
            assert (got - want).abs().max() < 0.05 * scale and (got - want).abs().mean() < 0.005 * scale, name


def test_program_evaluated_op_by_op_equals_the_loaded_network(mlmodelc: Path) -> None:
    # The reader maps weights by name; evaluating the program itself checks that mapping independently.
    fused = PoseKitNet(fused=True).eval()
    fused.load_state_dict(mlmodelc_state_dict(mlmodelc))
    x = smooth_images(1, seed=8)
    program_out = run_mlmodelc(mlmodelc, x, fp16_activations=False)
    with torch.no_grad():
        for name, got in zip(OUTPUTS, fused(x), strict=True):
            torch.testing.assert_close(got, program_out[name], atol=1e-3, rtol=1e-3, msg=name)


def test_parsed_program_has_the_app_model_structure(mlmodelc: Path) -> None:
    program = parse_mil(mlmodelc / "model.mil")
    assert program.input_name == "input" and program.input_shape == (1, 3, 192, 192)
    assert program.outputs == OUTPUTS
    ops = [op.op for op in program.ops]
    assert ops.count("conv") == 74 and ops.count("upsample_bilinear") == 3 and ops.count("sigmoid") == 2
    weight = program.consts["self_backbone_features1_0_0_weight_fused_bn_to_fp16"]
    assert (
        weight.dtype == "fp16"
        and weight.shape == (32, 3, 3, 3)
        and weight.value == BlobRef("@model_path/weights/weight.bin", 64)
    )
    scale = next(c for name, c in program.consts.items() if name.startswith("input__scaled___y"))
    assert scale.value == np.float32(1 / 127.5)  # read from the hex literal 0x1.010102p-7


def test_hex_float_literals() -> None:
    assert hex_float(1 / 127.5) == "0x1.010102p-7"
    assert hex_float(-1.0) == "-0x1p+0"
    assert hex_float(2.0) == "0x1p+1"


def test_blob_records_are_aligned_and_self_describing(mlmodelc: Path) -> None:
    data = (mlmodelc / "weights" / "weight.bin").read_bytes()
    count, version = struct.unpack_from("<II", data, 0)
    assert version == 2 and count == 74 + 74 - 1  # a weight and a bias per conv, but features4.4 has no bias
    sentinel, dtype, size, offset = struct.unpack_from("<IIQQ", data, 64)
    assert (sentinel, dtype, size, offset) == (0xDEADBEEF, 1, 32 * 3 * 3 * 3 * 2, 128)
    assert len(data) % 64 == 0


def expect_error(folder: Path, pattern: str) -> CoreMLError:
    with pytest.raises(CoreMLError, match=pattern) as info:
        mlmodelc_state_dict(folder)
    return info.value


def test_unsupported_op_names_file_and_line(broken: Path) -> None:
    line = edit_mil(broken, "= relu(", "= gelu(")
    expect_error(broken, rf"model\.mil:{line}: unsupported op 'gelu'")


def test_unsupported_dtype_names_file_and_line(broken: Path) -> None:
    line = edit_mil(broken, "tensor<int32, [2]> strides_", "tensor<int8, [2]> strides_")
    expect_error(broken, rf"model\.mil:{line}: unsupported data type 'int8'")


def test_unsupported_input_shape(broken: Path) -> None:
    line = edit_mil(broken, "tensor<fp32, [1, 3, 192, 192]> input)", "tensor<fp32, [1, 3, 256, 256]> input)")
    expect_error(broken, rf"model\.mil:{line}: unsupported input tensor<fp32, \[1, 3, 256, 256\]>")


def test_unsupported_output_shape(broken: Path) -> None:
    line = edit_mil(broken, "tensor<fp32, [1, 17, 48, 48]> heatmaps", "tensor<fp32, [1, 17, 24, 24]> heatmaps")
    expect_error(broken, rf"model\.mil:{line}: unsupported shape \[1, 17, 24, 24\] of output 'heatmaps'")


def test_weight_of_the_wrong_shape(broken: Path) -> None:
    old = "tensor<fp16, [16, 32, 1, 1]> self_backbone_features1_1_3_weight_fused_bn_to_fp16"
    text = (broken / "model.mil").read_text()
    line = text[: text.index(old)].count("\n") + 1
    (broken / "model.mil").write_text(text.replace("[16, 32, 1, 1]", "[32, 16, 1, 1]"))
    expect_error(broken, rf"model\.mil:{line}: unsupported shape \[32, 16, 1, 1\] of self_backbone_features1_1_3")


def test_blob_size_that_does_not_fit_the_declared_shape(broken: Path) -> None:
    old = "tensor<fp16, [32, 3, 3, 3]> self_backbone_features1_0_0_weight_fused_bn_to_fp16"
    text = (broken / "model.mil").read_text()
    line = text[: text.index(old)].count("\n") + 1
    (broken / "model.mil").write_text(text.replace("[32, 3, 3, 3]", "[32, 3, 5, 5]"))
    expect_error(broken, rf"model\.mil:{line}: blob at offset 64 of .*weight\.bin holds 1728 bytes")


def test_bad_sentinel(broken: Path) -> None:
    path = broken / "weights" / "weight.bin"
    data = bytearray(path.read_bytes())
    data[64:68] = b"\0\0\0\0"
    path.write_bytes(bytes(data))
    expect_error(broken, r"model\.mil:\d+: no blob record at offset 64 of .*weight\.bin: sentinel 0x00000000")


def test_unsupported_blob_data_type(broken: Path) -> None:
    path = broken / "weights" / "weight.bin"
    data = bytearray(path.read_bytes())
    data[68:72] = struct.pack("<I", 4)  # Int8
    path.write_bytes(bytes(data))
    expect_error(broken, r"unsupported data type code 4")


def test_truncated_blob_file(broken: Path) -> None:
    path = broken / "weights" / "weight.bin"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    expect_error(broken, r"model\.mil:\d+: blob .* lies past the end of .*weight\.bin .*truncated weights file")


def test_missing_blob_file(broken: Path) -> None:
    (broken / "weights" / "weight.bin").unlink()
    expect_error(broken, r"model\.mil:\d+: cannot read the blob file .*weight\.bin")


def test_blob_path_outside_the_model_folder(broken: Path) -> None:
    line = edit_mil(broken, '"@model_path/weights/weight.bin"', '"@model_path/../../etc/passwd"')
    expect_error(broken, rf"model\.mil:{line}: blob path '@model_path/\.\./\.\./etc/passwd' points outside")


def test_truncated_program(broken: Path) -> None:
    path = broken / "model.mil"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    expect_error(broken, r"model\.mil: no complete `func main`.*truncated")


def test_missing_program(broken: Path) -> None:
    (broken / "model.mil").unlink()
    expect_error(broken, r"pkmodel\.mlmodelc: expected a compiled Core ML model folder with model\.mil")


def test_unknown_convolution_weight(broken: Path) -> None:
    edit_mil(broken, "self_backbone_conv4_0_weight", "self_backbone_conv9_0_weight", count=-1)
    text = (broken / "model.mil").read_text()
    conv_line = next(i for i, t in enumerate(text.splitlines(), 1) if "weight = self_backbone_conv9_0" in t)
    expect_error(
        broken,
        rf"model\.mil:{conv_line}: conv weight 'self_backbone_conv9_0_weight_fused_bn_to_fp16' names no",
    )


def test_convolution_hyper_parameters_are_checked(broken: Path) -> None:
    text = (broken / "model.mil").read_text()
    first_strides = re.search(r"tensor<int32, \[2\]> (strides_\d+) = const\(\).*\(\[2, 2\]\)\];", text)
    assert first_strides is not None
    (broken / "model.mil").write_text(text.replace(first_strides[0], first_strides[0].replace("[2, 2]", "[1, 1]")))
    expect_error(broken, r"conv backbone\.features1\.0\.0 has \(strides, groups, dilations, padding\) \(\(1, 1\)")


def test_another_input_normalisation_is_refused(broken: Path) -> None:
    edit_mil(broken, "(0x1.010102p-7)", "(0x1p+0)")
    expect_error(broken, r"input normalisation is x \* \[1\.\] \+ \[-1\. -1\. -1\.\]; expected x \* \(1/127\.5\) - 1")


def test_use_of_an_undefined_variable(broken: Path) -> None:
    line = edit_mil(broken, "x = input__scaled__", "x = input__scaled_typo")
    expect_error(broken, rf"model\.mil:{line}: add uses 'input__scaled_typo', which is not defined before this line")


def test_malformed_literal(broken: Path) -> None:
    line = edit_mil(
        broken, "([[[[-0x1p+0]], [[-0x1p+0]], [[-0x1p+0]]]])", "([[[[-0x1p+0]], [[-0x1p+0]]], [[-0x1p+0]]])"
    )
    expect_error(broken, rf"model\.mil:{line}: ")


def test_a_second_function_is_refused(broken: Path) -> None:
    path = broken / "model.mil"
    text = path.read_text().rstrip().removesuffix("}")
    path.write_text(text + "    func other<ios15>(tensor<fp32, [1]> x) {\n}\n")
    expect_error(broken, r"expected one function; found more after `main`")


# Its own variable: tests/conftest.py clears POSEKIT_WEIGHTS_DIR so that no other test sees real weights.
REAL_MODEL = Path(os.environ.get("POSEKIT_TEST_WEIGHTS_DIR", "/nonexistent")) / "pkmodel.mlmodelc"


@pytest.mark.skipif(
    not REAL_MODEL.is_dir(),
    reason="needs the app's pkmodel.mlmodelc in a folder named by POSEKIT_TEST_WEIGHTS_DIR",
)
def test_the_real_app_model_loads_and_matches_its_program() -> None:
    folder = REAL_MODEL
    fused = PoseKitNet(fused=True).eval()
    fused.load_state_dict(mlmodelc_state_dict(folder))
    x = smooth_images(1, seed=9)
    program_out = run_mlmodelc(folder, x)
    with torch.no_grad():
        for name, got in zip(OUTPUTS, fused(x), strict=True):
            want = program_out[name]
            torch.testing.assert_close(got, want, atol=5e-3 * max(want.abs().max().item(), 1), rtol=0, msg=name)
