"""Parsing JSON that a client sent: what the standard library accepts, minus what breaks later.

``json.loads`` takes text that this service cannot store or use: nesting deep
enough to raise ``RecursionError`` (a 500, not a ``ValueError``), NUL
characters (PostgreSQL text columns refuse them), ``NaN``/``Infinity`` and
overflowing numbers (PostgreSQL's ``json`` type refuses them), and bytes that
are not UTF-8 (RFC 8259 §8.1). :func:`loads` refuses all of them with a
``ValueError`` whose message says what and where, so that every caller's
"malformed JSON" path (a 400) covers them. Used for request bodies (through
``api.http.StrictRequest``) and for JSON texts nested in them (a manifest
given as a string).
"""

from __future__ import annotations

import json
import math
from typing import Any

#: Deeper documents are refused. Seed manifests and job-type configurations nest about 6
#: levels; parameter values given as JSON objects get the rest.
MAX_DEPTH = 64

#: Integer literals longer than this are refused (CPython refuses beyond 4300 digits anyway,
#: with a message about ``sys.set_int_max_str_digits`` that means nothing to a client).
MAX_INT_DIGITS = 1000


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no {name})")


def _where(path: tuple[str | int, ...]) -> str:
    """``job.interface.inputs[0].name`` (the style of the registry's problem names)."""
    text, shown = "", path[:8]
    for part in shown:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    if len(path) > len(shown):
        text += "..."
    return text or "(the document)"


def check(value: Any) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` and NUL in any key or string.

    Iterative, so that it works on any depth ``json.loads`` returned.
    """
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(value, 1, ())]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, dict | list) and depth > MAX_DEPTH:
            raise ValueError(f"nested more than {MAX_DEPTH} levels deep (at {_where(path)})")
        if isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    raise ValueError(f"a key contains a NUL character (at {_where(path)})")
                stack.append((child, depth + 1, (*path, key)))
        elif isinstance(item, list):
            stack.extend((child, depth + 1, (*path, index)) for index, child in enumerate(item))
        elif isinstance(item, str) and "\x00" in item:
            raise ValueError(f"{_where(path)}: contains a NUL character")


def loads(data: str | bytes | bytearray) -> Any:
    """Parse a JSON text, refusing what :func:`check` refuses and invalid UTF-8.

    Raises
    ------
    ValueError
        A one-line message naming the problem (and the place, when it has one).
    """
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset "
                             f"{exc.start})") from None
    else:
        text = data
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep") from None
    check(value)
    return value
