"""Step 6, `count`: the counting law of the manifest on the decrypted tallies (issue 5).

The seats, the runoff field and every lot come from `verivote.rules`, applied district by
district to the published `decrypted-tally` entry: votes per candidate, valid ballots =
ballots − blank (void) ballots. The lot's seed (issue 14, item 4; README, "The lot") is

    seed = H("lot-seed", origin, size, root of the first size entries, lot element)

with size = the tally entry's board index + 1 (prescribed by the record, not chosen: no
checkpoint is made for it, the root is recomputable from the record) and the lot element that
a quorum of guardians decrypted from their contributions made before the tally (the
decrypted tally's "lot"). Nobody knew the element before the tally was on the board, and
nothing appended after the tally changes the seed. The result is published as one `count`
entry:

    {"type": "count", "election": base hash, "rule_set": "majlis-2024", "round": 1 or 2,
     "seed": hex, "checkpoint_size": n, "districts": {id: Result JSON (issue 2's format)}}
"""

from __future__ import annotations

import json
from typing import Any

from verivote.board.merkle import MerkleLog, leaf_hash
from verivote.election.publishing import origin
from verivote.election.service import ElectionContext, ElectionError
from verivote.model.canonical import canonical_json
from verivote.rules.districts import count_districts, lot_seed
from verivote.store import Store

CHUNK = 50_000
"""Board entries read at a time when hashing the board up to the tally."""


def find_entry(store: Store, election_id: str, entry_type: str) -> dict[str, Any] | None:
    """The last board entry of `entry_type` (found through the store's index on types)."""
    found = store.entries_of_type(election_id, entry_type)
    if not found:
        return None
    doc: dict[str, Any] = json.loads(found[-1][1])
    return doc


def seed_of_board(store: Store, ctx: ElectionContext, lot: str) -> tuple[bytes, int]:
    """(the lot seed, the board size it hashes): the root of the board up to and including
    the tally entry, in the merged order of the logs (seals left out), and the lot element
    `lot` (hex)."""
    tally = store.entries_of_type(ctx.election_id, "tally")
    if not tally:
        raise ElectionError("no tally on the board: run `verivote tally` first")
    at = store.position(ctx.election_id, tally[0][0])
    assert at is not None  # a national entry, not a seal: it has a position
    size = at + 1
    log = MerkleLog()
    for start in range(0, size, CHUNK):  # in chunks: a national board does not fit at once
        for entry in store.merged_entries(ctx.election_id, start, min(size, start + CHUNK)):
            log.append(leaf_hash(entry))
    try:
        element = bytes.fromhex(lot)
    except ValueError:
        raise ElectionError("the decrypted tally's lot element is not hex") from None
    return lot_seed(origin(ctx.election_id), size, log.root(), element), size


def run_count(store: Store, ctx: ElectionContext) -> dict[str, Any]:
    """Count, publish the `count` entry and return it; an existing count is returned as is."""
    existing = find_entry(store, ctx.election_id, "count")
    if existing is not None:
        return existing
    decrypted = find_entry(store, ctx.election_id, "decrypted-tally")
    if decrypted is None:
        raise ElectionError("no decrypted tally yet: run `verivote decrypt --combine` first")
    lot = decrypted.get("lot")
    if not isinstance(lot, str):
        raise ElectionError("the decrypted tally has no lot element: it cannot seed the count")
    seed, size = seed_of_board(store, ctx, lot)
    results = count_districts(ctx.manifest, decrypted, seed)
    doc = {
        "type": "count",
        "election": ctx.base_hash.hex(),
        "rule_set": ctx.manifest.rule_set,
        "round": ctx.manifest.round,
        "seed": seed.hex(),
        "checkpoint_size": size,
        "districts": {d: r.to_json_dict() for d, r in results.items()},
    }
    store.append_entry(ctx.election_id, canonical_json(doc), "count")
    return doc
