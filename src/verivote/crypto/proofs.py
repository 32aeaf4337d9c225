"""Zero-knowledge proofs, each a prover and a verifier, made non-interactive by Fiat–Shamir
over the *full* statement (DESIGN.md, "Cryptography"; the weak Fiat–Shamir of Helios hashed the
commitments only, which lets a cheating prover pick the statement after the challenge).

Every challenge is `hashing.challenge(q, tag, context, group, statement…, commitments…)` where
`context` is the caller's identification of the statement: the election base hash and, for
ballots, the contest and selection ids. All proofs are in challenge–response form, as in
ElectionGuard 2.0: the verifier recomputes the commitments from the responses. Range proofs
also carry their commitments (aⱼ, bⱼ), so that many of them can be checked in one batch
(`verivote.crypto.batch`); a proof whose carried commitments differ from the recomputed
ones is rejected by both verifiers, so they always agree.

Nonces come from `nonce()`, by default `Group.random_scalar` (the OS CSPRNG); tests pass a
seeded `Nonces` to get known-answer vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from verivote.crypto.elgamal import Ciphertext, ElectionKey
from verivote.crypto.group import E, Group
from verivote.crypto.hashing import Item, challenge

NonceSource = Callable[[], int]


class Nonces:
    """Deterministic scalars SHA-512(seed ‖ counter) mod q: for tests and known answers only."""

    def __init__(self, group: Group[Any], seed: bytes) -> None:
        self.q = group.q
        self.seed = seed
        self.counter = 0

    def __call__(self) -> int:
        self.counter += 1
        data = self.seed + self.counter.to_bytes(8, "big")
        return int.from_bytes(hashlib.sha512(data).digest(), "big") % self.q


# --- Schnorr proof of knowledge ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SchnorrProof:
    """Knowledge of s with K = g^s: challenge c and response v = u − c·s."""

    challenge: int
    response: int


def prove_schnorr(
    group: Group[E], secret: int, public: E, context: Sequence[Item], nonce: NonceSource | None
) -> SchnorrProof:
    u = (nonce or group.random_scalar)()
    h = group.pow_g(u)
    c = challenge(group.q, "schnorr", context, group.name, group.encode(public), group.encode(h))
    return SchnorrProof(c, (u - c * secret) % group.q)


def verify_schnorr(
    group: Group[E], public: E, proof: SchnorrProof, context: Sequence[Item]
) -> bool:
    if not (0 <= proof.challenge < group.q and 0 <= proof.response < group.q):
        return False
    h = group.mul(group.pow_g(proof.response), group.pow(public, proof.challenge))
    c = challenge(group.q, "schnorr", context, group.name, group.encode(public), group.encode(h))
    return c == proof.challenge


# --- range proof: a ciphertext holds a value in 0..L ----------------------------------


@dataclass(frozen=True, slots=True)
class RangeProof:
    """A disjunctive Chaum–Pedersen proof (Cramer–Damgård–Schoenmakers) that (α, β) encrypts
    one of 0, 1, …, L: one (cⱼ, vⱼ) per possible value j, the cⱼ summing to the challenge.
    With L = 1 it is the 0/1 proof of a selection; with L = 0 a plain Chaum–Pedersen proof
    that the value is 0."""

    challenges: tuple[int, ...]
    responses: tuple[int, ...]
    commitments: tuple[tuple[bytes, bytes], ...] = ()
    """The encoded (aⱼ, bⱼ), carried for batch verification (empty if not carried)."""

    @property
    def limit(self) -> int:
        return len(self.challenges) - 1


def range_challenge(
    group: Group[Any],
    key: bytes,
    alpha: bytes,
    beta: bytes,
    limit: int,
    commitments: Sequence[tuple[bytes, bytes]],
    context: Sequence[Item],
) -> int:
    """The range proof's challenge over the encoded statement and commitments."""
    return challenge(
        group.q,
        "range",
        context,
        group.name,
        key,
        alpha,
        beta,
        limit,
        [[a, b] for a, b in commitments],
    )


def prove_range(
    ek: ElectionKey[E],
    ct: Ciphertext[E],
    value: int,
    nonce_r: int,
    limit: int,
    context: Sequence[Item],
    nonce: NonceSource | None = None,
) -> RangeProof:
    """Prove that `ct` = (g^r, K^(value+r)) holds `value` in 0..`limit`.

    For each j ≠ value the branch is simulated with the nonce known to the prover, so that
    it needs one exponentiation in g and one in K (ElectionGuard 2.0, section 3.3.5):
    aⱼ = g^(vⱼ + r·cⱼ) and bⱼ = K^(vⱼ + (value − j + r)·cⱼ).
    """
    g = ek.group
    q = g.q
    if not 0 <= value <= limit:
        raise ValueError(f"value {value} is outside 0..{limit}")
    rand = nonce or g.random_scalar
    u = rand()
    cs = [0] * (limit + 1)
    vs = [0] * (limit + 1)
    commitments: list[tuple[E, E]] = []
    for j in range(limit + 1):
        if j == value:
            commitments.append((g.pow_g(u), ek.pow_k(u)))
            continue
        cs[j], vs[j] = rand(), rand()
        commitments.append(
            (
                g.pow_g(vs[j] + nonce_r * cs[j]),
                ek.pow_k(vs[j] + (value - j + nonce_r) * cs[j]),
            )
        )
    carried = tuple((g.encode(a), g.encode(b)) for a, b in commitments)
    c = range_challenge(
        g, ek.encoded(), g.encode(ct.alpha), g.encode(ct.beta), limit, carried, context
    )
    cs[value] = (c - sum(cs)) % q
    vs[value] = (u - cs[value] * nonce_r) % q
    return RangeProof(tuple(cs), tuple(vs), carried)


def verify_range(
    ek: ElectionKey[E], ct: Ciphertext[E], proof: RangeProof, context: Sequence[Item]
) -> bool:
    """Check a range proof: recompute aⱼ = g^vⱼ·α^cⱼ and bⱼ = K^(vⱼ − j·cⱼ)·β^cⱼ and the
    challenge over the whole statement. The ciphertext's elements must already be validated
    group elements (they are, when they come from `Group.decode`)."""
    g = ek.group
    q = g.q
    n = len(proof.challenges)
    if n < 1 or len(proof.responses) != n:
        return False
    if not all(0 <= x < q for x in (*proof.challenges, *proof.responses)):
        return False
    encoded = []
    for j, (cj, vj) in enumerate(zip(proof.challenges, proof.responses, strict=True)):
        a = g.mul(g.pow_g(vj), g.pow(ct.alpha, cj))
        b = g.mul(ek.pow_k(vj - j * cj), g.pow(ct.beta, cj))
        encoded.append((g.encode(a), g.encode(b)))
    if proof.commitments and list(proof.commitments) != encoded:
        return False
    c = range_challenge(
        g, ek.encoded(), g.encode(ct.alpha), g.encode(ct.beta), n - 1, encoded, context
    )
    return c == sum(proof.challenges) % q


# --- Chaum–Pedersen proof of a partial decryption -------------------------------------


@dataclass(frozen=True, slots=True)
class DecryptionProof:
    """Equality of discrete logs: Kᵢ = g^sᵢ and M = α^sᵢ, as challenge and response."""

    challenge: int
    response: int


def _decryption_challenge(
    group: Group[E],
    public_share: E,
    alpha: E,
    share: E,
    a: E,
    b: E,
    context: Sequence[Item],
) -> int:
    enc = group.encode
    return challenge(
        group.q,
        "decryption",
        context,
        group.name,
        enc(public_share),
        enc(alpha),
        enc(share),
        enc(a),
        enc(b),
    )


def prove_decryption(
    group: Group[E],
    secret_share: int,
    public_share: E,
    alpha: E,
    context: Sequence[Item],
    nonce: NonceSource | None = None,
) -> tuple[E, DecryptionProof]:
    """The partial decryption M = α^sᵢ with its proof."""
    share = group.pow(alpha, secret_share)
    u = (nonce or group.random_scalar)()
    a, b = group.pow_g(u), group.pow(alpha, u)
    c = _decryption_challenge(group, public_share, alpha, share, a, b, context)
    return share, DecryptionProof(c, (u - c * secret_share) % group.q)


def verify_decryption(
    group: Group[E],
    public_share: E,
    alpha: E,
    share: E,
    proof: DecryptionProof,
    context: Sequence[Item],
) -> bool:
    if not (0 <= proof.challenge < group.q and 0 <= proof.response < group.q):
        return False
    c, v = proof.challenge, proof.response
    a = group.mul(group.pow_g(v), group.pow(public_share, c))
    b = group.mul(group.pow(alpha, v), group.pow(share, c))
    return c == _decryption_challenge(group, public_share, alpha, share, a, b, context)
