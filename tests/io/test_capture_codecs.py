"""The two decoders the capture readers carry: LZFSE to an exact size, and the minimal EXR depth reader
(checked against the OpenEXR library when it is installed)."""

import lzfse as binding
import numpy as np
import pytest
from generators.captures import encode_exr

from posekit.io.captures import lzfse
from posekit.io.captures.base import CaptureError
from posekit.io.captures.exr import exr_size, read_exr_channel
from posekit.limits import LimitError, Limits


@pytest.fixture
def depth():
    rng = np.random.default_rng(0)
    d = (1 + 3 * rng.random((37, 53))).astype(np.float32)
    d[0, :5] = 0
    return d


@pytest.mark.parametrize("size", [0, 3, 1000, 49_152, 3_000_000])
def test_lzfse_exact_roundtrip(size):
    data = np.random.default_rng(size).integers(0, 4, size, dtype=np.uint8).tobytes()
    packed = binding.compress(data)
    assert lzfse.declared_size(packed, "x") == size
    assert lzfse.decompress_exact(packed, size, "x") == data


def test_lzfse_refusals():
    packed = binding.compress(b"\1\2\3" * 1000)
    with pytest.raises(CaptureError, match="holds 3,000 bytes, expected 2,999"):
        lzfse.decompress_exact(packed, 2999, "f")
    with pytest.raises(CaptureError, match="truncated"):
        lzfse.decompress_exact(packed[: len(packed) // 2], 3000, "f")
    with pytest.raises(CaptureError, match="after the end"):
        lzfse.decompress_exact(packed + b"\0", 3000, "f")
    with pytest.raises(CaptureError, match="expected an LZFSE block at byte 0"):
        lzfse.decompress_exact(b"PK\3\4 not lzfse", 3000, "f")
    lying = bytearray(binding.compress(b"\0" * 5_000_000))  # declares 1000 bytes, inflates to 5 MB
    lying[4:8] = (1000).to_bytes(4, "little")
    with pytest.raises(CaptureError, match="inflates past the 1,000 bytes"):
        lzfse.decompress_exact(bytes(lying), 1000, "f")


def test_lzfse_without_the_bounded_decoder(monkeypatch):
    # Builds that do not export the C decoder fall back to the package's function after the header check.
    monkeypatch.setattr(lzfse, "_bounded_decoder", lambda: None)
    packed = binding.compress(b"abc" * 5000)
    assert lzfse.decompress_exact(packed, 15000, "x") == b"abc" * 5000
    with pytest.raises(CaptureError, match="holds 15,000 bytes, expected 14,999"):
        lzfse.decompress_exact(packed, 14_999, "x")


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("compress", [True, False])
def test_exr_roundtrip(depth, dtype, compress):
    data = encode_exr(depth, dtype, compress)
    assert exr_size(data, "x") == (53, 37)
    np.testing.assert_array_equal(read_exr_channel(data, Limits(), "x"), depth.astype(dtype).astype(np.float32))


def test_exr_refusals(depth):
    data = encode_exr(depth)
    with pytest.raises(CaptureError, match="magic number"):
        read_exr_channel(b"\x89PNG" + data[4:], Limits(), "f")
    for cut in (6, 40, len(data) // 2, len(data) - 3):
        with pytest.raises(CaptureError, match="f: "):
            read_exr_channel(data[:cut], Limits(), "f")
    with pytest.raises(LimitError, match="over the limit of 1,000"):
        read_exr_channel(data, Limits(max_image_pixels=1000), "f")
    tiled = bytearray(data)
    tiled[5] |= 0x02
    with pytest.raises(CaptureError, match="single-part scanline"):
        read_exr_channel(bytes(tiled), Limits(), "f")


def _openexr_bytes(openexr, channels, compression):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "d.exr")
        with openexr.File({"compression": compression, "type": openexr.scanlineimage}, channels) as f:
            f.write(path)
        return Path(path).read_bytes()


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_exr_matches_openexr(depth, dtype):
    openexr = pytest.importorskip("OpenEXR")
    d = depth.astype(dtype)
    for compression in (openexr.ZIP_COMPRESSION, openexr.ZIPS_COMPRESSION, openexr.NO_COMPRESSION):
        data = _openexr_bytes(openexr, {"R": d, "G": d * 2}, compression)
        np.testing.assert_array_equal(read_exr_channel(data, Limits(), "x"), d.astype(np.float32))
    with pytest.raises(CaptureError, match=r"depth channel named one of .* has \['G', 'R'\]"):
        read_exr_channel(data, Limits(), "f", names=("Z",))
    with pytest.raises(CaptureError, match="compression PIZ is not supported"):
        read_exr_channel(_openexr_bytes(openexr, {"R": d}, openexr.PIZ_COMPRESSION), Limits(), "x")
    # And OpenEXR reads what the test generator writes, so the fixtures are real EXR files.
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ours.exr"
        path.write_bytes(encode_exr(depth, dtype))
        with openexr.File(str(path)) as f:
            np.testing.assert_array_equal(f.channels()["R"].pixels, d)
