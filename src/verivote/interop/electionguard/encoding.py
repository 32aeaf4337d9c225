"""Decoding the numbers of an ElectionGuard 2.0 record, every group element validated.

The record is egk's JSON (the layout of the ElectionGuard 2.1 serialization draft over the
2.0.0 cryptography): big integers are base64 of big-endian bytes (512 for elements of Z_p,
32 for scalars of Z_q and for hashes); `constants.json` uses lower-case hex and a ballot's
`code_baux` upper-case hex.

Spec 2.0.0 §3.1.1 and Verifications 2.A, 5.A, 6.A, 9, 12: every published element must lie in
Z_p^r, the order-q subgroup of Z_p^*, i.e. 1 ≤ x < p and x^q ≡ 1 (mod p); a range check alone
would let the elements of order 2, r′, … through (`verivote.crypto.groups.eg4096`). Scalars
(challenges, responses) must lie in Z_q = [0, q): they are never reduced.

Checking x^q for every element costs 1.2 ms each, so elements are collected while a file is
read (`Elements`) and tested together with eg4096's sound batch test; only a batch that fails
is tested element by element, to name the bad ones. Anything malformed raises `FormatError`
with the place in the file, which the checks turn into a failure in the report.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from gmpy2 import mpz

from verivote.crypto.groups.eg4096 import EG4096, P, Q, batch_is_member

GROUP = EG4096()
"""The ElectionGuard 2.0 standard group (spec §3.1.1), as verivote's `eg4096` backend."""

ELEMENT_BYTES = 512
SCALAR_BYTES = 32
HASH_BYTES = 32

Doc = Mapping[str, Any]


class FormatError(ValueError):
    """A value of the record is missing, of the wrong type, or not a valid encoding."""


def where(path: str, key: str | int) -> str:
    """The place `path` › `key` for messages: `contests[2].selections[0].proof`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def obj(value: Any, path: str) -> Doc:
    if not isinstance(value, Mapping):
        raise FormatError(f"{path or 'the file'}: expected an object")
    return value


def field(doc: Doc, key: str, path: str) -> Any:
    if key not in doc:
        raise FormatError(f"{where(path, key)}: missing")
    return doc[key]


def text(doc: Doc, key: str, path: str) -> str:
    value = field(doc, key, path)
    if not isinstance(value, str):
        raise FormatError(f"{where(path, key)}: expected a string")
    return value


def integer(doc: Doc, key: str, path: str) -> int:
    value = field(doc, key, path)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(f"{where(path, key)}: expected an integer")
    return value


def index(doc: Doc, key: str, path: str, least: int = 0) -> int:
    """An integer hashed as b(i, 4) (an index, n, k): it must fit, least ≤ i < 2^32."""
    value = integer(doc, key, path)
    if not least <= value < 2**32:
        raise FormatError(f"{where(path, key)}: {value} is outside [{least}, 2^32)")
    return value


def boolean(doc: Doc, key: str, path: str) -> bool:
    value = field(doc, key, path)
    if not isinstance(value, bool):
        raise FormatError(f"{where(path, key)}: expected true or false")
    return value


def array(doc: Doc, key: str, path: str) -> list[Any]:
    value = field(doc, key, path)
    if not isinstance(value, list):
        raise FormatError(f"{where(path, key)}: expected an array")
    return value


def b64(doc: Doc, key: str, path: str, max_bytes: int | None = None) -> bytes:
    """Base64 bytes (standard alphabet, padding required: egk writes it)."""
    raw = text(doc, key, path)
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{where(path, key)}: not base64") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise FormatError(f"{where(path, key)}: {len(data)} bytes, at most {max_bytes} allowed")
    return data


def hash_value(doc: Doc, key: str, path: str) -> bytes:
    """A 32-byte hash value (spec 2.0.0 §5: H's outputs are 256-bit byte arrays)."""
    data = b64(doc, key, path)
    if len(data) != HASH_BYTES:
        raise FormatError(f"{where(path, key)}: a hash is {HASH_BYTES} bytes, not {len(data)}")
    return data


def scalar(doc: Doc, key: str, path: str) -> int:
    """An element of Z_q: at most 32 bytes, and below q (never reduced)."""
    value = int.from_bytes(b64(doc, key, path, SCALAR_BYTES), "big")
    if value >= Q:
        raise FormatError(f"{where(path, key)}: not in Z_q (≥ q)")
    return value


def hex_bytes(doc: Doc, key: str, path: str) -> bytes:
    raw = text(doc, key, path)
    try:
        return bytes.fromhex(raw)
    except ValueError:
        raise FormatError(f"{where(path, key)}: not hexadecimal") from None


def hex_integer(doc: Doc, key: str, path: str) -> int:
    raw = text(doc, key, path)
    try:
        return int(raw, 16)
    except ValueError:
        raise FormatError(f"{where(path, key)}: not a hexadecimal integer") from None


class Elements:
    """The group elements read from one part of a record, each with its place, for one batch
    membership test (`invalid`)."""

    def __init__(self) -> None:
        self._values: list[Any] = []
        self._places: list[str] = []

    def __len__(self) -> int:
        return len(self._values)

    def element(self, doc: Doc, key: str, path: str) -> Any:
        """The element at `key`: base64 of at most 512 bytes with 1 ≤ x < p (checked now);
        its subgroup membership is checked with the rest by `invalid`."""
        value = mpz(int.from_bytes(b64(doc, key, path, ELEMENT_BYTES), "big"))
        if not 1 <= value < P:
            raise FormatError(f"{where(path, key)}: not in Z_p^* (outside [1, p))")
        self._values.append(value)
        self._places.append(where(path, key))
        return value

    def invalid(self) -> list[str]:
        """The places of the elements outside the order-q subgroup (none, almost always:
        then one batch test decides it for all)."""
        if batch_is_member(self._values):
            return []
        return [
            place
            for value, place in zip(self._values, self._places, strict=True)
            if not GROUP.is_member(value)
        ]


def element_bytes(x: Any) -> bytes:
    """b(x, 512): an element of Z_p as 512 big-endian bytes (spec 2.0.0 §5.1)."""
    return int(x).to_bytes(ELEMENT_BYTES, "big")


def int4(x: int) -> bytes:
    """b(x, 4): a small integer (an index, a count) as 4 big-endian bytes (spec 2.0.0 §5.1)."""
    return int(x).to_bytes(4, "big")
