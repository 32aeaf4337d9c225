"""Check `lot`: the lot that seeds the count is the guardians' (issue 14, item 4; README,
"The lot"; formats in `verivote.crypto.lot`).

Every lot-contribution entry verifies (its proofs of randomness and of its guardian's key
share); at least a quorum of guardians contributed before the tally entry (each guardian's
first valid contribution before it counts, later ones count for nothing); no share of the lot
was published before the tally; every lot-decryption entry's proof verifies against the lot's
ciphertext, or the decrypted tally lists it as rejected; and the decrypted tally's "lot" is
the Lagrange combination of a quorum of valid shares.
"""

from __future__ import annotations

from typing import Any

from verivote.crypto import wire
from verivote.crypto.group import InvalidElement
from verivote.crypto.lot import (
    CONTRIBUTION_TYPE,
    DECRYPTION_TYPE,
    LotError,
    check_contribution,
    check_lot_decryption,
    combine_lot,
    lot_product,
    publics_of,
)
from verivote.verify.context import Election, Keys
from verivote.verify.loader import Board, Doc
from verivote.verify.report import Check


def _rejected(doc: Doc) -> set[int]:
    listed = doc.get("rejected", [])
    if not isinstance(listed, list):
        return set()
    return {
        r["index"]
        for r in listed
        if isinstance(r, dict) and r.get("lot") is True and isinstance(r.get("index"), int)
    }


def check_lot(board: Board, election: Election, keys: Keys) -> Check:
    """See the module's docstring."""
    check = Check("lot")
    group, t, base_hash = election.group, keys.transcript, election.base_hash
    try:
        publics = publics_of(group, t)
    except (InvalidElement, KeyError, ValueError):
        check.fail(None, "not checked: the guardians' public shares cannot be computed")
        return check.close()
    contributions = board.of_type(CONTRIBUTION_TYPE)
    check.items = len(contributions)
    for index, doc in contributions:
        reason = check_contribution(group, t, base_hash, doc, publics)
        if reason is not None:
            check.fail(index, f"lot contribution of guardian {doc.get('guardian')!r}: {reason}")
    tallies = board.indices("tally")
    if not tallies:
        check.fail(None, "not checked: no tally entry closes the lot")
        return check.close()
    tally = tallies[0]
    try:
        lot = lot_product(group, t, base_hash, [d for i, d in contributions if i < tally], publics)
    except LotError as exc:
        check.fail(tally, str(exc))
        return check.close()
    decrypted = board.of_type("decrypted-tally")
    rejected = _rejected(decrypted[0][1]) if decrypted else set()
    valid: dict[int, Any] = {}
    for index, doc in board.of_type(DECRYPTION_TYPE):
        if index < tally:
            check.fail(index, "a share of the lot published before the tally entry")
        problem, value = check_lot_decryption(group, base_hash, publics, lot, doc)
        if problem is None:
            valid.setdefault(doc["guardian"], value)
            if index in rejected:
                check.fail(index, "a valid share of the lot listed as rejected")
        elif index not in rejected:
            check.fail(index, f"lot decryption of guardian {doc.get('guardian')!r}: {problem}")
    if not decrypted:
        check.fail(None, "no decrypted-tally entry holds the lot")
        return check.close()
    index, doc = decrypted[0]
    if len(valid) < t.quorum:
        check.fail(
            index,
            f"{len(valid)} guardian(s) with valid shares of the lot, the quorum is {t.quorum}",
        )
        return check.close()
    lot_hex = doc.get("lot")
    try:
        if not isinstance(lot_hex, str):
            raise ValueError("no lot")
        published = wire.element_from_hex(group, lot_hex)
    except (InvalidElement, ValueError):
        check.fail(index, "the decrypted tally's lot is missing or not a group element")
        return check.close()
    if combine_lot(group, t.quorum, lot, valid) != published:
        check.fail(index, "the lot element is not what the guardians' shares of the lot give")
    return check.close()
