"""The threshold-encrypted lot: the guardians' contributions, their product, its decryption
(issue 14, item 4; README, "The lot"). Pure functions over public data and one guardian's key
share, shared by the election package, the guardian program and the verifier.

Once the election key is known, each guardian i draws a random group element Mᵢ = g^x and
publishes its ElGamal encryption under the joint key K, with two Schnorr proofs:

    lot-contribution  {"type": "lot-contribution", "election": base hash hex, "guardian": i,
                       "ciphertext": {"alpha": g^r, "beta": Mᵢ·K^r},
                       "proofs": {"randomness": {"challenge", "response"},   knows r, α = g^r
                                  "key_share": {"challenge", "response"}}}   knows sᵢ, Kᵢ = g^sᵢ

Both proofs' contexts hash [base hash, "lot-contribution", what, i, α, β]: the proof of the
key share means that only guardian i can contribute as i (the authority cannot forge or
replay one), the proof of the randomness that no one can publish a ciphertext derived from
another's (the inverse of an honest contribution times anything: its α's discrete log is
unknown to them). The lot ciphertext is the product of the first valid contribution of each
guardian among the entries before the tally; at least `quorum` guardians must have
contributed. Its value M = ∏ Mᵢ is uniform as soon as one contribution is honest, and nobody
knows it before a quorum decrypts it: the guardians do so only after the tally is on the
board, one entry each,

    lot-decryption    {"type": "lot-decryption", "election": base hash hex, "guardian": i,
                       "share": α^sᵢ hex, "proof": {"challenge", "response"}}

with a Chaum–Pedersen proof whose context is [base hash, "decryption", "lot"]. Any `quorum`
valid shares combine by Lagrange coefficients into M (`combine_lot`), which the
decrypted-tally entry publishes as "lot" and the count hashes into its seed
(`verivote.rules.districts.lot_seed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from verivote.crypto import wire
from verivote.crypto.ceremony import CeremonyTranscript, KeyShare, public_share
from verivote.crypto.elgamal import Ciphertext, ElectionKey, add, encrypt_element
from verivote.crypto.group import Group, InvalidElement
from verivote.crypto.hashing import Item
from verivote.crypto.proofs import (
    NonceSource,
    prove_decryption,
    prove_schnorr,
    verify_decryption,
    verify_schnorr,
)
from verivote.crypto.threshold import combine

CONTRIBUTION_TYPE = "lot-contribution"
DECRYPTION_TYPE = "lot-decryption"

Doc = Mapping[str, Any]


class LotError(ValueError):
    """The lot cannot be made or decrypted (too few contributions, a wrong key share...)."""


def contribution_context(
    group: Group[Any], base_hash: bytes, guardian: int, ct: Ciphertext[Any], what: str
) -> list[Item]:
    """The context of a contribution's proof `what` ("randomness" or "key-share")."""
    return [
        base_hash,
        CONTRIBUTION_TYPE,
        what,
        guardian,
        group.encode(ct.alpha),
        group.encode(ct.beta),
    ]


def lot_decryption_context(base_hash: bytes) -> list[Item]:
    """The context of every partial decryption of the lot's ciphertext."""
    return [base_hash, "decryption", "lot"]


def _own_public(group: Group[Any], share: KeyShare, public: Any) -> None:
    if share.group != group.name:
        raise LotError(f"the key share of guardian {share.guardian} is of group {share.group}")
    if group.pow_g(share.secret) != public:
        raise LotError(
            f"the key share of guardian {share.guardian} does not match its public share"
        )


def make_contribution(
    group: Group[Any],
    base_hash: bytes,
    share: KeyShare,
    public: Any,
    nonce: NonceSource | None = None,
) -> dict[str, Any]:
    """Guardian `share.guardian`'s lot-contribution entry for the election of `base_hash`
    (the election's own base hash: a round 2 that reuses round 1's key passes round 2's).
    `public` is its public share Kᵢ (`ceremony.public_share`). The random element and the
    randomness are drawn and forgotten here: nobody, the guardian included, keeps them."""
    _own_public(group, share, public)
    rand = nonce or group.random_scalar
    key = ElectionKey(group, group.decode(bytes.fromhex(share.joint_key)))
    r = rand()
    while r == 0:
        r = rand()
    ct = encrypt_element(key, group.pow_g(rand()), r)
    i = share.guardian
    randomness = prove_schnorr(
        group, r, ct.alpha, contribution_context(group, base_hash, i, ct, "randomness"), rand
    )
    key_share = prove_schnorr(
        group,
        share.secret,
        public,
        contribution_context(group, base_hash, i, ct, "key-share"),
        rand,
    )
    return {
        "type": CONTRIBUTION_TYPE,
        "election": base_hash.hex(),
        "guardian": i,
        "ciphertext": wire.ciphertext_to_json(group, ct),
        "proofs": {
            "randomness": wire.schnorr_to_json(group, randomness),
            "key_share": wire.schnorr_to_json(group, key_share),
        },
    }


def publics_of(group: Group[Any], transcript: CeremonyTranscript) -> dict[int, Any]:
    """Every guardian's public share Kᵢ, from the ceremony transcript."""
    return {g: public_share(group, transcript, g) for g in range(1, transcript.guardians + 1)}


def _guardian(doc: Doc, guardians: int) -> int | None:
    g = doc.get("guardian")
    if isinstance(g, bool) or not isinstance(g, int) or not 1 <= g <= guardians:
        return None
    return g


def contribution_ciphertext(group: Group[Any], doc: Doc) -> Ciphertext[Any]:
    """The ciphertext of a contribution already checked (`check_contribution`)."""
    return wire.ciphertext_from_json(group, doc["ciphertext"])


def check_contribution(
    group: Group[Any],
    transcript: CeremonyTranscript,
    base_hash: bytes,
    doc: Doc,
    publics: Mapping[int, Any] | None = None,
) -> str | None:
    """Why the lot-contribution entry `doc` is invalid for the election of `base_hash` whose
    key `transcript` made, or None if it is valid (both proofs verify, its α is not 1).
    `publics`: the guardians' public shares, if already computed (`publics_of`)."""
    if doc.get("type") != CONTRIBUTION_TYPE:
        return f"it is not a {CONTRIBUTION_TYPE} entry"
    if doc.get("election") != base_hash.hex():
        return "it is for another election"
    guardian = _guardian(doc, transcript.guardians)
    if guardian is None:
        return f"guardian {doc.get('guardian')!r} is not a guardian of this election"
    try:
        ct = contribution_ciphertext(group, doc)
        proofs = doc["proofs"]
        randomness = wire.schnorr_from_json(group, proofs["randomness"])
        key_share = wire.schnorr_from_json(group, proofs["key_share"])
    except (InvalidElement, KeyError, TypeError, ValueError):
        return "its ciphertext or proofs are malformed"
    if ct.alpha == group.identity():
        return "its ciphertext is not encrypted (alpha is the identity)"
    if not verify_schnorr(
        group,
        ct.alpha,
        randomness,
        contribution_context(group, base_hash, guardian, ct, "randomness"),
    ):
        return "the proof of knowledge of its randomness does not verify"
    public = publics[guardian] if publics is not None else public_share(group, transcript, guardian)
    if not verify_schnorr(
        group, public, key_share, contribution_context(group, base_hash, guardian, ct, "key-share")
    ):
        return f"the proof of guardian {guardian}'s key share does not verify"
    return None


def counted_contributions(
    group: Group[Any],
    transcript: CeremonyTranscript,
    base_hash: bytes,
    docs: Iterable[Doc],
    publics: Mapping[int, Any] | None = None,
) -> dict[int, Ciphertext[Any]]:
    """The contributions that count, by guardian: the first valid lot-contribution entry of
    each guardian among `docs` (the board's entries before the tally, in board order; entries
    of other types are skipped). Invalid ones and later ones of the same guardian count for
    nothing."""
    if publics is None:
        publics = publics_of(group, transcript)
    counted: dict[int, Ciphertext[Any]] = {}
    for doc in docs:
        if doc.get("type") != CONTRIBUTION_TYPE:
            continue
        guardian = _guardian(doc, transcript.guardians)
        if guardian is None or guardian in counted:
            continue
        if check_contribution(group, transcript, base_hash, doc, publics) is None:
            counted[guardian] = contribution_ciphertext(group, doc)
    return counted


def lot_product(
    group: Group[Any],
    transcript: CeremonyTranscript,
    base_hash: bytes,
    docs: Iterable[Doc],
    publics: Mapping[int, Any] | None = None,
) -> Ciphertext[Any]:
    """The lot's ciphertext: the product of `counted_contributions`; LotError naming who
    contributed and who did not when fewer than the quorum did."""
    counted = counted_contributions(group, transcript, base_hash, docs, publics)
    if len(counted) < transcript.quorum:
        missing = [g for g in range(1, transcript.guardians + 1) if g not in counted]
        raise LotError(
            f"the lot needs contributions from {transcript.quorum} guardians before the "
            f"tally; contributed: {_numbers(sorted(counted))}; missing: {_numbers(missing)}"
        )
    return add(group, [counted[g] for g in sorted(counted)])


def _numbers(indices: Iterable[int]) -> str:
    return ", ".join(str(i) for i in indices) or "none"


def make_lot_decryption(
    group: Group[Any],
    base_hash: bytes,
    share: KeyShare,
    public: Any,
    lot: Ciphertext[Any],
    nonce: NonceSource | None = None,
) -> dict[str, Any]:
    """Guardian `share.guardian`'s lot-decryption entry: its partial decryption α^sᵢ of the
    lot ciphertext `lot` (`lot_product` of the entries before the tally) with its proof."""
    _own_public(group, share, public)
    value, proof = prove_decryption(
        group, share.secret, public, lot.alpha, lot_decryption_context(base_hash), nonce
    )
    return {
        "type": DECRYPTION_TYPE,
        "election": base_hash.hex(),
        "guardian": share.guardian,
        "share": wire.element_hex(group, value),
        "proof": wire.schnorr_to_json(group, proof),
    }


def check_lot_decryption(
    group: Group[Any],
    base_hash: bytes,
    publics: Mapping[int, Any],
    lot: Ciphertext[Any],
    doc: Doc,
) -> tuple[str | None, Any]:
    """(why the lot-decryption entry is invalid, None) or (None, its share α^sᵢ)."""
    if doc.get("type") != DECRYPTION_TYPE:
        return f"it is not a {DECRYPTION_TYPE} entry", None
    if doc.get("election") != base_hash.hex():
        return "it is for another election", None
    guardian = _guardian(doc, len(publics))
    if guardian is None or guardian not in publics:
        return f"guardian {doc.get('guardian')!r} is not a guardian of this election", None
    try:
        value = wire.element_from_hex(group, doc["share"])
        proof = wire.decryption_proof_from_json(group, doc["proof"])
    except (InvalidElement, KeyError, TypeError, ValueError):
        return "its share or proof is malformed", None
    context = lot_decryption_context(base_hash)
    if not verify_decryption(group, publics[guardian], lot.alpha, value, proof, context):
        return "the proof of its share of the lot does not verify", None
    return None, value


def combine_lot(
    group: Group[Any], quorum: int, lot: Ciphertext[Any], shares: Mapping[int, Any]
) -> Any:
    """The lot element M from checked shares (guardian → α^sᵢ): the first `quorum` guardians
    by index are combined (any quorum gives the same M). QuorumError if too few."""
    return combine(group, quorum, lot, shares)
