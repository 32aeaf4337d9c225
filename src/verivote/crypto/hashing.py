"""The one hash function of verivote's cryptography, with domain separation and an injective,
length-prefixed encoding of its inputs (DESIGN.md, "Hashing").

    H(tag, x₁, …, xₙ) = SHA-256( enc("verivote/1/" + tag) ‖ enc(x₁) ‖ … ‖ enc(xₙ) )

where each item is encoded with a one-byte type, a 64-bit big-endian length, then its bytes:

    bytes      0x01 ‖ u64(len) ‖ data
    str        0x02 ‖ u64(len) ‖ UTF-8
    int ≥ 0    0x03 ‖ u64(len) ‖ minimal big-endian bytes (0 is empty)
    sequence   0x04 ‖ u64(count) ‖ enc(item₁) ‖ … (nested sequences allowed)

The encoding is prefix-free, so two different lists of items never give the same input to
SHA-256. Group elements and scalars are hashed as bytes, in their canonical encodings, by the
callers. Fiat–Shamir challenges (`challenge`) use SHA-512 over the same encoding and reduce the
512-bit output mod q: for q ≥ 2^252 the bias is below 2^-250 (wide reduction).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

Item = bytes | str | int | Sequence["Item"]

PREFIX = "verivote/1/"
_BYTES, _STR, _INT, _SEQ = b"\x01", b"\x02", b"\x03", b"\x04"


def _encode(item: Item, out: list[bytes]) -> None:
    # `type(...) is` first: this runs for every element of every proof, and exact-type checks
    # are the cheapest test for the overwhelmingly common case (bytes).
    kind = type(item)
    if kind is bytes:
        out.append(_BYTES + len(item).to_bytes(8, "big"))  # type: ignore[arg-type]
        out.append(item)  # type: ignore[arg-type]
    elif kind is str:
        raw = item.encode("utf-8")  # type: ignore[union-attr]
        out.append(_STR + len(raw).to_bytes(8, "big"))
        out.append(raw)
    elif kind is int:
        n: int = item  # type: ignore[assignment]
        if n < 0:
            raise ValueError("negative integers are not hashed; reduce them first")
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        out.append(_INT + len(raw).to_bytes(8, "big"))
        out.append(raw)
    elif kind is list or kind is tuple:
        seq: Sequence[Item] = item  # type: ignore[assignment]
        out.append(_SEQ + len(seq).to_bytes(8, "big"))
        for sub in seq:
            _encode(sub, out)
    elif isinstance(item, bytearray | memoryview):
        _encode(bytes(item), out)
    elif isinstance(item, bool):
        raise TypeError("booleans are not hashed implicitly; encode them as 0 or 1")
    elif isinstance(item, int):
        _encode(int(item), out)
    elif isinstance(item, str):
        _encode(str(item), out)
    elif isinstance(item, Sequence):
        _encode(list(item), out)
    else:
        raise TypeError(f"cannot hash an item of type {type(item).__name__}")


def encode_items(tag: str, items: Sequence[Item]) -> bytes:
    """The exact bytes that `hash_items` and `challenge` feed to the hash function."""
    out: list[bytes] = []
    _encode(PREFIX + tag, out)
    for item in items:
        _encode(item, out)
    return b"".join(out)


class ItemHasher:
    """`hash_items` fed piece by piece, for statements too large to hold as one list of items
    (a shuffle's rows): `add(x)` appends enc(x), `open_sequence(n)` the header of a sequence of
    n items that the next n `add`s then form. The digest equals `hash_items(tag, …)` of the
    same items."""

    def __init__(self, tag: str) -> None:
        self._sha = hashlib.sha256(encode_items(tag, ()))

    def add(self, item: Item) -> None:
        out: list[bytes] = []
        _encode(item, out)
        self._sha.update(b"".join(out))

    def open_sequence(self, count: int) -> None:
        self._sha.update(sequence_header(count))

    def add_encoded(self, data: bytes) -> None:
        """Append bytes that are already enc(…) of items, built with `bytes_header` and
        `sequence_header`: for millions of items of one shape, built with bytes joins
        rather than item by item."""
        self._sha.update(data)

    def digest(self) -> bytes:
        return self._sha.digest()


def bytes_header(length: int) -> bytes:
    """What enc(x) puts before the bytes x of this length."""
    return _BYTES + length.to_bytes(8, "big")


def sequence_header(count: int) -> bytes:
    """What enc(s) puts before the encodings of a sequence s of `count` items."""
    return _SEQ + count.to_bytes(8, "big")


def hash_items(tag: str, *items: Item) -> bytes:
    """SHA-256 of the tagged, length-prefixed items: 32 bytes."""
    return hashlib.sha256(encode_items(tag, items)).digest()


def challenge(q: int, tag: str, *items: Item) -> int:
    """A Fiat–Shamir challenge in [0, q): SHA-512 of the tagged items, reduced mod q."""
    return int.from_bytes(hashlib.sha512(encode_items(tag, items)).digest(), "big") % q


def election_base_hash(manifest_canonical: bytes) -> bytes:
    """The election base hash: H("manifest", the canonical JSON of the manifest entry)."""
    return hash_items("manifest", manifest_canonical)
