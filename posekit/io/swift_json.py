"""JSON text as Swift's ``JSONEncoder`` writes it with ``outputFormatting = [.prettyPrinted, .sortedKeys]``.

The PoseKit app writes ``meta.json`` and its JSON exports this way; writing the same bytes keeps files
made here indistinguishable from the app's. The rules (swift-foundation ``JSONWriter`` and ``JSONEncoder``):

* two-space indentation, ``"key" : value`` (a space on both sides of the colon), ``,\\n`` between items, an
  empty array as ``[\\n\\n]`` and an empty object as ``{\\n\\n}`` (closing bracket indented), no final newline;
* keys sorted by their UTF-8 bytes;
* strings escape ``"``, ``\\``, ``/`` (as ``\\/``), ``\\b \\f \\n \\r \\t`` and other control characters as
  ``\\u00xx``; everything else is written as UTF-8;
* numbers are Swift's ``description`` with a trailing ``.0`` removed: the shortest digits that read back to
  the same value, in decimal form unless the decimal exponent is below -3 or the magnitude exceeds 2^24
  (Float) or 2^53 (Double), then ``1.5e-05`` style. Float fields (Swift ``Float``) are formatted from their
  float32 value, so ``0.1`` as a Float prints ``0.1``;
* Swift refuses NaN and infinities; here they are written as ``null`` (the app never exports them).

Use :class:`Float32` to mark values the app stores as Swift ``Float``; plain Python floats are ``Double``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

FLOAT32_DECIMAL_LIMIT = 2.0**24
DOUBLE_DECIMAL_LIMIT = 2.0**53


class Number(str):
    """A number already formatted as JSON text (written without quotes)."""


def _swift_description(shortest: str, limit: float) -> str:
    """Swift's ``description`` from Python's or numpy's shortest round-trip text of the same value."""
    negative = shortest.startswith("-")
    mantissa, _, exponent = shortest.lstrip("-").partition("e")
    whole, _, fraction = mantissa.partition(".")
    all_digits = whole + fraction
    digits = all_digits.lstrip("0").rstrip("0")
    sign = "-" if negative else ""
    if not digits:
        return sign + "0.0"
    # value = 0.<digits> x 10**point
    point = len(whole) + (int(exponent) if exponent else 0) - (len(all_digits) - len(all_digits.lstrip("0")))
    if point < -3 or abs(float(shortest)) > limit:
        e = point - 1
        tail = "." + digits[1:] if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{tail}e{'-' if e < 0 else '+'}{abs(e):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point < len(digits):
        return f"{sign}{digits[:point]}.{digits[point:]}"
    return f"{sign}{digits}{'0' * (point - len(digits))}.0"


def _json_number(description: str) -> Number:
    return Number(description[:-2] if description.endswith(".0") else description)


def format_double(value: float) -> Number | None:
    """A Swift ``Double`` as ``JSONEncoder`` writes it (None for NaN or infinity)."""
    value = float(value)
    if not np.isfinite(value):
        return None
    return _json_number(_swift_description(repr(value), DOUBLE_DECIMAL_LIMIT))


def _float32_text(text: str, finite: bool, plain: bool) -> Number | None:
    if not finite:
        return None
    if plain and "e" not in text:  # numpy's decimal form is Swift's from 1e-4 up to 2^24
        return Number(text[:-2] if text.endswith(".0") else text)
    return _json_number(_swift_description(text, FLOAT32_DECIMAL_LIMIT))


def format_float32(values: Any) -> list[Number | None]:
    """Swift ``Float`` values (any shape, flattened) as ``JSONEncoder`` writes them (None for NaN/inf)."""
    arr = np.asarray(values, dtype=np.float32).reshape(-1)
    finite = np.isfinite(arr)
    with np.errstate(invalid="ignore"):
        plain = (finite & (np.abs(arr) <= FLOAT32_DECIMAL_LIMIT)).tolist()
    texts = arr.astype(str).tolist()  # numpy's shortest round-trip digits for float32
    return [_float32_text(t, f, p) for t, f, p in zip(texts, finite.tolist(), plain)]


class Float32(float):
    """A float to be written as a Swift ``Float`` (from its float32 value)."""


_ESCAPES = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _string(s: str) -> str:
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _encode(value: Any, indent: int, parts: list[str]) -> None:
    if value is None:
        parts.append("null")
    elif isinstance(value, Number):
        parts.append(str.__str__(value))
    elif isinstance(value, str):
        parts.append(_string(value))
    elif isinstance(value, (bool, np.bool_)):
        parts.append("true" if value else "false")
    elif isinstance(value, (int, np.integer)):
        parts.append(str(int(value)))
    elif isinstance(value, (Float32, np.float32)):
        parts.append(format_float32(value)[0] or "null")
    elif isinstance(value, (float, np.floating)):
        parts.append(format_double(value) or "null")
    elif isinstance(value, dict):
        _container("{", "}", sorted(value.items(), key=lambda kv: str(kv[0]).encode()), indent, parts, True)
    elif isinstance(value, (list, tuple)):
        _container("[", "]", value, indent, parts, False)
    else:
        raise TypeError(f"swift_json: cannot encode a {type(value).__name__}")


def _container(open_: str, close: str, items: Iterable[Any], indent: int, parts: list[str], keyed: bool) -> None:
    inner = "  " * (indent + 1)
    parts.append(open_ + "\n")
    first = True
    for item in items:
        if not first:
            parts.append(",\n")
        first = False
        parts.append(inner)
        if keyed:
            parts.append(_string(str(item[0])) + " : ")
            item = item[1]
        _encode(item, indent + 1, parts)
    parts.append("\n" + "  " * indent + close)


def dumps(value: Any) -> str:
    """``value`` (dicts, lists, str, int, float, :class:`Float32`, :class:`Number`, None) as Swift's pretty,
    key-sorted JSON text."""
    parts: list[str] = []
    _encode(value, 0, parts)
    return "".join(parts)
