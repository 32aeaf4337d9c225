"""What the `ballots` and `challenged` checks need of each ballot entry besides its proofs:
the digest of the ballot (to find a ballot published twice) and whether its tracking code, or
a challenged ballot's id, is the hash of the ballot. Computed where the entry is parsed anyway
(`ballot_chunk`), because serialising every ballot again is most of the cost."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from verivote.crypto.tracking import ballot_id, tracking_code
from verivote.model.canonical import canonical_json


@dataclass(frozen=True)
class Facts:
    """`digest`: SHA-256 of the ballot's canonical JSON (None: the entry holds no ballot);
    `code_ok`: a cast ballot's tracking code is H(base hash, station, previous, ballot), a
    challenged ballot's id is H(base hash, ballot)."""

    digest: bytes | None
    code_ok: bool


def entry_facts(base_hash: bytes, doc: dict[str, Any]) -> Facts:
    ballot = doc.get("ballot")
    if not isinstance(ballot, dict):
        return Facts(None, False)
    try:
        body = canonical_json(ballot)
    except (TypeError, ValueError):  # not from a canonical entry: the board check says so
        return Facts(None, False)
    digest = hashlib.sha256(body).digest()
    if doc.get("type") == "ballot-challenged":
        return Facts(digest, doc.get("ballot_id") == ballot_id(base_hash, body))
    station, previous = ballot.get("station"), doc.get("previous")
    if not isinstance(station, str) or not isinstance(previous, str):
        return Facts(digest, False)
    return Facts(
        digest, doc.get("tracking_code") == tracking_code(base_hash, station, previous, body)
    )
