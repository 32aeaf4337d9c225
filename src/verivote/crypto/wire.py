"""The wire format of ciphertexts, proofs and key shares: JSON objects of hex strings.

Elements are the hex of their canonical encoding (`Group.encode`), scalars the hex of their
fixed-width big-endian encoding (`Group.encode_scalar`). Every decoder validates: an element
that is not in the group, or a scalar not below q, is an error (InvalidElement / ValueError),
never a silent value.
"""

from __future__ import annotations

from typing import Any

from verivote.crypto.elgamal import Ciphertext
from verivote.crypto.group import E, Group
from verivote.crypto.proofs import DecryptionProof, RangeProof, SchnorrProof

Json = dict[str, Any]


def element_hex(group: Group[E], e: E) -> str:
    return group.encode(e).hex()


def element_from_hex(group: Group[E], text: str) -> E:
    try:
        raw = bytes.fromhex(text)
    except (ValueError, TypeError):
        raise ValueError("an element must be hex text") from None
    return group.decode(raw)


def _hex_bytes(text: str, length: int) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except (ValueError, TypeError):
        raise ValueError("an element must be hex text") from None
    if len(raw) != length:
        raise ValueError(f"an encoded element is {length} bytes, got {len(raw)}")
    return raw


def scalar_hex(group: Group[Any], k: int) -> str:
    return group.encode_scalar(k).hex()


def scalar_from_hex(group: Group[Any], text: str) -> int:
    try:
        raw = bytes.fromhex(text)
    except (ValueError, TypeError):
        raise ValueError("a scalar must be hex text") from None
    return group.decode_scalar(raw)


def ciphertext_to_json(group: Group[E], c: Ciphertext[E]) -> Json:
    return {"alpha": element_hex(group, c.alpha), "beta": element_hex(group, c.beta)}


def ciphertext_from_json(group: Group[E], doc: Json) -> Ciphertext[E]:
    return Ciphertext(element_from_hex(group, doc["alpha"]), element_from_hex(group, doc["beta"]))


def range_proof_to_json(group: Group[Any], p: RangeProof) -> Json:
    doc: Json = {
        "challenges": [scalar_hex(group, c) for c in p.challenges],
        "responses": [scalar_hex(group, v) for v in p.responses],
    }
    if p.commitments:
        doc["commitments"] = [[a.hex(), b.hex()] for a, b in p.commitments]
    return doc


def range_proof_from_json(group: Group[Any], doc: Json) -> RangeProof:
    """Decode a range proof. Its carried commitments stay bytes: a verifier either compares
    them with the ones it recomputes or validates them itself (`verivote.crypto.batch`)."""
    commitments = tuple(
        (_hex_bytes(a, group.element_bytes), _hex_bytes(b, group.element_bytes))
        for a, b in doc.get("commitments", ())
    )
    return RangeProof(
        tuple(scalar_from_hex(group, c) for c in doc["challenges"]),
        tuple(scalar_from_hex(group, v) for v in doc["responses"]),
        commitments,
    )


def schnorr_to_json(group: Group[Any], p: SchnorrProof | DecryptionProof) -> Json:
    return {"challenge": scalar_hex(group, p.challenge), "response": scalar_hex(group, p.response)}


def schnorr_from_json(group: Group[Any], doc: Json) -> SchnorrProof:
    return SchnorrProof(
        scalar_from_hex(group, doc["challenge"]), scalar_from_hex(group, doc["response"])
    )


def decryption_proof_from_json(group: Group[Any], doc: Json) -> DecryptionProof:
    return DecryptionProof(
        scalar_from_hex(group, doc["challenge"]), scalar_from_hex(group, doc["response"])
    )
