"""Step 6, `count`: the counting law of the manifest on the decrypted tallies (issue 5).

The seats, the runoff field and every lot come from `verivote.rules` (rule set `majlis-2024`),
applied district by district to the published `decrypted-tally` entry: votes per candidate,
valid ballots = ballots − blank (void) ballots. The lot's seed is derived from the board's
signed root at the close of counting,

    seed = H("lot-seed", origin, size, root)

so it was fixed by the board before anyone could know which tie it would break, and anyone
can recompute it from the record. The result is published as one `count` entry:

    {"type": "count", "election": base hash, "rule_set": "majlis-2024", "round": 1 or 2,
     "seed": hex, "checkpoint_size": n, "districts": {id: Result JSON (issue 2's format)}}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from verivote.board.checkpoint import open_checkpoint
from verivote.election.publishing import make_checkpoint, verifier_keys
from verivote.election.service import ElectionContext, ElectionError
from verivote.model.canonical import canonical_json
from verivote.rules.districts import count_districts, lot_seed
from verivote.store import Store


def find_entry(store: Store, election_id: str, entry_type: str) -> dict[str, Any] | None:
    """The last board entry of `entry_type` (found through the store's index on types)."""
    found = store.entries_of_type(election_id, entry_type)
    if not found:
        return None
    doc: dict[str, Any] = json.loads(found[-1][1])
    return doc


def run_count(store: Store, ctx: ElectionContext, keys_dir: Path) -> dict[str, Any]:
    """Count, publish the `count` entry and return it; an existing count is returned as is."""
    existing = find_entry(store, ctx.election_id, "count")
    if existing is not None:
        return existing
    decrypted = find_entry(store, ctx.election_id, "decrypted-tally")
    if decrypted is None:
        raise ElectionError("no decrypted tally yet: run `verivote decrypt --combine` first")
    # Close the counting: the board as it stands now, signed and cosigned, seeds the lot.
    signed = make_checkpoint(store, ctx, keys_dir)
    checkpoint, _ = open_checkpoint(signed.note, verifier_keys(keys_dir)[:1])
    seed = lot_seed(checkpoint.origin, checkpoint.size, checkpoint.root)
    results = count_districts(ctx.manifest, decrypted, seed)
    doc = {
        "type": "count",
        "election": ctx.base_hash.hex(),
        "rule_set": ctx.manifest.rule_set,
        "round": ctx.manifest.round,
        "seed": seed.hex(),
        "checkpoint_size": checkpoint.size,
        "districts": {d: r.to_json_dict() for d, r in results.items()},
    }
    store.append_entry(ctx.election_id, canonical_json(doc), "count")
    return doc
