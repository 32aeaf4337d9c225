"""The election's steps over its store: publish the manifest, hold the key ceremony, cast and
challenge ballots (issue 4, "Casting"; issue 5, steps 1–3).

Every step writes an entry on the board (`Store.append_entry`; ballots wait in their station's
batch and go onto the board with their rows when it closes, `Store.accept_ballot`, issue 15),
as canonical JSON with a `type`:

    manifest            {"type": "manifest", "manifest": {...}}
    ceremony            {"type": "ceremony", "election": base hash, "transcript": {...}}
    ballot-cast         {"type": "ballot-cast", "ballot": {...}, "tracking_code": code}
    ballot-challenged   {"type": "ballot-challenged", "ballot": {...}, "ballot_id": code,
                         "choices": [codes], "nonces": [hex scalars]}

where the ballot is the district's kind (issue 16, `District.counted_by`): marks per candidate
(`verivote.crypto.ballot`) or, in a mixnet district, the codes as written
(`verivote.crypto.written`, whose challenged ballots reveal the codes as written and the w
nonces), and code is the ballot's tracking code, H("tracking-code", base hash, ballot), which the
device showed before the voter chose to cast or challenge (issue 14, item 6).

`cast` and `challenge` refuse, before anything is written, every ballot the verifier would
reject (issue 14, item 5): a ballot that is not exactly a ballot's JSON, a proof that does not
verify under its election, district, station and nonce, an unknown station or a district that
is not the station's, a station whose polls are not open, a ballot or a nonce already on the
board (cast or challenged: a replay or a copy), a challenged ballot whose opening does not
open it. Hence no sequence of calls to them, however hostile, can make the record fail the
verifier. A refused ballot leaves no trace.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verivote.crypto.ballot import BallotError, OpenedBallot, opening_to_json
from verivote.crypto.ceremony import CeremonyTranscript, run_ceremony
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.groups import get_group
from verivote.crypto.hashing import election_base_hash
from verivote.crypto.keyfile import write_key_share
from verivote.crypto.tracking import tracking_code
from verivote.crypto.written import any_opening_problem, check_any_ballot
from verivote.model.canonical import canonical_json
from verivote.model.manifest import Manifest, parse_manifest
from verivote.store import Admitted, Batching, Pending, ReplayError, Store


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
    """What the voter takes home: the tracking code (or challenged-ballot id) and board index,
    None while the station's batch is open (the ballot goes onto the board when it closes)."""

    state: str
    code: str
    board_index: int | None


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


def _checked(ctx: ElectionContext, ballot: Any) -> tuple[dict[str, Any], bytes]:
    """The ballot exactly as the board and the verifier will read it (its canonical JSON
    parsed back), checked completely, and that canonical JSON; BallotError otherwise."""
    ek = _require_key(ctx)
    doc, body = _canonical(ballot)
    check_any_ballot(ctx.manifest, ek, ctx.base_hash, doc)
    return doc, body


def _canonical(ballot: Any) -> tuple[Any, bytes]:
    """The ballot's canonical JSON and that JSON parsed back; BallotError if it has none."""
    try:
        body = canonical_json(ballot)
        return json.loads(body), body
    except (TypeError, ValueError, RecursionError) as exc:
        raise BallotError(f"the ballot has no canonical JSON form ({exc})") from None


def _pending(prepared: PreparedBallot, state: str) -> Pending:
    return Pending(
        prepared.station, prepared.district, prepared.code, prepared.nonce, prepared.entry,
        f"ballot-{state}", state,
    )  # fmt: skip


_REPLAYED = (
    "this ballot is already on the board (a replayed or copied ballot: its tracking code or its "
    "nonce was used before)"
)


def _publish(store: Store, ctx: ElectionContext, prepared: PreparedBallot, state: str) -> Admitted:
    """Admit the ballot's entry into its station's batch (`Store.accept_ballot`), refused
    (nothing written) if its station's polls are not open, if its station's cast ballots would
    outnumber its check-ins, or if its code or its nonce is already used, cast or challenged."""
    try:
        return store.accept_ballot(
            ctx.election_id, _pending(prepared, state), batching_of(ctx),
            roll=ctx.manifest.polling.roll,
        )  # fmt: skip
    except ReplayError:
        raise BallotError(_REPLAYED) from None


def record_casts(
    store: Store, ctx: ElectionContext, prepared: Sequence[PreparedBallot]
) -> list[Receipt | Exception]:
    """`record_cast` for many ballots in ONE transaction (the cast API's group commit): one
    answer per ballot, in order, a Receipt or the error `record_cast` would raise."""
    answers = store.accept_ballots(
        ctx.election_id, [_pending(p, "cast") for p in prepared], batching_of(ctx),
        roll=ctx.manifest.polling.roll,
    )  # fmt: skip
    out: list[Receipt | Exception] = []
    for answer in answers:
        if isinstance(answer, ReplayError):
            out.append(BallotError(_REPLAYED))
        elif isinstance(answer, Exception):
            out.append(answer)
        else:
            try:
                out.append(_receipt(answer))
            except AlreadyCast as again:
                out.append(again)
    return out


def batching_of(ctx: ElectionContext) -> Batching:
    """The election's batches, from its manifest (`polling.batch_ballots`, `batch_minutes`)."""
    polling = ctx.manifest.polling
    return Batching(polling.batch_ballots, polling.batch_minutes * 60)


def _receipt(admitted: Admitted) -> Receipt:
    receipt = Receipt(admitted.state, admitted.tracking_code, admitted.board_idx)
    if admitted.again:
        raise AlreadyCast(receipt)
    return receipt


@dataclass(frozen=True)
class PreparedBallot:
    """A ballot checked completely and ready to be recorded (`prepare_cast`): where it is cast,
    its nonce, its tracking code and its board entry. Flat plain data, so that a process pool
    can check ballots and hand them back at little cost (a parsed ballot is a tree of
    hundreds of objects to pickle; its entry is one bytes object)."""

    station: str
    district: str
    nonce: str
    code: str
    entry: bytes


class AlreadyCast(BallotError):
    """This very ballot was accepted before: a device's retry or re-upload, answered with the
    first receipt and recorded once."""

    def __init__(self, receipt: Receipt) -> None:
        super().__init__(f"ballot {receipt.code} was already accepted")
        self.receipt = receipt


def prepare_cast(ctx: ElectionContext, ballot: Any) -> PreparedBallot:
    """Check `ballot` as the verifier will (every proof): CPU only, no database; BallotError
    if it fails. Run in a process pool by the cast API."""
    doc, body = _checked(ctx, ballot)
    return _prepared(ctx, doc, body)


def _prepared(ctx: ElectionContext, doc: dict[str, Any], body: bytes) -> PreparedBallot:
    code = tracking_code(ctx.base_hash, body)
    return PreparedBallot(
        str(doc["station"]), str(doc["district"]), str(doc["nonce"]), code, cast_entry(body, code)
    )


def cast_entry(body: bytes, code: str) -> bytes:
    """The board entry of a cast ballot whose canonical JSON is `body`: exactly
    canonical_json({"type": "ballot-cast", "ballot": ballot, "tracking_code": code}), put
    together from the bytes already made (its keys in canonical order, the ballot's bytes as
    they are, the code hexadecimal), which saves serialising the ballot a second time."""
    if not all(c in "0123456789abcdef" for c in code):
        raise ValueError("a tracking code is lowercase hexadecimal")
    return b'{"ballot":' + body + b',"tracking_code":"' + code.encode() + b'","type":"ballot-cast"}'


def prepare_unchecked(ctx: ElectionContext, ballot: Any) -> PreparedBallot:
    """`prepare_cast` WITHOUT checking any proof, for `verivote bench cast-api --no-proofs`
    only (the append path measured alone, as if the proofs had been checked elsewhere): the
    same canonical JSON, tracking code and board entry. Never reachable from a served API."""
    doc, body = _canonical(ballot)
    if not isinstance(doc, dict) or not all(
        isinstance(doc.get(k), str) for k in ("station", "district", "nonce")
    ):
        raise BallotError("the ballot has no station, district or nonce")
    return _prepared(ctx, doc, body)


def record_cast(store: Store, ctx: ElectionContext, prepared: PreparedBallot) -> Receipt:
    """Record a ballot `prepare_cast` checked, at its station: AlreadyCast for this very ballot
    accepted before, BallotError for a copy (its nonce used by another ballot), PollsClosed if
    the station is not open, NoCheckin if the station's ballots would outnumber its check-ins."""
    return _receipt(_publish(store, ctx, prepared, "cast"))


def cast(store: Store, ctx: ElectionContext, ballot: dict[str, Any]) -> Receipt:
    """Check `ballot` and cast it at its station; the receipt's code is the tracking code the
    device showed when it encrypted the ballot. PollsClosed if the station is not open."""
    return record_cast(store, ctx, prepare_cast(ctx, ballot))


def challenge(
    store: Store, ctx: ElectionContext, ballot: dict[str, Any], opened: OpenedBallot
) -> Receipt:
    """Publish a challenged ballot decrypted (Benaloh): never counted, checkable by anyone.
    Its id is the tracking code the device showed before the voter chose to challenge."""
    doc, body = _checked(ctx, ballot)
    ek = _require_key(ctx)
    try:
        opening = opening_to_json(ek.group, opened)
        problem = any_opening_problem(ctx.manifest, ek, doc, opening["choices"], opening["nonces"])
    except (TypeError, ValueError, OverflowError, AttributeError) as exc:
        problem = f"the opening is malformed ({exc})"
    if problem is not None:
        raise BallotError(problem)
    code = tracking_code(ctx.base_hash, body)
    entry = canonical_json(
        {"type": "ballot-challenged", "ballot": doc, "ballot_id": code, **opening}
    )
    prepared = PreparedBallot(doc["station"], doc["district"], doc["nonce"], code, entry)
    return _receipt(_publish(store, ctx, prepared, "challenged"))
