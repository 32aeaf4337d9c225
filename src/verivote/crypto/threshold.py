"""Threshold decryption: any k of the n guardians decrypt together (DESIGN.md, "Key ceremony").

Each present guardian ℓ gives the partial decryption Mₗ = α^sₗ with a Chaum–Pedersen proof
that it used the secret behind its public share Kₗ (`verivote.crypto.ceremony.public_share`).
With a set S of at least k guardians present, the Lagrange coefficients at 0

    wₗ = ∏_{m∈S, m≠ℓ} m / (m − ℓ)  (mod q)

combine them: ∏ Mₗ^wₗ = α^s, and β / α^s = K^t. A missing guardian needs nothing from anyone:
the coefficients depend only on who is present.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic

from verivote.crypto.elgamal import Ciphertext
from verivote.crypto.group import E, Group
from verivote.crypto.hashing import Item
from verivote.crypto.proofs import DecryptionProof, NonceSource, prove_decryption


class QuorumError(ValueError):
    """Fewer guardians took part than the quorum needs."""


@dataclass(frozen=True)
class PartialDecryption(Generic[E]):
    """Guardian `guardian`'s share Mₗ = α^sₗ of one decryption, with its proof."""

    guardian: int
    share: E
    proof: DecryptionProof


def lagrange_coefficient(q: int, guardian: int, present: Sequence[int]) -> int:
    """wₗ for `guardian` among the `present` guardians (1-based indices), mod q."""
    num, den = 1, 1
    for m in present:
        if m == guardian:
            continue
        num = num * m % q
        den = den * (m - guardian) % q
    return num * pow(den, -1, q) % q


def partial_decrypt(
    group: Group[E],
    guardian: int,
    secret_share: int,
    public_share: E,
    ciphertext: Ciphertext[E],
    context: Sequence[Item],
    nonce: NonceSource | None = None,
) -> PartialDecryption[E]:
    """Guardian `guardian`'s partial decryption of `ciphertext`, with its proof."""
    share, proof = prove_decryption(
        group, secret_share, public_share, ciphertext.alpha, context, nonce
    )
    return PartialDecryption(guardian, share, proof)


def combine(
    group: Group[E],
    quorum: int,
    ciphertext: Ciphertext[E],
    partials: Mapping[int, E],
) -> E:
    """K^t from the partial decryptions of at least `quorum` guardians (indices → Mₗ).

    The proofs must have been checked before (`verify_decryption`); this only combines.
    """
    present = sorted(partials)
    if len(present) < quorum:
        raise QuorumError(
            f"{len(present)} guardian(s) present, but the quorum is {quorum}: "
            "decryption needs at least that many"
        )
    present = present[:quorum] if len(present) > quorum else present
    q = group.q
    pairs: list[tuple[Any, int]] = [
        (partials[m], lagrange_coefficient(q, m, present)) for m in present
    ]
    return group.div(ciphertext.beta, group.multi_pow(pairs))
