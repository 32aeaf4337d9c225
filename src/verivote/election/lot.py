"""The lot nobody can steer, on the election's board (issue 14, item 4; README, "The lot").

After the key is known (the ceremony held, or round 1's key reused for round 2), each guardian
publishes one `lot-contribution` entry: an ElGamal encryption under the joint key of a random
group element, with a Schnorr proof of knowledge of its randomness and one of its key share
(`verivote.crypto.lot` has the entry formats and the pure functions, which the guardian
program and the verifier use too). The board refuses a contribution that does not verify, a
second one by the same guardian, and any after the tally: the tally (`run_tally`) itself waits
for contributions from a quorum of guardians. The lot's ciphertext is the product of the
contributions before the tally entry.

The lot's decryption rides in an entry type of its own, `lot-decryption`, one per guardian
(not in the per-district `partial-decryption` entries, which would repeat it in every
district): `verivote.election.decryption.decrypt_as_guardian` publishes it with the
guardian's partial decryptions of the tally, and `combine` puts the element that a quorum of
them gives into the decrypted-tally entry as "lot". The count's seed hashes it
(`verivote.rules.districts.lot_seed`).

The functions a guardian program calls, all pure:

    make_contribution(group, base_hash, share, public_share) -> lot-contribution entry
    check_contribution(group, transcript, base_hash, doc) -> reason or None
    lot_ciphertext(group, ctx, docs before the tally) -> Ciphertext    (ctx: base_hash, transcript)
    make_lot_decryption(group, base_hash, share, public_share, lot) -> lot-decryption entry
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Protocol

from verivote.crypto.ceremony import CeremonyTranscript, KeyShare
from verivote.crypto.elgamal import Ciphertext
from verivote.crypto.group import Group
from verivote.crypto.groups import get_group
from verivote.crypto.lot import (
    CONTRIBUTION_TYPE,
    DECRYPTION_TYPE,
    Doc,
    LotError,
    check_contribution,
    check_lot_decryption,
    combine_lot,
    lot_product,
    make_contribution,
    make_lot_decryption,
    publics_of,
)
from verivote.election.service import ElectionContext, ElectionError
from verivote.model.canonical import canonical_json
from verivote.store import Store

__all__ = [
    "CONTRIBUTION_TYPE",
    "DECRYPTION_TYPE",
    "LotError",
    "check_contribution",
    "check_lot_decryption",
    "combine_lot",
    "contribute_lot",
    "lot_ciphertext",
    "lot_of_board",
    "make_contribution",
    "make_lot_decryption",
    "publish_contribution",
    "require_contributions",
]

TALLY_TYPE = "tally"


class LotContext(Protocol):
    """What the lot needs of an election: its base hash and its key ceremony's transcript
    (`ElectionContext` is one)."""

    @property
    def base_hash(self) -> bytes: ...

    @property
    def transcript(self) -> CeremonyTranscript | None: ...


def _transcript(ctx: LotContext) -> CeremonyTranscript:
    if ctx.transcript is None:
        raise ElectionError("the key ceremony has not been held yet (run election ceremony)")
    return ctx.transcript


def lot_ciphertext(group: Group[Any], ctx: LotContext, docs: Iterable[Doc]) -> Ciphertext[Any]:
    """The lot's ciphertext from `docs`, the board's entries before the tally entry in board
    order (other types are skipped): the product of each guardian's first valid contribution.
    LotError when fewer than the quorum of guardians contributed."""
    return lot_product(group, _transcript(ctx), ctx.base_hash, docs)


def _tally_index(store: Store, ctx: ElectionContext) -> int | None:
    found = store.entries_of_type(ctx.election_id, TALLY_TYPE)
    return found[0][0] if found else None


def _contributions(store: Store, ctx: ElectionContext, end: int | None) -> list[tuple[int, Doc]]:
    return [
        (idx, json.loads(raw))
        for idx, raw in store.entries_of_type(ctx.election_id, CONTRIBUTION_TYPE, end=end)
    ]


def publish_contribution(store: Store, ctx: ElectionContext, doc: Doc) -> int:
    """Append the lot-contribution entry `doc` and return its board index; ElectionError,
    with the reason, for one that does not verify, a guardian's second one, or one that would
    come after the tally. (Should one slip in all the same, by a race with the tally or with
    itself, it counts for nothing: only each guardian's first valid contribution before the
    tally does.)"""
    t = _transcript(ctx)
    group = get_group(t.group)
    reason = check_contribution(group, t, ctx.base_hash, doc)
    if reason is not None:
        raise ElectionError(f"lot contribution refused: {reason}")
    if _tally_index(store, ctx) is not None:
        raise ElectionError(
            "lot contribution refused: the tally is already on the board, the lot is closed"
        )
    for index, earlier in _contributions(store, ctx, None):
        if earlier.get("guardian") == doc["guardian"]:
            raise ElectionError(
                f"lot contribution refused: guardian {doc['guardian']} has already contributed "
                f"(board entry {index})"
            )
    return store.append_entry(ctx.election_id, canonical_json(dict(doc)), CONTRIBUTION_TYPE)


def contribute_lot(store: Store, ctx: ElectionContext, share: KeyShare) -> int:
    """Guardian `share.guardian` contributes to the lot (in-process runs: tests, the
    simulation, `verivote lot contribute`); returns the board index of its entry."""
    from verivote.election.decryption import check_share

    public = check_share(ctx, _transcript(ctx), share)
    group = get_group(share.group)
    return publish_contribution(store, ctx, make_contribution(group, ctx.base_hash, share, public))


def require_contributions(store: Store, ctx: ElectionContext) -> None:
    """ElectionError unless a quorum of guardians has contributed to the lot: the tally,
    which closes the lot, must wait for them."""
    t = _transcript(ctx)
    try:
        lot_product(
            get_group(t.group), t, ctx.base_hash, [d for _, d in _contributions(store, ctx, None)]
        )
    except LotError as exc:
        raise ElectionError(f"{exc} (each guardian runs `verivote guardian contribute`)") from None


def lot_of_board(store: Store, ctx: ElectionContext) -> Ciphertext[Any]:
    """The lot's ciphertext of the board: the product of the contributions before the tally
    entry. ElectionError before the tally, or when too few guardians contributed."""
    t = _transcript(ctx)
    tally = _tally_index(store, ctx)
    if tally is None:
        raise ElectionError("there is no tally yet: the lot is decrypted with the tally")
    docs = [d for _, d in _contributions(store, ctx, tally)]
    try:
        return lot_product(get_group(t.group), t, ctx.base_hash, docs)
    except LotError as exc:
        raise ElectionError(str(exc)) from None


def lot_publics(ctx: LotContext) -> dict[int, Any]:
    """Every guardian's public share, for checking lot decryptions."""
    t = _transcript(ctx)
    return publics_of(get_group(t.group), t)
