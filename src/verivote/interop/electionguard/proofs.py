"""The zero-knowledge proofs of an ElectionGuard 2.0 record, checked as spec 2.0.0 §6 says.

ElectionGuard 2.0 publishes only each proof's challenges and responses: the verifier recomputes
the commitments from them and checks that hashing the full statement with those commitments
gives the challenge back. So every commitment costs real exponentiations (no batching is
possible: the hash needs each one exactly). Per part j of a range proof that is α^(c_j) and
β^(c_j), from chains of squarings shared by the parts (`powers.shared_powers`: 0.85 ms a
power for a 0/1 proof, against 1.2 ms for GMP's `powmod`), and g^(v_j) and K^(w_j) from
fixed-base tables (0.15 ms each), which `KeyPowers` holds for the election key K.

Each check returns None when the proof holds, or the reason it does not.
"""

from __future__ import annotations

from typing import Any

import gmpy2

from verivote.crypto.groups.eg4096 import P, Q
from verivote.interop.electionguard import hashing
from verivote.interop.electionguard.powers import FixedBase, pow_g, shared_powers
from verivote.interop.electionguard.record import (
    Ciphertext,
    CoefficientProof,
    HashedCiphertext,
    Proof,
    RangeProof,
)


class KeyPowers:
    """The election key K and k ↦ K^k from a small fixed-base table (`powers`), built on
    first use; pickled, it is only K (a worker process builds its own table)."""

    def __init__(self, key: Any) -> None:
        self.value = key
        self._table: FixedBase | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"value": self.value}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.value = state["value"]
        self._table = None

    def pow(self, k: int) -> Any:
        if self._table is None:
            self._table = FixedBase(self.value)
        return self._table(k)


def schnorr(h_p: bytes, i: int, j: int, proof: CoefficientProof) -> str | None:
    """Verification 2 (spec 2.0.0 §3.2.2): h_i,j = g^(v_i,j) · K_i,j^(c_i,j) and c_i,j =
    H(H_P; 0x10, i, j, K_i,j, h_i,j) (2.B: v in Z_q holds by decoding)."""
    h = pow_g(proof.response) * gmpy2.powmod(proof.commitment, proof.challenge, P) % P
    if hashing.guardian_challenge(h_p, i, j, proof.commitment, h) != proof.challenge:
        return "the Schnorr proof's challenge does not match"
    return None


def range_proof(
    h_e: bytes, key: KeyPowers, vote: Ciphertext, proof: RangeProof, limit: int
) -> str | None:
    """Verifications 5 and 6 (spec 2.0.0 §3.3.5): a proof that (α, β) encrypts one of
    0 … R. For j = 0 … R: a_j = g^(v_j) · α^(c_j), w_j = (v_j − j·c_j) mod q,
    b_j = K^(w_j) · β^(c_j); then c = H(H_E; 0x21, K, α, β, a_0, b_0, …, a_R, b_R) must equal
    c_0 + … + c_R mod q (5.B–5.D, 6.B–6.D: c_j, v_j in Z_q hold by decoding)."""
    if len(proof.challenges) != limit + 1:
        return (
            f"the range proof has {len(proof.challenges)} parts; the limit {limit} needs "
            f"{limit + 1}"
        )
    alpha, beta = vote.pad, vote.data
    challenges = list(proof.challenges)
    alpha_c = shared_powers(alpha, challenges)
    beta_c = shared_powers(beta, challenges)
    commitments = []
    for j, (c, v) in enumerate(zip(challenges, proof.responses, strict=True)):
        a = pow_g(v) * alpha_c[j] % P
        b = key.pow((v - j * c) % Q) * beta_c[j] % P
        commitments.append((a, b))
    expected = hashing.range_challenge(h_e, key.value, alpha, beta, commitments)
    if expected != sum(proof.challenges) % Q:
        return "the range proof's challenge does not match"
    return None


def decryption(h_e: bytes, key: KeyPowers, vote: Ciphertext, m: Any, proof: Proof) -> str | None:
    """Verifications 9 and 12 (spec 2.0.0 §3.6.3): M = A^s for the election secret s.
    a = g^v · K^c, b = A^v · M^c, and c = H(H_E; 0x30, K, A, B, a, b, M) (9.A: v in Z_q
    holds by decoding)."""
    c, v = proof.challenge, proof.response
    a = pow_g(v) * key.pow(c) % P
    b = gmpy2.powmod(vote.pad, v, P) * gmpy2.powmod(m, c, P) % P
    if hashing.decryption_challenge(h_e, key.value, vote.pad, vote.data, a, b, m) != c:
        return "the decryption proof's challenge does not match"
    return None


def contest_data_decryption(
    h_e: bytes, key: KeyPowers, data: HashedCiphertext, beta: Any, proof: Proof
) -> str | None:
    """Verification 14 (spec 2.0.0 §3.6.4): β = C0^s. a = g^v · K^c, b = C0^v · β^c, and
    c = H(H_E; 0x31, K, C0, C1, C2, a, b, β) (C1 in either accepted encoding, `hashing`)."""
    c, v = proof.challenge, proof.response
    a = pow_g(v) * key.pow(c) % P
    b = gmpy2.powmod(data.c0, v, P) * gmpy2.powmod(beta, c, P) % P
    challenges = hashing.contest_data_challenges(
        h_e, key.value, data.c0, data.c1, data.c2, a, b, beta
    )
    if c not in challenges:
        return "the contest data decryption proof's challenge does not match"
    return None
