"""Exponential ElGamal under a joint election key (DESIGN.md, "Cryptography").

The encoding is ElectionGuard 2.0's (Design Specification 2.0, section 3.3): a value m with
nonce r encrypts to

    (α, β) = (g^r, K^(m+r))

so that encryption needs only fixed-base exponentiations (in g and in the election key K), and
the product of ciphertexts encrypts the sum of the values. Decryption with the secret s of
K = g^s gives β / α^s = K^m; m is then a small discrete log to the base K
(`verivote.crypto.dlog`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic

from verivote.crypto.group import E, Group


@dataclass(frozen=True, slots=True)
class Ciphertext(Generic[E]):
    """An ElGamal pair (α, β)."""

    alpha: E
    beta: E


@dataclass(frozen=True)
class ElectionKey(Generic[E]):
    """The joint public key K of an election, with its fixed-base exponentiation."""

    group: Group[E]
    key: E
    pow_k: Callable[[int], E] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pow_k", self.group.fixed_base(self.key))

    def encoded(self) -> bytes:
        return self.group.encode(self.key)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (ElectionKey, (self.group, self.key))


def encrypt(ek: ElectionKey[E], m: int, r: int) -> Ciphertext[E]:
    """Encrypt the small non-negative integer `m` with nonce `r`."""
    return Ciphertext(ek.group.pow_g(r), ek.pow_k(m + r))


def encrypt_element(ek: ElectionKey[E], element: E, r: int) -> Ciphertext[E]:
    """Plain ElGamal of a group element (not of g^m): (g^r, element·K^r). Decryption gives
    the element itself; used for the guardians' lot contributions (issue 14, item 4)."""
    return Ciphertext(ek.group.pow_g(r), ek.group.mul(element, ek.pow_k(r)))


def add(group: Group[E], ciphertexts: Iterable[Ciphertext[E]]) -> Ciphertext[E]:
    """The homomorphic sum: a ciphertext of the sum of the values (nonces add too)."""
    alpha, beta = group.identity(), group.identity()
    for c in ciphertexts:
        alpha = group.mul(alpha, c.alpha)
        beta = group.mul(beta, c.beta)
    return Ciphertext(alpha, beta)


def decrypt_to_power(group: Group[E], secret: int, c: Ciphertext[E]) -> E:
    """K^m, from the whole secret key s (tests and single-guardian elections only)."""
    return group.div(c.beta, group.pow(c.alpha, secret))


def reencrypt(ek: ElectionKey[E], c: Ciphertext[E], r: int) -> Ciphertext[E]:
    """The same value under fresh randomness: (α g^r, β K^r)."""
    g = ek.group
    return Ciphertext(g.mul(c.alpha, g.pow_g(r)), g.mul(c.beta, ek.pow_k(r)))


def scale(group: Group[E], c: Ciphertext[E], k: int) -> Ciphertext[E]:
    """c^k: a ciphertext of k·m with nonce k·r."""
    return Ciphertext(group.pow(c.alpha, k), group.pow(c.beta, k))


def shift(ek: ElectionKey[E], c: Ciphertext[E], offset: int) -> Ciphertext[E]:
    """A ciphertext of m − offset with the same nonce: (α, β / K^offset)."""
    return Ciphertext(c.alpha, ek.group.div(c.beta, ek.pow_k(offset)))
