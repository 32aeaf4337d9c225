"""Checking many selection proofs at once, from their wire form.

A verifier reads ballots as JSON (`verivote.crypto.wire`): every element must be shown to be
in the group and every range proof must hold. Done one by one in eg4096 that is six 4096-bit
exponentiations with 256-bit exponents per 0/1 selection, plus two for membership. Done in a
batch it is a few multi-exponentiations with 128-bit random weights, shared by every item:

1. Membership of every α and β in the order-q subgroup: `eg4096.batch_is_member` (its
   docstring has the soundness argument).
2. Every carried commitment aⱼ, bⱼ is in QR, the quadratic residues mod p, a group of order
   q·r′ whose two prime factors both exceed 2^128 (`eg4096.in_quadratic_residues`, one
   Legendre symbol each). They need no more: once the equations of step 4 hold, aⱼ and bⱼ
   are products of members, hence members.
3. Each proof's challenge: Σⱼ cⱼ = H(statement, the carried commitments) (cheap hashing).
4. Every equation aⱼ = g^vⱼ·α^cⱼ and bⱼ = K^(vⱼ − j·cⱼ)·β^cⱼ at once: with independent
   uniform weights δ, ε ∈ [0, 2^128) drawn after the items are fixed,

       ∏ aⱼ^δ · bⱼ^ε  =  g^(Σ δ·vⱼ) · K^(Σ ε·(vⱼ − j·cⱼ)) · ∏ α^(Σⱼ δ·cⱼ) · β^(Σⱼ ε·cⱼ).

   Every element is in QR (steps 1–2). If one equation is false, its discrepancy z ≠ 1 is
   in QR, so its order is q, r′ or q·r′, and z^δ takes the one value that balances the rest
   for at most one δ modulo a prime > 2^128: the batch passes with probability ≤ 2^-128.

If the batch fails, each item is checked on its own to say which ones are bad. Groups without
a fast multi-exponentiation (ristretto255, where libsodium has none) check one by one.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from verivote.crypto import wire
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.group import InvalidElement
from verivote.crypto.hashing import Item
from verivote.crypto.proofs import range_challenge, verify_range

EncodedSelection = tuple[wire.Json, wire.Json, Sequence[Item]]
"""(ciphertext JSON, range-proof JSON, context) as a ballot carries them."""

_WEIGHT_BITS = 128


def verify_one(ek: ElectionKey[Any], item: EncodedSelection) -> bool:
    """Decode (validating every element and scalar) and check one selection."""
    ct_doc, proof_doc, context = item
    group = ek.group
    try:
        ct = wire.ciphertext_from_json(group, ct_doc)
        proof = wire.range_proof_from_json(group, proof_doc)
    except (InvalidElement, ValueError, KeyError, TypeError):
        return False
    return verify_range(ek, ct, proof, context)


def verify_many(ek: ElectionKey[Any], items: Sequence[EncodedSelection]) -> list[bool]:
    """verify_one for every item, in a batch where the group makes that faster."""
    if ek.group.name == "eg4096" and len(items) > 1 and _eg4096_batch(ek, items):
        return [True] * len(items)
    return [verify_one(ek, item) for item in items]


def _eg4096_batch(ek: ElectionKey[Any], items: Sequence[EncodedSelection]) -> bool:
    """True only if every item verifies (False may mean just one bad item)."""
    from verivote.crypto.groups.eg4096 import (
        batch_is_member,
        eg4096_multiexp,
        in_quadratic_residues,
    )

    group = ek.group
    q = group.q
    members: list[int] = []
    lhs: list[tuple[Any, int]] = []
    rhs: list[tuple[Any, int]] = []
    g_exp = 0
    k_exp = 0
    try:
        for ct_doc, proof_doc, context in items:
            alpha_raw = bytes.fromhex(ct_doc["alpha"])
            beta_raw = bytes.fromhex(ct_doc["beta"])
            cs = [group.decode_scalar(bytes.fromhex(c)) for c in proof_doc["challenges"]]
            vs = [group.decode_scalar(bytes.fromhex(v)) for v in proof_doc["responses"]]
            pairs = [(bytes.fromhex(a), bytes.fromhex(b)) for a, b in proof_doc["commitments"]]
            n = len(cs)
            if n < 2 or len(vs) != n or len(pairs) != n:
                return False
            raws = [alpha_raw, beta_raw] + [x for pair in pairs for x in pair]
            if any(len(r) != group.element_bytes for r in raws):
                return False
            alpha, beta, *rest = [int.from_bytes(r, "big") for r in raws]
            members.extend((alpha, beta))
            if not all(in_quadratic_residues(x) for x in rest):
                return False
            # The challenge over the carried commitments (the same input as verify_range).
            c = range_challenge(group, ek.encoded(), alpha_raw, beta_raw, n - 1, pairs, context)
            if c != sum(cs) % q:
                return False
            alpha_exp = beta_exp = 0
            for j in range(n):
                d, e = secrets.randbits(_WEIGHT_BITS), secrets.randbits(_WEIGHT_BITS)
                lhs.append((rest[2 * j], d))
                lhs.append((rest[2 * j + 1], e))
                g_exp += d * vs[j]
                k_exp += e * (vs[j] - j * cs[j])
                alpha_exp += d * cs[j]
                beta_exp += e * cs[j]
            rhs.append((alpha, alpha_exp % q))
            rhs.append((beta, beta_exp % q))
    except (KeyError, TypeError, ValueError):
        return False
    if not batch_is_member(members):
        return False
    left = eg4096_multiexp(lhs, _WEIGHT_BITS)
    right = group.mul(
        eg4096_multiexp(rhs, 256), group.mul(group.pow_g(g_exp % q), ek.pow_k(k_exp % q))
    )
    return bool(left == right)
