"""What the `ballots` and `challenged` checks need of each ballot entry besides its proofs:
the digest of the ballot (to find a ballot published twice), its nonce (to find a nonce used
twice, issue 14 item 5), whether its tracking code, or a challenged ballot's id, is the hash
of the ballot, and whether it has exactly its type's fields. Computed where the entry is
parsed anyway (`ballot_chunk`), because serialising every ballot again is most of the cost,
and so that the main process never parses a ballot (issue 17)."""

from __future__ import annotations

import hashlib
import sys
from typing import Any, NamedTuple

from verivote.crypto.tracking import tracking_code
from verivote.model.canonical import canonical_json


class Facts(NamedTuple):
    # A tuple: one of these per ballot stays in memory, and each crosses from a worker to
    # the main process, where a tuple unpickles in a fraction of a frozen dataclass's time
    # (issue 17: a chunk's results took 5.4 µs a ballot to unpickle, 1.2 µs now).
    """`digest`: SHA-256 of the ballot's canonical JSON (None: the entry holds no ballot);
    `code_ok`: a cast ballot's tracking code, or a challenged ballot's id, is
    H("tracking-code", base hash, ballot); `nonce`: the ballot's nonce if it is a string;
    `fields_ok`: the entry's fields are exactly `FIELDS` of its type; `station`: the
    ballot's station if it is a string (the `participation` check's)."""

    digest: bytes | None
    code_ok: bool
    nonce: str | None = None
    fields_ok: bool = False
    station: str | None = None


NO_BALLOT = Facts(None, False)
"""The facts of an entry that holds no ballot."""

FIELDS = {
    "ballot-cast": {"type", "ballot", "tracking_code"},
    "ballot-challenged": {"type", "ballot", "ballot_id", "choices", "nonces"},
}
"""The fields of each ballot entry."""


WHAT = {"ballot-cast": "tracking code", "ballot-challenged": "ballot_id"}
"""What each ballot entry's hash of the ballot is called."""


def fact_problems(kind: Any, facts: Facts) -> list[str]:
    """What the `ballots` (or `challenged`) check says of a ballot entry of type `kind` with
    these facts: its fields are not its type's, its tracking code (or ballot id) is not the
    hash of its ballot."""
    kind = kind if isinstance(kind, str) and kind in FIELDS else "ballot-cast"
    out = []
    if not facts.fields_ok:
        out.append(f"its fields are not {', '.join(sorted(FIELDS[kind]))}")
    if not facts.code_ok:
        out.append(f"its {WHAT[kind]} is not the hash of the ballot")
    return out


def entry_facts(base_hash: bytes, doc: dict[str, Any]) -> Facts:
    kind = doc.get("type")
    fields_ok = isinstance(kind, str) and set(doc) == FIELDS.get(kind)
    ballot = doc.get("ballot")
    if not isinstance(ballot, dict):
        return Facts(None, False, None, fields_ok)
    station = ballot.get("station")
    station = sys.intern(station) if isinstance(station, str) else None
    try:
        body = canonical_json(ballot)
    except (TypeError, ValueError):  # not from a canonical entry: the board check says so
        return Facts(None, False, None, fields_ok, station)
    digest = hashlib.sha256(body).digest()
    field = "ballot_id" if doc.get("type") == "ballot-challenged" else "tracking_code"
    nonce = ballot.get("nonce")
    return Facts(
        digest,
        doc.get(field) == tracking_code(base_hash, body),
        nonce if isinstance(nonce, str) else None,
        fields_ok,
        station,
    )
