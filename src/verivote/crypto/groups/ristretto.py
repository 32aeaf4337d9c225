"""ristretto255 (RFC 9496) through libsodium, from the `rbcl` wheel.

libsodium is the careful core; `rbcl` ships it with its ristretto255 functions as a manylinux
wheel (PyNaCl's bundled libsodium leaves them out). Elements are kept as their canonical
32-byte encodings, which is what libsodium's API takes and returns, so an element is its own
encoding and equality is byte equality. The identity is the all-zero encoding.

Scalars cross into libsodium as 32-byte little-endian numbers below the group order.
"""

from __future__ import annotations

import rbcl

from verivote.crypto.group import Group, InvalidElement

L = 2**252 + 27742317777372353535851937790883648493
"""The order of the ristretto255 group (RFC 9496, section 4)."""

IDENTITY = bytes(32)
_base = rbcl.crypto_scalarmult_ristretto255_base_allow_scalar_zero
_mult = rbcl.crypto_scalarmult_ristretto255_allow_scalar_zero
_add = rbcl.crypto_core_ristretto255_add
_sub = rbcl.crypto_core_ristretto255_sub
_valid = rbcl.crypto_core_ristretto255_is_valid_point


class Ristretto255(Group[bytes]):
    """The ristretto255 prime-order group (the default group of verivote)."""

    name = "ristretto255"
    q = L
    element_bytes = 32
    scalar_bytes = 32

    def __init__(self) -> None:
        self._g = bytes(_base((1).to_bytes(32, "little")))

    def generator(self) -> bytes:
        return self._g

    def identity(self) -> bytes:
        return IDENTITY

    def encode(self, e: bytes) -> bytes:
        return e

    def decode(self, data: bytes) -> bytes:
        if not isinstance(data, bytes | bytearray) or len(data) != 32:
            raise InvalidElement("a ristretto255 element is exactly 32 bytes")
        data = bytes(data)
        if not _valid(data):
            raise InvalidElement("not a canonical ristretto255 encoding")
        return data

    def mul(self, a: bytes, b: bytes) -> bytes:
        return bytes(_add(a, b))

    def div(self, a: bytes, b: bytes) -> bytes:
        return bytes(_sub(a, b))

    def pow(self, a: bytes, k: int) -> bytes:
        return bytes(_mult((k % L).to_bytes(32, "little"), a))

    def pow_g(self, k: int) -> bytes:
        return bytes(_base((k % L).to_bytes(32, "little")))
