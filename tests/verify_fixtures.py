"""A small real election record for the verifier's tests, made once per test session, and the
tools to tamper with a copy of it as an attacker holding every signing key would.

The election is `tests/manifests.py`'s small manifest run through the election package's own
steps: 12 ballots cast and 1 challenged in round 1, a tie for the runoff field broken by lot,
guardian 4 of 5 absent at decryption, and a round 2 of 4 ballots that reuses round 1's key.
It is small so that one verification takes a fraction of a second: tamper suites verify it
hundreds of times.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.manifests import small_manifest_data
from tests.sealing_helpers import authority_key
from verivote.board.checkpoint import Checkpoint, format_checkpoint
from verivote.board.merkle import MerkleLog
from verivote.board.note import parse_verifier, sign, verifier_from_signer
from verivote.board.split import merge_logs
from verivote.board.tile_files import write_tiles
from verivote.crypto.ballot import encrypt_ballot
from verivote.crypto.ceremony import CeremonyTranscript
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.groups import get_group
from verivote.crypto.hashing import election_base_hash
from verivote.crypto.keyfile import read_key_share
from verivote.crypto.tracking import tracking_code
from verivote.election.count import run_count
from verivote.election.decryption import combine, decrypt_as_guardian
from verivote.election.polls import close_polls, open_polls
from verivote.election.publishing import (
    create_signers,
    local_witnesses,
    make_checkpoint,
    registered_witnesses,
)
from verivote.election.report import publish
from verivote.election.runoff import reuse_ceremony, runoff_manifest
from verivote.election.service import (
    ElectionContext,
    cast,
    challenge,
    hold_ceremony,
    init_election,
    load_context,
)
from verivote.election.tally import run_tally
from verivote.model.canonical import canonical_json
from verivote.model.manifest import Manifest, parse_manifest
from verivote.polling.roll import check_digit
from verivote.sim.election import contribute_all
from verivote.store import Store, make_engine, migrate
from verivote.store.roll import check_in, import_voters

PRESENT = (1, 2, 3, 5)
"""The guardians who decrypt (guardian 4 is absent; the quorum is 3 of 5)."""

# Tabriz (3 seats): 8 valid ballots, threshold 1.6. 1101 (5) and 1102 (4) are elected; 1103,
# 1104 and 1105 tie with one vote each for the two places of the runoff field: a lot.
ROUND1 = (
    ("tabriz-001", ["1101", "1102"]),
    ("tabriz-002", ["1101", "1102"]),
    ("tabriz-003", ["1101", "1102"]),
    ("tabriz-001", ["1101", "1102"]),
    ("tabriz-002", ["1101"]),
    ("tabriz-003", ["1103"]),
    ("tabriz-001", ["1104"]),
    ("tabriz-002", ["1105"]),
    ("tabriz-003", []),
    ("isfahan-arm-1", ["2201"]),
    ("isfahan-arm-1", ["2201"]),
    ("isfahan-arm-1", ["2202"]),
)
CHALLENGED = ("tabriz-001", ["1102"])
"""Challenged (then cast as the voter's first ballot at tabriz-001 above)."""


@dataclass(frozen=True)
class VerifyElection:
    """The two records, their keys folders (round 1's also holds the guardians' key shares)
    and a checkpoint of round 1 signed before its end (just before the count)."""

    round1: Path
    round2: Path
    keys1: Path
    keys2: Path
    early_checkpoint: Path


def _cast_all(
    store: Store,
    ctx: ElectionContext,
    votes: Any,
    challenged: Any | None = None,
    roll: bool = False,
) -> None:
    assert ctx.key is not None
    stations = [s.id for s in ctx.manifest.stations]
    open_polls(store, ctx, stations)
    if challenged is not None:
        ballot, opened = encrypt_ballot(ctx.manifest, ctx.key, ctx.base_hash, *challenged)
        challenge(store, ctx, ballot, opened)
    for n, (station, choices) in enumerate(votes):
        if roll:  # the voter checks in at the station first (round 1 has a voter roll)
            district = ctx.manifest.station(station).district
            voter = roll_code(district, n)
            assert check_in(store.engine, ctx.election_id, voter, station, district, 9,
                            f"request-{n:04d}").status == "accepted"  # fmt: skip
        ballot, _ = encrypt_ballot(ctx.manifest, ctx.key, ctx.base_hash, station, choices)
        cast(store, ctx, ballot)
    close_polls(store, ctx, stations)


def roll_code(district: str, n: int) -> str:
    """The national code of the test roll's n-th voter of a district."""
    nine = f"{len(district):03d}{n:06d}"
    return nine + check_digit(nine)


def decrypt_present(
    store: Store, ctx: ElectionContext, guardians: Path, keys: Path | None = None
) -> None:
    """The tally (sealing the district logs with the authority's key in `keys`, by default
    the `guardians` folder), the PRESENT guardians' partial decryptions (in-process) and
    their combining."""
    run_tally(store, ctx, processes=1, signer=authority_key(keys or guardians, ctx))
    for g in PRESENT:
        decrypt_as_guardian(store, ctx, read_key_share(guardians / f"guardian-{g}.key"))
    combine(store, ctx)


def make_election(directory: Path) -> VerifyElection:
    """Run both rounds in `directory` (database, keys, records)."""
    engine = make_engine(f"sqlite:///{directory / 'verify.db'}")
    migrate(engine)
    store = Store(engine)
    manifest = parse_manifest(small_manifest_data(), "test manifest")
    keys1, keys2 = directory / "keys1", directory / "keys2"
    create_signers(keys1, manifest)
    local_witnesses(keys1, directory / "witnesses", manifest)
    init_election(store, manifest)
    ctx = load_context(store, manifest.election_id)
    hold_ceremony(store, ctx, 5, 3, keys1)
    ctx = load_context(store, manifest.election_id)
    contribute_all(store, ctx, keys1, 5)
    import_voters(engine, ctx.election_id, [
        (roll_code(ctx.manifest.station(station).district, n),
         ctx.manifest.station(station).district, None)
        for n, (station, _) in enumerate(ROUND1)
    ])  # fmt: skip
    _cast_all(store, ctx, ROUND1, CHALLENGED, roll=True)
    decrypt_present(store, ctx, keys1)
    early = directory / "checkpoint-at-count"  # signed before the count, as at the close
    early.write_bytes(make_checkpoint(store, ctx, keys1).note.encode("utf-8"))
    count = run_count(store, ctx)
    publish(store, ctx, keys1, directory / "record-round1")

    second = runoff_manifest(ctx, count)
    assert second is not None, "the test election must need a runoff"
    create_signers(keys2, second)
    local_witnesses(keys2, directory / "witnesses", second)
    init_election(store, second)
    ctx2 = load_context(store, second.election_id)
    assert ctx.transcript is not None
    reuse_ceremony(store, ctx2, ctx.transcript)
    ctx2 = load_context(store, second.election_id)
    contribute_all(store, ctx2, keys1, 5)
    field = [c.code for c in second.districts[0].candidates]
    votes = [("tabriz-001", [field[0]]), ("tabriz-002", [field[0]]), ("tabriz-003", [field[1]])]
    _cast_all(store, ctx2, [*votes, ("tabriz-001", [])])
    decrypt_present(store, ctx2, keys1, keys2)
    run_count(store, ctx2)
    publish(store, ctx2, keys2, directory / "record-round2")
    engine.dispose()
    return VerifyElection(
        directory / "record-round1", directory / "record-round2", keys1, keys2, early
    )


@pytest.fixture(scope="session")
def verify_election(tmp_path_factory: pytest.TempPathFactory) -> VerifyElection:
    """The two-round election, made once per session. Never change its records: tamper
    with a `copy_record` of them."""
    return make_election(tmp_path_factory.mktemp("verify-election"))


# --- tampering ---------------------------------------------------------------------------


def copy_record(record: Path, destination: Path) -> Path:
    """A copy of the record folder at `destination`, to tamper with."""
    shutil.copytree(record, destination)
    return destination


def _entries_path(record: Path) -> Path:
    return record / "log" / "entries.jsonl"


def board_lines(record: Path) -> list[bytes]:
    """The record's board as one sequence: its single log, or its logs merged in the order
    of the README's "Order" (seals left out) when it has district logs."""
    national = _entries_path(record).read_bytes().split(b"\n")[:-1]
    folder = record / "districts"
    if not folder.is_dir():
        return national
    districts = {
        d.name: (d / "entries.jsonl").read_bytes().split(b"\n")[:-1] for d in folder.iterdir()
    }
    return merge_logs(national, districts)


def read_entries(record: Path) -> list[dict[str, Any]]:
    """The record's entries, parsed (its logs merged, `board_lines`)."""
    return [json.loads(line) for line in board_lines(record)]


def write_entries(record: Path, docs: list[dict[str, Any]]) -> None:
    """Replace the record's board with the single log `docs` (as canonical JSON; a record
    without district logs is still a valid form); the checkpoint is left as it was: `resign`
    it."""
    shutil.rmtree(record / "districts", ignore_errors=True)
    _entries_path(record).write_bytes(b"".join(canonical_json(d) + b"\n" for d in docs))


def _signer(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def resign(record: Path, keys: Path) -> None:
    """Rewrite log/checkpoint for the record's current entries, signed by the authority and
    cosigned by every witness registered in `keys` (each from its own folder, file:// URL):
    what an attacker holding every signing key of the election would publish."""
    authority = _signer(keys / "authority.key")
    folders = [Path(unquote(urlsplit(w.url).path)) for w in registered_witnesses(keys)]
    witnesses = [_signer(folder / "witness.key") for folder in folders]
    origin = parse_verifier(verifier_from_signer(authority)).name
    log = MerkleLog()
    for line in _entries_path(record).read_bytes().split(b"\n")[:-1]:
        log.append_entry(line)
    if (record / "log" / "tile").exists():  # the tiles such an attacker would publish too
        write_tiles(record / "log", (log.leaf_hash(i) for i in range(log.size)))
    text = format_checkpoint(Checkpoint(origin, log.size, log.root()))
    (record / "log" / "checkpoint").write_bytes(sign(text, [authority, *witnesses]).encode())


@dataclass(frozen=True)
class Public:
    """What anyone reads from a record: the manifest, base hash and election key."""

    manifest: Manifest
    base_hash: bytes
    key: ElectionKey[Any]
    transcript: CeremonyTranscript


def public(record: Path) -> Public:
    raw = _entries_path(record).read_bytes().split(b"\n")
    docs = read_entries(record)
    manifest = parse_manifest(docs[0]["manifest"])
    ceremony = next(d for d in docs if d["type"] == "ceremony")
    transcript = CeremonyTranscript.model_validate(ceremony["transcript"])
    group = get_group(transcript.group)
    key = ElectionKey(group, group.decode(bytes.fromhex(transcript.joint_key)))
    return Public(manifest, election_base_hash(raw[0]), key, transcript)


def recode(docs: list[dict[str, Any]], base_hash: bytes) -> None:
    """Recompute the tracking code of every cast ballot from its ballot, in place."""
    for doc in docs:
        if doc["type"] == "ballot-cast":
            doc["tracking_code"] = tracking_code(base_hash, canonical_json(doc["ballot"]))
