"""A threshold oblivious PRF for voters' pseudonyms (issue 19, item 1): 2HashDH over
ristretto255, its key shared k-of-n among the guardians.

Written from Jarecki, Kiayias, Krawczyk and Xu, "TOPPSS: Cost-minimal Password-Protected
Secret Sharing based on Threshold OPRF" (ACNS 2017) and "Highly-Efficient and Composable
Password-Protected Secret Sharing" (EuroS&P 2016), and RFC 9497 (OPRFs using prime-order
groups) for the blinding and the batched DLEQ proof; not from code. Every hash input is written
down here:

- H1(code) = ristretto255_from_hash(SHA-512(encode_items("oprf-h2g", [election, code]))):
  libsodium's Elligator map of 64 uniform bytes onto the group; `election` is the election's
  base hash, so a pseudonym of one election says nothing in another.
- The pseudonym of a national code: P(code) = H1(code)^k, k the PRF key. k is a key of its own
  (its own ceremony), never the election key: an evaluation with the election key would let
  anyone ask the guardians to decrypt (raise a ciphertext's α to the key).
- Blinded evaluation: the asking party draws r, sends B = H1(code)^r; guardian i answers
  Eᵢ = B^kᵢ with a proof that log_g Kᵢ = log_B Eᵢ (Kᵢ = g^kᵢ its public share); any quorum's
  answers combine by Lagrange coefficients in the exponent, Π Eᵢ^λᵢ = B^k, and the asker
  unblinds: (B^k)^(1/r) = P(code). The guardian sees B, a uniformly random element: no code.
- The batched proof for answers E_1 … E_m to B_1 … B_m (RFC 9497 §2.2.1's idea): weights
  z_j = int(SHA-256(encode_items("oprf-weight", [seed, j]))) mod q with
  seed = SHA-256(encode_items("oprf-batch", [context, group, Kᵢ, B_1…B_m, E_1…E_m])); then one
  Chaum–Pedersen proof that log_g Kᵢ = log_M Z for M = Π B_j^z_j and Z = Π E_j^z_j, its
  challenge c = H("oprf-evaluation", context, group, Kᵢ, M, Z, g^w, M^w). A single wrong Eⱼ
  makes Z ≠ M^kᵢ except with probability about 1/q over the weights, which the prover cannot
  choose (they hash every answer).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import rbcl

from verivote.crypto.group import Group
from verivote.crypto.hashing import Item, challenge, encode_items, hash_items
from verivote.crypto.threshold import QuorumError, lagrange_coefficient


class OprfError(ValueError):
    """An evaluation that cannot be made or checked."""


def _ristretto(group: Group[bytes]) -> None:
    if group.name != "ristretto255":
        raise OprfError(f"the pseudonyms are defined over ristretto255, not {group.name}")


def key_context(base_hash: bytes) -> bytes:
    """The context of the pseudonym key's ceremony and of H1: SHA-256(encode_items(
    "pseudonym-key", [base hash])). Every proof of that ceremony is bound to it, so no message
    of the election key's ceremony (bound to the base hash itself) can be replayed into it; a
    runoff that reuses round 1's pseudonym key reuses its context, so a voter's pseudonym is
    the same in both rounds."""
    return hash_items("pseudonym-key", base_hash)


def hash_to_group(group: Group[bytes], election: bytes, code: str) -> bytes:
    """H1(code) (module docstring)."""
    _ristretto(group)
    digest = hashlib.sha512(encode_items("oprf-h2g", [election, code])).digest()
    point: bytes = rbcl.crypto_core_ristretto255_from_hash(digest)
    return point


def pseudonym(group: Group[bytes], key: int, election: bytes, code: str) -> bytes:
    """P(code) = H1(code)^k, with the whole key (tests, and the known-answer example)."""
    return group.pow(hash_to_group(group, election, code), key)


def blind(
    group: Group[bytes], election: bytes, code: str, r: int | None = None
) -> tuple[int, bytes]:
    """(r, B = H1(code)^r): what the asking party sends, and the factor it keeps."""
    r = r if r is not None else group.random_scalar()
    if not 0 < r < group.q:
        raise OprfError("a blinding factor is a nonzero scalar")
    return r, group.pow(hash_to_group(group, election, code), r)


def unblind(group: Group[bytes], r: int, evaluated: bytes) -> bytes:
    """(B^k)^(1/r) = H1(code)^k."""
    return group.pow(evaluated, pow(r, -1, group.q))


@dataclass(frozen=True, slots=True)
class BatchProof:
    """The Chaum–Pedersen proof of a batch of evaluations: challenge and response."""

    challenge: int
    response: int


def _weights(
    group: Group[bytes],
    public_share: bytes,
    blinded: Sequence[bytes],
    evaluated: Sequence[bytes],
    context: Sequence[Item],
) -> list[int]:
    enc = group.encode
    seed = hash_items("oprf-batch", context, group.name, enc(public_share),
                      [enc(b) for b in blinded], [enc(e) for e in evaluated])  # fmt: skip
    return [int.from_bytes(hash_items("oprf-weight", seed, j), "big") % group.q
            for j in range(len(blinded))]  # fmt: skip


def _combined(
    group: Group[bytes],
    public_share: bytes,
    blinded: Sequence[bytes],
    evaluated: Sequence[bytes],
    context: Sequence[Item],
) -> tuple[bytes, bytes]:
    if len(blinded) != len(evaluated) or not blinded:
        raise OprfError("a batch pairs each blinded element with one evaluation, at least one")
    z = _weights(group, public_share, blinded, evaluated, context)
    m = group.multi_pow(list(zip(blinded, z, strict=True)))
    big_z = group.multi_pow(list(zip(evaluated, z, strict=True)))
    return m, big_z


def _challenge(
    group: Group[bytes], public_share: bytes, m: bytes, z: bytes, a: bytes, b: bytes,
    context: Sequence[Item],
) -> int:  # fmt: skip
    enc = group.encode
    return challenge(group.q, "oprf-evaluation", context, group.name, enc(public_share),
                     enc(m), enc(z), enc(a), enc(b))  # fmt: skip


def evaluate(
    group: Group[bytes],
    secret_share: int,
    public_share: bytes,
    blinded: Sequence[bytes],
    context: Sequence[Item],
    nonce: int | None = None,
) -> tuple[list[bytes], BatchProof]:
    """A guardian's answers Eⱼ = Bⱼ^kᵢ to a batch, with one proof for them all. Each blinded
    element must be a valid element other than the identity (checked by decoding)."""
    _ristretto(group)
    for b in blinded:
        if group.decode(group.encode(b)) == group.identity():
            raise OprfError("a blinded element is the identity")
    evaluated = [group.pow(b, secret_share) for b in blinded]
    # Z = Π Eⱼ^zⱼ = (Π Bⱼ^zⱼ)^kᵢ = M^kᵢ for honest answers: one multiplication instead of a
    # pass over the batch (the verifier, who lacks kᵢ, computes both products).
    if len(blinded) != len(evaluated) or not blinded:
        raise OprfError("a batch pairs each blinded element with one evaluation, at least one")
    weights = _weights(group, public_share, blinded, evaluated, context)
    m = group.multi_pow(list(zip(blinded, weights, strict=True)))
    z = group.pow(m, secret_share)
    w = nonce if nonce is not None else group.random_scalar()
    c = _challenge(group, public_share, m, z, group.pow_g(w), group.pow(m, w), context)
    return evaluated, BatchProof(c, (w - c * secret_share) % group.q)


def verify_evaluation(
    group: Group[bytes],
    public_share: bytes,
    blinded: Sequence[bytes],
    evaluated: Sequence[bytes],
    proof: BatchProof,
    context: Sequence[Item],
) -> bool:
    """Whether `evaluated` are `blinded` raised to the key behind `public_share`."""
    if not (0 <= proof.challenge < group.q and 0 <= proof.response < group.q):
        return False
    try:
        m, z = _combined(group, public_share, blinded, evaluated, context)
    except OprfError:
        return False
    c, s = proof.challenge, proof.response
    a = group.mul(group.pow_g(s), group.pow(public_share, c))
    b = group.mul(group.pow(m, s), group.pow(z, c))
    return c == _challenge(group, public_share, m, z, a, b, context)


def combine(group: Group[bytes], quorum: int, answers: Mapping[int, bytes]) -> bytes:
    """B^k from at least `quorum` guardians' answers to one blinded element (index → Eᵢ),
    whose proofs were checked before."""
    present = sorted(answers)
    if len(present) < quorum:
        raise QuorumError(f"{len(present)} guardian(s) answered, the quorum is {quorum}")
    chosen = present[:quorum]
    return group.multi_pow([(answers[i], lagrange_coefficient(group.q, i, chosen)) for i in chosen])
