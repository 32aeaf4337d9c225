"""One small interface over the prime-order groups verivote encrypts in (DESIGN.md,
"Cryptography": `ristretto255` and `eg4096`).

Notation is multiplicative, as in the ElGamal and ElectionGuard literature: `mul` is the group
operation, `pow(a, k)` is a^k, `pow_g(k)` is g^k. Scalars are Python ints, taken mod q.
Elements are opaque, hashable and comparable with `==` (the 32-byte encoding for ristretto255,
a gmpy2 integer for eg4096); they only ever come from the group's own operations or from
`decode`, which rejects anything that is not a valid element of the prime-order group.

A group object pickles as its name, so process pools re-create it (and its fixed-base tables)
on the other side instead of shipping them.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

E = TypeVar("E")


class InvalidElement(ValueError):
    """Bytes (or a number) that do not encode an element of the group's prime-order subgroup."""


class Group(ABC, Generic[E]):
    """A cyclic group of prime order `q` with generator `g`."""

    name: str
    q: int
    element_bytes: int
    """Length of an encoded element."""
    scalar_bytes: int
    """Length of an encoded scalar (big-endian, fixed width)."""

    # --- elements --------------------------------------------------------------------
    @abstractmethod
    def generator(self) -> E: ...

    @abstractmethod
    def identity(self) -> E: ...

    @abstractmethod
    def encode(self, e: E) -> bytes:
        """The canonical encoding of `e`, `element_bytes` long."""

    @abstractmethod
    def decode(self, data: bytes) -> E:
        """The element `data` encodes; raises InvalidElement for anything else."""

    # --- operations ------------------------------------------------------------------
    @abstractmethod
    def mul(self, a: E, b: E) -> E: ...

    @abstractmethod
    def div(self, a: E, b: E) -> E:
        """a · b⁻¹."""

    @abstractmethod
    def pow(self, a: E, k: int) -> E:
        """a^k for any integer k (reduced mod q)."""

    @abstractmethod
    def pow_g(self, k: int) -> E:
        """g^k, with whatever fixed-base speed-up the backend has."""

    def fixed_base(self, base: E) -> Callable[[int], E]:
        """A function k ↦ base^k for a base used many times (the election key).

        Backends with precomputed tables override this; the default is plain `pow`.
        """
        return lambda k: self.pow(base, k)

    def multi_pow(self, pairs: Sequence[tuple[E, int]]) -> E:
        """∏ aᵢ^kᵢ. Backends with a faster multi-exponentiation override this."""
        acc = self.identity()
        for a, k in pairs:
            acc = self.mul(acc, self.pow(a, k))
        return acc

    def prod(self, elements: Sequence[E]) -> E:
        """∏ aᵢ (the identity for an empty sequence)."""
        acc = self.identity()
        for a in elements:
            acc = self.mul(acc, a)
        return acc

    # --- scalars ---------------------------------------------------------------------
    def random_scalar(self) -> int:
        """A random scalar in [0, q) from the operating system's CSPRNG.

        64 random bytes reduced mod q: the bias is below 2^-250 for q ≥ 2^252, and it costs
        one system call (nothing is buffered, so a forked process never repeats a nonce).
        """
        return int.from_bytes(secrets.token_bytes(64), "big") % self.q

    def encode_scalar(self, k: int) -> bytes:
        """Big-endian, `scalar_bytes` long; k must already be in [0, q)."""
        if not 0 <= k < self.q:
            raise ValueError("scalar out of range [0, q)")
        return k.to_bytes(self.scalar_bytes, "big")

    def decode_scalar(self, data: bytes) -> int:
        """The scalar `data` encodes; anything not in [0, q) is an error, never reduced."""
        if len(data) != self.scalar_bytes:
            raise ValueError(f"a {self.name} scalar is {self.scalar_bytes} bytes, got {len(data)}")
        k = int.from_bytes(data, "big")
        if k >= self.q:
            raise ValueError(f"scalar is not below the {self.name} group order")
        return k

    def __reduce__(self) -> tuple[Callable[[str], Group[Any]], tuple[str]]:
        from verivote.crypto.groups import get_group

        return (get_group, (self.name,))

    def __repr__(self) -> str:
        return f"<group {self.name}>"
