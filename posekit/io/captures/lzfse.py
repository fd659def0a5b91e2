"""LZFSE decompression (Record3D's ``.depth`` and ``.conf`` frames) to an exact, known size.

The binding is PyPI's ``lzfse`` (wheels for Linux, macOS and Windows; ``import lzfse``); the older
source-only ``pyliblzfse`` (``import liblzfse``, the same C code) is used when it is the one installed. Their
``decompress`` grows its output buffer until the data fits, so a crafted frame could inflate about 2000-fold.
We know each frame's size beforehand (``w * h * 4`` bytes of float32 depth, ``w * h`` of confidence), so we
first walk the block headers (the sizes they declare must add up to it), then decode into a buffer of exactly
that size with the reference decoder the package bundles, called through ``ctypes``; where its symbols are not
exported (Windows builds), the package's own function runs after the header check.
"""

from __future__ import annotations

import ctypes
import struct
from functools import cache

from posekit.io.captures.base import CaptureError

_END, _RAW, _LZVN, _V1, _V2 = b"bvx$", b"bvx-", b"bvxn", b"bvx1", b"bvx2"
_V1_HEADER_BYTES = 770  # lzfse_compressed_block_header_v1: 7 uint32, int32, 4 uint16, int32, 3 uint16, 360 uint16


def _bits(value: int, offset: int, count: int) -> int:
    return (value >> offset) & ((1 << count) - 1)


def declared_size(data: bytes, what: str) -> int:
    """Sum of the raw sizes the stream's block headers declare; checks that the blocks tile the data and end
    with the end-of-stream marker.

    Raises:
        CaptureError: not an LZFSE stream, or truncated.
    """
    pos, total = 0, 0
    try:
        while True:
            magic = data[pos : pos + 4]
            if magic == _END:
                if pos + 4 != len(data):
                    raise CaptureError(f"{what}: {len(data) - pos - 4} bytes after the end of the LZFSE stream")
                return total
            if magic == _RAW:
                (raw,) = struct.unpack_from("<I", data, pos + 4)
                pos += 8 + raw
            elif magic == _LZVN:
                raw, payload = struct.unpack_from("<II", data, pos + 4)
                pos += 12 + payload
            elif magic == _V1:
                raw, payload = struct.unpack_from("<II", data, pos + 4)
                pos += _V1_HEADER_BYTES + payload
            elif magic == _V2:
                raw, f0, f1, f2 = struct.unpack_from("<IQQQ", data, pos + 4)
                pos += _bits(f2, 0, 32) + _bits(f0, 20, 20) + _bits(f1, 40, 20)
            else:
                what_came = "the data ends" if len(magic) < 4 else f"found {magic!r}"
                raise CaptureError(f"{what}: expected an LZFSE block at byte {pos}, {what_came} (truncated?)")
            total += raw
            if pos > len(data):
                raise CaptureError(f"{what}: the LZFSE stream is truncated")
    except struct.error as exc:
        raise CaptureError(f"{what}: the LZFSE stream is truncated") from exc


INSTALL_HINT = "reading Record3D .r3d depth needs LZFSE: pip install lzfse (or pip install 'posekit[rgbd]')"


def _binding():
    """The LZFSE extension module: ``lzfse``, else the older ``liblzfse``."""
    try:
        import lzfse

        return lzfse
    except ImportError:
        pass
    try:
        import liblzfse

        return liblzfse
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc


@cache
def _bounded_decoder():
    """The bundled reference ``lzfse_decode_buffer``, or None where the extension does not export it."""
    try:
        fn = ctypes.CDLL(_binding().__file__).lzfse_decode_buffer
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_size_t
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p]
    return fn


def decompress_exact(data: bytes, size: int, what: str) -> bytes:
    """Decompress an LZFSE stream that must hold exactly ``size`` bytes, never producing more.

    Raises:
        CaptureError: the stream is corrupt, truncated, or of another size (the message gives both).
        ImportError: no LZFSE binding is installed (with the install command).
    """
    binding = _binding()
    declared = declared_size(data, what)
    if declared != size:
        raise CaptureError(f"{what}: the LZFSE stream holds {declared:,} bytes, expected {size:,}")
    decode = _bounded_decoder()
    if decode is None:
        try:
            out = binding.decompress(data)
        except binding.error:
            raise CaptureError(f"{what}: corrupt LZFSE data") from None
    else:
        buffer = ctypes.create_string_buffer(size + 1)  # one spare byte: filling it means "more than size"
        n = decode(buffer, size + 1, data, len(data), None)
        out = buffer.raw[:n]
    if len(out) > size:
        raise CaptureError(f"{what}: the LZFSE data inflates past the {size:,} bytes its headers declare")
    if len(out) != size:
        raise CaptureError(f"{what}: the LZFSE data is corrupt, it decodes to {len(out):,} of {size:,} bytes")
    return out
