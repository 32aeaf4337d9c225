"""Step 7, `runoff`: the round-2 election of the districts whose seats stayed empty (issue 5).

For every district of round 1 with R empty seats and a runoff field (2R candidates, or all
that were left), round 2 is a district of R seats whose candidates are exactly that field,
with the same codes, names and factions, voted at the same stations. The round-2 manifest
names round 1 (id and base hash), so a verifier can check that it holds exactly the runoff
fields of round 1. The same guardians' key may be reused (`reuse_ceremony`) or a new
ceremony held.
"""

from __future__ import annotations

import datetime
from typing import Any

from verivote.crypto.ceremony import CeremonyTranscript
from verivote.election.service import ElectionContext, ElectionError
from verivote.model.canonical import canonical_json
from verivote.model.manifest import Manifest, parse_manifest
from verivote.rules.districts import runoff_districts
from verivote.store import Store


def runoff_manifest(
    ctx: ElectionContext, count: dict[str, Any], date: datetime.date | None = None
) -> Manifest | None:
    """The round-2 manifest, or None when every seat was filled in round 1."""
    if ctx.manifest.round != 1:
        raise ElectionError("a runoff follows a first round only")
    districts = runoff_districts(ctx.manifest, count)
    if not districts:
        return None
    kept = {d["id"] for d in districts}
    base = ctx.manifest.model_dump(mode="json")
    base.update(
        election_id=f"{ctx.manifest.election_id}-r2",
        name=f"{ctx.manifest.name}, second round",
        round=2,
        previous_round={"election_id": ctx.election_id, "base_hash": ctx.base_hash.hex()},
        districts=districts,
        stations=[s for s in base["stations"] if s["district"] in kept],
    )
    # Round 1's end of polling day is past by the runoff: its station tokens have expired.
    base["polling"]["ends"] = None
    if date is not None:
        base["date"] = date.isoformat()
    return parse_manifest(base, "runoff manifest")


def reuse_ceremony(store: Store, round2: ElectionContext, transcript: CeremonyTranscript) -> None:
    """Publish round 1's ceremony transcript as round 2's: the same joint key and shares.

    The reused key gets fresh lot contributions on round 2's board (round 1's lot is known
    once round 1 is decrypted): each guardian contributes again before round 2's tally
    (`verivote.election.lot.contribute_lot`, bound to round 2's base hash)."""
    if round2.transcript is not None:
        raise ElectionError("the round-2 election already has a key")
    entry = canonical_json(
        {
            "type": "ceremony",
            "election": round2.base_hash.hex(),
            "reused_from": round2.manifest.previous_round.election_id
            if round2.manifest.previous_round
            else None,
            "transcript": transcript.model_dump(mode="json"),
        }
    )
    store.append_entry(round2.election_id, entry, "ceremony")
