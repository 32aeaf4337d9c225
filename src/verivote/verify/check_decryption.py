"""Check `decryption`: the published counts are the threshold decryption of the tally."""

from __future__ import annotations

from typing import Any

from verivote.crypto import wire
from verivote.crypto.ceremony import public_share
from verivote.crypto.elgamal import Ciphertext
from verivote.crypto.group import InvalidElement
from verivote.crypto.hashing import Item
from verivote.crypto.proofs import verify_decryption
from verivote.crypto.threshold import combine
from verivote.verify.context import BLANK, Election, Keys, mixnet_districts
from verivote.verify.loader import Board, Doc
from verivote.verify.report import Check

Shares = dict[str, Any]
"""One guardian's partial decryptions of a district, by label (candidate code or "blank")."""


def decryption_context(base_hash: bytes, district: str, label: str) -> list[Item]:
    """What every partial decryption's proof is bound to (the election's own definition)."""
    return [base_hash, "decryption", district, label]


Tally = dict[str, list[tuple[str, Ciphertext[Any]]]]
"""A tally's ciphertexts per district, as (label, ciphertext), the blank flag last."""


def _tally(election: Election, board: Board) -> tuple[Tally, dict[str, Any]] | None:
    """The published tally's ciphertexts and ballot counts per district, if well formed."""
    found = board.of_type("tally")
    if not found:
        return None
    doc = found[0][1]
    group = election.group
    out: Tally = {}
    ballots: dict[str, Any] = {}
    try:
        for district, codes in election.homomorphic_layout.items():
            d = doc["districts"][district]
            items = [(c, wire.ciphertext_from_json(group, d["candidates"][c])) for c in codes]
            items.append((BLANK, wire.ciphertext_from_json(group, d["blank"])))
            out[district] = items
            ballots[district] = d["ballots"]
    except (InvalidElement, KeyError, TypeError, ValueError):
        return None
    return out, ballots


def _partial_problem(
    election: Election,
    publics: dict[int, Any],
    cts: Tally,
    doc: Doc,
) -> tuple[str | None, Shares]:
    """Why a partial-decryption entry is invalid (or None) and its shares if it is valid."""
    guardian, district = doc.get("guardian"), doc.get("district")
    if isinstance(guardian, bool) or not isinstance(guardian, int) or guardian not in publics:
        return f"guardian {guardian!r} is not a guardian of this election", {}
    if not isinstance(district, str) or district not in cts:
        return f"district {district!r} is not in the manifest", {}
    shares = doc.get("shares")
    labels = [label for label, _ in cts[district]]
    if not isinstance(shares, dict) or set(shares) != set(labels):
        return "it does not hold exactly one share per ciphertext of the district", {}
    group = election.group
    out: Shares = {}
    for label, ct in cts[district]:
        try:
            value = wire.element_from_hex(group, shares[label]["share"])
            proof = wire.decryption_proof_from_json(group, shares[label]["proof"])
        except (InvalidElement, KeyError, TypeError, ValueError):
            return f"the share of {label} is malformed", {}
        context = decryption_context(election.base_hash, district, label)
        if not verify_decryption(group, publics[guardian], ct.alpha, value, proof, context):
            return f"the proof of the share of {label} does not verify", {}
        out[label] = value
    return None, out


def check_decryption(board: Board, election: Election, keys: Keys) -> Check:
    """Every partial decryption's proof verifies against its guardian's public share (computed
    from the transcript), or the decrypted-tally entry lists it as rejected; and for each
    district the Lagrange combination of k valid partials of the guardians listed as used
    gives β / ∏ Mᵢ^wᵢ = K^v for each published value v, with the ballots of the tally."""
    check = Check("decryption")
    tally = _tally(election, board)
    if tally is None:
        check.fail(None, "not checked: no well-formed tally to decrypt")
        return check.close()
    cts = tally[0]
    t = keys.transcript
    try:
        publics = {g: public_share(election.group, t, g) for g in range(1, t.guardians + 1)}
    except (InvalidElement, KeyError, ValueError):
        check.fail(None, "not checked: the guardians' public shares cannot be computed")
        return check.close()
    decrypted = board.of_type("decrypted-tally")
    rejected = _rejected(decrypted[0][1]) if decrypted else set()
    valid: dict[str, dict[int, Shares]] = {d: {} for d in cts}
    partials = board.of_type("partial-decryption")
    check.items = len(partials)
    for index, doc in partials:
        problem, shares = _partial_problem(election, publics, cts, doc)
        if problem is None:
            valid[doc["district"]].setdefault(doc["guardian"], shares)
            if index in rejected:
                check.fail(index, "a valid partial decryption listed as rejected")
        elif index not in rejected:
            check.fail(
                index,
                f"guardian {doc.get('guardian')!r}, district {doc.get('district')!r}: {problem}",
            )
    if not decrypted:
        check.fail(None, "no decrypted-tally entry")
        return check.close()
    for extra, _ in decrypted[1:]:
        check.fail(extra, "a second decrypted-tally entry")
    _check_counts(election, keys, tally, valid, decrypted[0], check)
    return check.close()


def _rejected(doc: Doc) -> set[int]:
    listed = doc.get("rejected", [])
    if not isinstance(listed, list):
        return set()
    return {r["index"] for r in listed if isinstance(r, dict) and isinstance(r.get("index"), int)}


def _guardians(doc: Doc, n: int) -> list[int] | None:
    listed = doc.get("guardians")
    if not isinstance(listed, list):
        return None
    if not all(isinstance(g, int) and not isinstance(g, bool) and 1 <= g <= n for g in listed):
        return None
    if len(set(listed)) != len(listed):
        return None
    return sorted(listed)


def _values(doc: Any, codes: tuple[str, ...], ballots: Any) -> dict[str, int] | None:
    """A district's decrypted counts by label, if they are counts up to its ballots."""
    if not isinstance(doc, dict) or not isinstance(doc.get("votes"), dict):
        return None
    votes = doc["votes"]
    if set(votes) != set(codes) or not isinstance(ballots, int) or doc.get("ballots") != ballots:
        return None
    values = {**{c: votes[c] for c in codes}, BLANK: doc.get("blank")}
    for v in values.values():
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= ballots:
            return None
    return values


def _check_counts(
    election: Election,
    keys: Keys,
    tally: tuple[Tally, dict[str, Any]],
    valid: dict[str, dict[int, Shares]],
    found: tuple[int, Doc],
    check: Check,
) -> None:
    cts, ballots = tally
    index, doc = found
    k = keys.transcript.quorum
    listed = _guardians(doc, keys.transcript.guardians)
    districts = doc.get("districts")
    if listed is None:
        check.fail(index, "the guardians used are not a list of distinct guardians")
        return
    mixed = set(mixnet_districts(election.manifest))  # their counts: the `mix` check's
    if not isinstance(districts, dict) or set(districts) != set(cts) | mixed:
        check.fail(index, "the decrypted districts are not the manifest's")
        return
    for g in listed:
        if not any(g in by_guardian for by_guardian in valid.values()):
            check.fail(index, f"guardian {g} is listed as used but has no valid partial decryption")
    layout = election.layout
    for district, items in cts.items():
        values = _values(districts[district], layout[district], ballots[district])
        if values is None:
            check.fail(
                index,
                f"district {district}: the counts are malformed or the ballots "
                f"are not the tally's {ballots[district]!r}",
            )
            continue
        present = [g for g in listed if g in valid[district]]
        if len(present) < k:
            check.fail(
                index,
                f"district {district}: {len(present)} listed guardian(s) with "
                f"valid partial decryptions, the quorum is {k}",
            )
            continue
        chosen = present[:k]
        for label, ct in items:
            power = combine(election.group, k, ct, {g: valid[district][g][label] for g in chosen})
            if power != keys.key.pow_k(values[label]):
                what = "blank ballots" if label == BLANK else f"votes for {label}"
                check.fail(
                    index,
                    f"district {district}: {values[label]} {what} is not what the "
                    "partial decryptions give",
                )
