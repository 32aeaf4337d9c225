"""The election's steps over its store: publish the manifest, hold the key ceremony, cast and
challenge ballots (issue 4, "Casting"; issue 5, steps 1–3).

Every step writes an entry on the board (`Store.append_entry` or, for ballots, atomically with
the ballot row in `Store.cast_ballot`), as canonical JSON with a `type`:

    manifest            {"type": "manifest", "manifest": {...}}
    ceremony            {"type": "ceremony", "election": base hash, "transcript": {...}}
    ballot-cast         {"type": "ballot-cast", "ballot": {...}, "previous": code,
                         "tracking_code": code}
    ballot-challenged   {"type": "ballot-challenged", "ballot": {...}, "ballot_id": id,
                         "choices": [codes], "nonces": [hex scalars]}

A ballot is checked completely before anything is written; a refused ballot leaves no trace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verivote.crypto.ballot import BallotError, OpenedBallot, check_ballot, check_opened
from verivote.crypto.ceremony import CeremonyTranscript, run_ceremony
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.groups import get_group
from verivote.crypto.hashing import election_base_hash
from verivote.crypto.keyfile import write_key_share
from verivote.crypto.tracking import ballot_id, tracking_code, tracking_start
from verivote.model.canonical import canonical_json
from verivote.model.manifest import Manifest, parse_manifest
from verivote.store import ReplayError, Store


class ElectionError(ValueError):
    """A step that cannot be taken; the message says why and what to do."""


@dataclass(frozen=True)
class ElectionContext:
    """What every step needs to know about an election, read back from its board."""

    election_id: str
    manifest: Manifest
    base_hash: bytes
    key: ElectionKey[Any] | None
    transcript: CeremonyTranscript | None


@dataclass(frozen=True)
class Receipt:
    """What the voter takes home: the tracking code (or challenged-ballot id) and board index."""

    state: str
    code: str
    board_index: int


def init_election(store: Store, manifest: Manifest) -> bytes:
    """Create the election and publish its manifest as board entry 0; returns the base hash."""
    entry = manifest.canonical()
    h = election_base_hash(entry)
    if store.election(manifest.election_id) is not None:
        raise ElectionError(f"election {manifest.election_id!r} already exists in this database")
    store.create_election(manifest.election_id, h.hex(), entry)
    store.append_entry(manifest.election_id, entry, "manifest")
    return h


def load_context(store: Store, election_id: str) -> ElectionContext:
    """The manifest, base hash and (once the ceremony is held) the election key."""
    record = store.election(election_id)
    if record is None:
        raise ElectionError(f"no election {election_id!r} in this database (run election init)")
    manifest_doc = json_loads(record.manifest)
    manifest = parse_manifest(manifest_doc["manifest"], f"election {election_id}")
    base_hash = bytes.fromhex(record.base_hash)
    transcript = None
    ceremonies = store.entries_of_type(election_id, "ceremony")
    if ceremonies:
        doc = json_loads(ceremonies[0][1])
        transcript = CeremonyTranscript.model_validate(doc["transcript"])
    key = None
    if transcript is not None:
        group = get_group(transcript.group)
        key = ElectionKey(group, group.decode(bytes.fromhex(transcript.joint_key)))
    return ElectionContext(election_id, manifest, base_hash, key, transcript)


def json_loads(data: bytes) -> dict[str, Any]:
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise ElectionError("a board entry is not a JSON object")
    return doc


def hold_ceremony(
    store: Store, ctx: ElectionContext, guardians: int, quorum: int, keys_dir: Path
) -> CeremonyTranscript:
    """Run the key ceremony, publish its transcript, and write one key share file per guardian
    (`keys_dir/guardian-<i>.key`, mode 0600). The shares never touch the database."""
    if ctx.transcript is not None:
        raise ElectionError("the key ceremony of this election has already been held")
    group = get_group(ctx.manifest.group)
    outcome = run_ceremony(group, guardians, quorum, ctx.base_hash)
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for index, share in outcome.shares.items():
        write_key_share(keys_dir / f"guardian-{index}.key", share)
    entry = canonical_json(
        {
            "type": "ceremony",
            "election": ctx.base_hash.hex(),
            "transcript": outcome.transcript.model_dump(mode="json"),
        }
    )
    store.append_entry(ctx.election_id, entry, "ceremony")
    return outcome.transcript


def _require_key(ctx: ElectionContext) -> ElectionKey[Any]:
    if ctx.key is None:
        raise ElectionError("the key ceremony has not been held yet (run election ceremony)")
    return ctx.key


def cast(store: Store, ctx: ElectionContext, ballot: dict[str, Any]) -> Receipt:
    """Check `ballot` and cast it at its station: a tracking code chained on the station's last."""
    ek = _require_key(ctx)
    check_ballot(ctx.manifest, ek, ctx.base_hash, ballot)
    station = ballot["station"]
    body = canonical_json(ballot)

    def chained(previous: str) -> tuple[str, bytes]:
        # Called by the store inside its transaction, with the station's head at that moment:
        # concurrent casts at one station queue up instead of conflicting.
        code = tracking_code(ctx.base_hash, station, previous, body)
        entry = {
            "type": "ballot-cast",
            "ballot": ballot,
            "previous": previous,
            "tracking_code": code,
        }
        return code, canonical_json(entry)

    try:
        code, index = store.cast_chained(
            ctx.election_id, station, ballot["district"], tracking_start(ctx.base_hash, station),
            chained, "ballot-cast", "cast", ballot_hash=ballot_id(ctx.base_hash, body),
        )  # fmt: skip
    except ReplayError:
        raise BallotError("this ballot was already cast (replayed ballot)") from None
    return Receipt("cast", code, index)


def challenge(
    store: Store, ctx: ElectionContext, ballot: dict[str, Any], opened: OpenedBallot
) -> Receipt:
    """Publish a challenged ballot decrypted (Benaloh): never counted, checkable by anyone."""
    ek = _require_key(ctx)
    check_ballot(ctx.manifest, ek, ctx.base_hash, ballot)
    if not check_opened(ek, ballot, opened.choices, opened.nonces):
        raise BallotError("the revealed choices and nonces do not re-encrypt to the ballot")
    group = ek.group
    body = canonical_json(ballot)
    code = ballot_id(ctx.base_hash, body)
    entry = canonical_json(
        {
            "type": "ballot-challenged",
            "ballot": ballot,
            "ballot_id": code,
            "choices": list(opened.choices),
            "nonces": [group.encode_scalar(r).hex() for r in opened.nonces],
        }
    )
    station = ballot["station"]
    try:
        _, index = store.cast_chained(
            ctx.election_id, station, ballot["district"], tracking_start(ctx.base_hash, station),
            lambda _previous: (code, entry), "ballot-challenged", "challenged", ballot_hash=code,
        )  # fmt: skip
    except ReplayError:
        raise BallotError("this ballot was already published") from None
    return Receipt("challenged", code, index)
