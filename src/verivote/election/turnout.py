"""The authority's side of provable turnout (issue 19; `verivote.polling.turnout` for the
entries and the arithmetic): the pseudonym key's ceremony (in this process, for tests and the
in-process flow; over HTTP the guardians run `verivote guardian ceremony`), the roll's size,
its blinding into batches, the guardians' answers checked as they arrive, the pseudonyms and
the roll commitment, each station's check-ins after its close, the voters' status codes, what
the status service shows a voter, and their complaints.

The authority learns each voter's pseudonym (as it knows who checked in: README, trust
table); it never holds the pseudonym key, so it cannot compute the pseudonym of anyone not on
the roll it committed (the guardians answer at most `roll-size` evaluations).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from verivote.board.roll_commitment import Commitment, commitment, leaves
from verivote.crypto.ceremony import CeremonyTranscript, public_share, run_ceremony
from verivote.crypto.groups import get_group
from verivote.crypto.keyfile import read_key_share, write_key_share
from verivote.crypto.oprf import OprfError, evaluate, key_context
from verivote.election.guardians import (
    PSEUDONYM_CEREMONY_TYPE,
    PSEUDONYM_KEY,
    Refused,
    ceremony_entry,
)
from verivote.election.service import ElectionContext, ElectionError
from verivote.model.canonical import canonical_json
from verivote.polling.turnout import (
    BATCH,
    CHECKINS_TYPE,
    COMMITMENT_TYPE,
    ROLL_SIZE_TYPE,
    Answer,
    batch_pseudonyms,
    blind_codes,
    checked_answers,
    checkins_entries,
    commitment_entry,
    evaluation_context,
    new_status_code,
    parse_answer,
    roll_size_entry,
    same_hash,
    status_code_hash,
)
from verivote.store import Store
from verivote.store import turnout as db

Progress = Callable[[int, int], None]


def pseudonym_transcript(store: Store, election_id: str) -> CeremonyTranscript | None:
    """The election's `pseudonym-ceremony` transcript, or None before it."""
    found = store.entries_of_type(election_id, PSEUDONYM_CEREMONY_TYPE)
    if not found:
        return None
    return CeremonyTranscript.model_validate(json.loads(found[0][1])["transcript"])


def hold_pseudonym_ceremony(
    store: Store, ctx: ElectionContext, guardians: int, quorum: int, keys_dir: Path
) -> CeremonyTranscript:
    """The pseudonym key's ceremony in this process (tests; the in-process flow): its
    transcript published, one share per guardian in `keys_dir/pseudonym-<i>.key` (0600)."""
    if pseudonym_transcript(store, ctx.election_id) is not None:
        raise ElectionError("the pseudonym key's ceremony has already been held")
    outcome = run_ceremony(
        get_group(ctx.manifest.group), guardians, quorum, key_context(ctx.base_hash)
    )
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for index, share in outcome.shares.items():
        write_key_share(keys_dir / f"pseudonym-{index}.key", share)
    store.append_entry(
        ctx.election_id,
        ceremony_entry(ctx, outcome.transcript, PSEUDONYM_KEY),
        PSEUDONYM_CEREMONY_TYPE,
    )
    return outcome.transcript


def reuse_pseudonym_key(
    store: Store, round2: ElectionContext, transcript: CeremonyTranscript
) -> None:
    """Round 1's pseudonym key for a runoff (as `reuse_ceremony` does the election key): the
    same voter has the same pseudonym in both rounds."""
    if pseudonym_transcript(store, round2.election_id) is not None:
        raise ElectionError("the round-2 election already has a pseudonym key")
    previous = round2.manifest.previous_round
    entry = canonical_json(
        {
            "type": PSEUDONYM_CEREMONY_TYPE,
            "election": round2.base_hash.hex(),
            "reused_from": previous.election_id if previous else None,
            "transcript": transcript.model_dump(mode="json"),
        }
    )
    store.append_entry(round2.election_id, entry, PSEUDONYM_CEREMONY_TYPE)


def _require(store: Store, ctx: ElectionContext) -> CeremonyTranscript:
    if not ctx.manifest.polling.turnout:
        raise ElectionError("this election's manifest does not make turnout provable")
    transcript = pseudonym_transcript(store, ctx.election_id)
    if transcript is None:
        raise ElectionError("the pseudonym key's ceremony has not been held")
    return transcript


def _entry(store: Store, election_id: str, kind: str) -> dict[str, Any] | None:
    found = store.entries_of_type(election_id, kind)
    return json.loads(found[0][1]) if found else None


def roll_size(store: Store, election_id: str) -> int | None:
    """The size the `roll-size` entry published, or None before it."""
    doc = _entry(store, election_id, ROLL_SIZE_TYPE)
    return None if doc is None else int(doc["size"])


# --- before polling day: the roll's pseudonyms and its commitment ------------------------------


def issue_status_codes(store: Store, ctx: ElectionContext) -> Iterator[tuple[str, str]]:
    """A status code for each voter of the roll without one: (national code, status code),
    to be delivered with the voter's notification (the database keeps only its hash)."""
    for chunk in db.without_status(store.engine, ctx.election_id):
        issued = [(code, new_status_code()) for code in chunk]
        db.set_status_hashes(
            store.engine,
            ctx.election_id,
            [(code, status_code_hash(ctx.base_hash, code, status)) for code, status in issued],
        )
        yield from issued


def blind_roll(store: Store, ctx: ElectionContext, progress: Progress | None = None) -> int:
    """Publish the roll's size (once), then blind every voter not yet in a batch, in batches
    of BATCH; returns how many batches there are."""
    transcript = _require(store, ctx)
    counts = db.roll_counts(store.engine, ctx.election_id)
    published = _entry(store, ctx.election_id, ROLL_SIZE_TYPE)
    if published is None:
        store.append_entry(ctx.election_id, roll_size_entry(ctx.base_hash, counts), ROLL_SIZE_TYPE)
    elif published["counts"] != dict(sorted(counts.items())):
        raise ElectionError("the roll changed after its size was published")
    group = get_group(ctx.manifest.group)
    context = bytes.fromhex(transcript.base_hash)
    total = sum(counts.values())
    done = 0
    batch = db.next_batch(store.engine, ctx.election_id)
    for chunk in db.unblinded(store.engine, ctx.election_id):
        for start in range(0, len(chunk), BATCH):
            part = chunk[start : start + BATCH]
            blinded, factors = blind_codes(group, context, [code for code, _ in part])
            db.add_batch(
                store.engine,
                ctx.election_id,
                batch,
                json.dumps([group.encode(b).hex() for b in blinded]),
                [
                    (code, j, hex(r))
                    for j, ((code, _), r) in enumerate(zip(part, factors, strict=True))
                ],
            )
            batch += 1
            done += len(part)
            if progress:
                progress(done, total)
    return db.batch_count(store.engine, ctx.election_id)


def batches_doc(store: Store, ctx: ElectionContext, start: int, limit: int) -> dict[str, Any]:
    """What a guardian fetches to evaluate (GET /api/pseudonyms/batches)."""
    _require(store, ctx)
    size = roll_size(store, ctx.election_id)
    if size is None:
        raise Refused(409, "the roll's size is not published yet")
    return {
        "election": ctx.election_id,
        "base_hash": ctx.base_hash.hex(),
        "roll_size": size,
        "batches_total": db.batch_count(store.engine, ctx.election_id),
        "batches": [
            {"batch": n, "blinded": json.loads(body)}
            for n, body in db.batches(store.engine, ctx.election_id, start, limit)
        ],
    }


def _shares(transcript: CeremonyTranscript) -> dict[int, bytes]:
    group = get_group(transcript.group)
    return {i: public_share(group, transcript, i) for i in range(1, transcript.guardians + 1)}


def accept_answer(store: Store, ctx: ElectionContext, guardian: int, doc: Any) -> int:
    """Keep guardian `guardian`'s answer to a batch once its proof checks against its public
    share of the pseudonym key; returns the batch's number."""
    transcript = _require(store, ctx)
    group = get_group(ctx.manifest.group)
    try:
        batch = int(doc["batch"])
    except (KeyError, TypeError, ValueError):
        raise Refused(400, "an answer names its batch") from None
    found = db.batches(store.engine, ctx.election_id, batch, 1)
    if not found or found[0][0] != batch:
        raise Refused(404, f"no batch {batch}")
    blinded = [group.decode(bytes.fromhex(b)) for b in json.loads(found[0][1])]
    try:
        answer = parse_answer(group, doc, len(blinded))
        checked_answers(group, bytes.fromhex(transcript.base_hash), batch, 1,
                        {guardian: public_share(group, transcript, guardian)}, blinded,
                        {guardian: answer})  # fmt: skip
    except (OprfError, KeyError) as exc:
        raise Refused(400, f"answer refused: {exc}") from None
    body = json.dumps(answer.to_json(group), sort_keys=True)
    try:
        db.put_answer(store.engine, ctx.election_id, batch, guardian, body)
    except db.AnswerConflict as exc:
        # A guardian answering again after a crash makes a new proof of the same values.
        kept = json.loads(db.answers(store.engine, ctx.election_id, batch)[guardian])
        if kept["evaluated"] != answer.to_json(group)["evaluated"]:
            raise Refused(409, str(exc)) from None
    return batch


def evaluate_in_process(
    store: Store, ctx: ElectionContext, keys_dir: Path, guardians: list[int]
) -> None:
    """Each of `guardians` answers every batch with its share in `keys_dir` (tests and the
    in-process flow; `verivote guardian pseudonyms` does it as the guardian's own program)."""
    transcript = _require(store, ctx)
    context = bytes.fromhex(transcript.base_hash)
    group = get_group(ctx.manifest.group)
    for g in guardians:
        share = read_key_share(keys_dir / f"pseudonym-{g}.key")
        key = group.pow_g(share.secret)
        start = 0
        while found := db.batches(store.engine, ctx.election_id, start, 100):
            for n, body in found:
                blinded = [group.decode(bytes.fromhex(b)) for b in json.loads(body)]
                evaluated, proof = evaluate(
                    group, share.secret, key, blinded, evaluation_context(context, n)
                )
                accept_answer(
                    store, ctx, g, {"batch": n, **Answer(evaluated, proof).to_json(group)}
                )
            start = found[-1][0] + 1


def finish_roll(store: Store, ctx: ElectionContext, progress: Progress | None = None) -> Commitment:
    """Once a quorum of guardians answered every batch: each voter's pseudonym, and the
    `roll-commitment` entry (published once)."""
    transcript = _require(store, ctx)
    existing = _entry(store, ctx.election_id, COMMITMENT_TYPE)
    group = get_group(ctx.manifest.group)
    context = bytes.fromhex(transcript.base_hash)
    shares = _shares(transcript)
    total = db.batch_count(store.engine, ctx.election_id)
    if existing is None:
        for n in range(total):
            ((_, body),) = db.batches(store.engine, ctx.election_id, n, 1)
            blinded = [group.decode(bytes.fromhex(b)) for b in json.loads(body)]
            answers = {
                g: parse_answer(group, json.loads(a), len(blinded))
                for g, a in db.answers(store.engine, ctx.election_id, n).items()
            }
            members = db.members(store.engine, ctx.election_id, n)
            try:
                found = batch_pseudonyms(
                    group,
                    context,
                    n,
                    transcript.quorum,
                    shares,
                    blinded,
                    answers,
                    [int(r, 16) for _, _, r in members],
                )
            except OprfError as exc:
                raise ElectionError(str(exc)) from None
            db.set_pseudonyms(
                store.engine,
                ctx.election_id,
                [
                    (code, group.encode(p).hex())
                    for (code, _, _), p in zip(members, found, strict=True)
                ],
            )
            if progress:
                progress(n + 1, total)
        missing = db.missing_pseudonyms(store.engine, ctx.election_id)
        if missing:
            raise ElectionError(f"{missing} voters of the roll have no pseudonym yet")
    made = commitment(roll_leaves(store, ctx.election_id))
    size = roll_size(store, ctx.election_id)
    if made.size != size:
        raise ElectionError(f"the roll has {made.size} pseudonyms, its published size is {size}")
    if existing is None:
        store.append_entry(ctx.election_id, commitment_entry(ctx.base_hash, made), COMMITMENT_TYPE)
    elif existing["root"] != made.root:
        raise ElectionError("the roll's pseudonyms are not those of its published commitment")
    return made


def roll_leaves(store: Store, election_id: str) -> list[bytes]:
    """The committed roll's leaves, in published order (the record's `roll.txt`)."""
    return leaves(db.roll_pairs(store.engine, election_id))


def write_roll(store: Store, election_id: str, path: Path) -> None:
    """The roll's leaves as the record's `roll.txt`, one per line."""
    with path.open("wb") as fh:
        for x in roll_leaves(store, election_id):
            fh.write(x + b"\n")


def prepare_roll(
    store: Store, ctx: ElectionContext, keys_dir: Path, guardians: list[int]
) -> Commitment:
    """The whole roll commitment in this process: blind, the guardians answer, finish."""
    blind_roll(store, ctx)
    evaluate_in_process(store, ctx, keys_dir, guardians)
    return finish_roll(store, ctx)


# --- polling day: the check-ins --------------------------------------------------------------


def publish_checkins(
    store: Store, ctx: ElectionContext, station: str, log: str, before_hour: int | None = None
) -> int:
    """Publish the pseudonyms of the voters checked in at `station` not yet published, one
    `checkins` entry per hour, in the station's district `log`; returns how many. With
    `before_hour`, only the hours before it (the hourly publication while the polls are open:
    `verivote polls checkins --before-hour H`); a check-in of an earlier hour that arrives
    late (an offline station's upload) goes in a later entry of its hour."""
    if not ctx.manifest.polling.turnout:
        return 0
    if db.unpseudonymous_checkins(store.engine, ctx.election_id, station):
        raise ElectionError(f"{station} checked in voters who have no pseudonym")
    published: set[str] = set()
    for _, raw in store.entries_of_type(ctx.election_id, CHECKINS_TYPE, log=log):
        doc = json.loads(raw)
        if doc.get("station") == station:
            published.update(doc["pseudonyms"])
    found = [
        (h, p)
        for h, p in db.station_checkins(store.engine, ctx.election_id, station)
        if p not in published and (before_hour is None or h < before_hour)
    ]
    for entry in checkins_entries(ctx.base_hash, station, found):
        store.append_entry(ctx.election_id, entry, CHECKINS_TYPE, log=log)
    return len(found)


# --- the voter's status and complaints --------------------------------------------------------


def status_of(
    store: Store, ctx: ElectionContext, national_code: str, status_code: str
) -> dict[str, Any] | None:
    """What the status service shows a voter who gave their status code: their pseudonym
    with what their device needs to check it, and where they were checked in. None for a
    wrong code or someone not on the roll (the caller answers both alike)."""
    stored = db.status_hash(store.engine, ctx.election_id, national_code)
    given = status_code_hash(ctx.base_hash, national_code, status_code)
    if stored is None or not same_hash(stored, given):
        return None
    found = db.voter_pseudonym(store.engine, ctx.election_id, national_code)
    if found is None or found[4] is None:
        return {"on_roll": True, "pseudonym": None}
    district, batch, position, blind, pseudonym = found
    ((_, body),) = db.batches(store.engine, ctx.election_id, batch, 1)
    checkin = db.checkin_of(store.engine, ctx.election_id, national_code)
    return {
        "on_roll": True,
        "district": district,
        "pseudonym": pseudonym,
        "batch": batch,
        "position": position,
        "blind": blind,
        "blinded": json.loads(body),
        "answers": {
            str(g): json.loads(a)
            for g, a in sorted(db.answers(store.engine, ctx.election_id, batch).items())
        },
        "checked_in": None if checkin is None else {"station": checkin[0], "hour": checkin[1]},
    }


def file_complaint(
    store: Store, ctx: ElectionContext, national_code: str, status_code: str, text: str
) -> int | None:
    """Record a voter's complaint (with their check-in's station and hour, if any) for the
    supervisors; None for a wrong status code."""
    if status_of(store, ctx, national_code, status_code) is None:
        return None
    checkin = db.checkin_of(store.engine, ctx.election_id, national_code)
    return db.add_complaint(
        store.engine,
        ctx.election_id,
        national_code,
        checkin[0] if checkin else None,
        checkin[1] if checkin else None,
        text[:2000],
    )
