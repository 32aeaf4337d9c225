"""Canonical JSON: the one byte encoding of every record entry (DESIGN.md, "The flow of one
election": every artefact is a leaf of the bulletin board; package `model` owns canonical JSON).

A value has exactly one encoding, so that the leaf hash of an entry is a function of its content:

- objects with their keys sorted by Unicode code point (the same order as their UTF-8 bytes),
  every key a string;
- no whitespace at all (separators "," and ":");
- UTF-8, with non-ASCII characters written as themselves; only '"', '\\' and the control
  characters U+0000–U+001F are escaped, in the short form where JSON has one (\\n, \\t …);
- numbers are integers only. Floats have several spellings and lose precision across
  languages, so they are refused; true and false are JSON booleans, never numbers.

A canonical encoding never contains a raw newline (U+000A is always escaped), which is what
lets the election record hold one entry per line.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["canonical_json", "parse_canonical"]


def _check(value: object, path: str) -> None:
    # json.dumps would quietly accept floats (and NaN), turn int keys into strings and write
    # tuples as arrays; only the first two change meaning, so those are refused here.
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, str):
        _check_text(value, path)
    elif isinstance(value, float):
        raise TypeError(f"{path}: floats have no canonical JSON form; use an integer or a string")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: object keys must be strings, not {type(key).__name__}")
            _check_text(key, path)
            _check(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
    else:
        raise TypeError(f"{path}: {type(value).__name__} has no JSON form")


def _check_text(text: str, path: str) -> None:
    # A lone surrogate (from a str built out of UTF-16 halves) has no UTF-8 encoding.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{path}: string is not valid Unicode ({exc.reason})") from None


def canonical_json(obj: object) -> bytes:
    """The canonical JSON bytes of `obj` (dicts, lists/tuples, str, int, bool, None).

    Raises TypeError for floats and other values without a canonical form, ValueError for
    strings that are not valid Unicode.
    """
    _check(obj, "$")
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def _no_floats(literal: str) -> Any:
    raise ValueError(f"non-integer number {literal!r} in canonical JSON")


def parse_canonical(data: bytes) -> dict[str, Any]:
    """Parse one record entry: a JSON object with a string "type" field, in canonical form.

    Raises ValueError unless `data` is exactly `canonical_json` of what it parses to; that is,
    any other spelling of the same value (spaces, key order, escapes, a duplicate key,
    trailing bytes) is refused, never normalised.
    """
    if not isinstance(data, bytes):
        raise TypeError(f"canonical JSON is parsed from bytes, not {type(data).__name__}")
    try:
        text = data.decode("utf-8")
        value = json.loads(text, parse_float=_no_floats, parse_constant=_no_floats)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError, int digit limits, _no_floats
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"an entry must be a JSON object, not {type(value).__name__}")
    if not isinstance(value.get("type"), str):
        raise ValueError('an entry must have a string "type" field')
    try:
        again = canonical_json(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"no canonical form: {exc}") from None
    if again != data:
        raise ValueError("JSON is not in canonical form")
    return value
