"""Casting on a real database (SQLite and PostgreSQL): cast or challenge, tracking codes that
are the hash of the ballot (issue 14: not chained), refusals that leave nothing behind,
checkpoints cosigned by the factions' witnesses, inclusion proofs, and the exported record
checked independently."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.manifests import small_manifest_data
from tests.store_fixtures import BACKENDS, backend_database
from verivote.crypto import wire
from verivote.crypto.ballot import BallotError, check_opened, encrypt_ballot
from verivote.crypto.groups import get_group
from verivote.crypto.tracking import code_of
from verivote.election.polls import close_polls, open_polls
from verivote.election.publishing import (
    check_inclusion,
    create_signers,
    export_record,
    local_witnesses,
    make_checkpoint,
    prove_inclusion,
    verifier_keys,
)
from verivote.election.service import (
    AlreadyCast,
    ElectionContext,
    cast,
    challenge,
    hold_ceremony,
    init_election,
    load_context,
)
from verivote.model.manifest import parse_manifest
from verivote.store import Store, make_engine, migrate
from verivote.store.repo import PollsClosed

OPEN = ["tabriz-001", "tabriz-002", "tabriz-003", "isfahan-arm-1"]


@pytest.fixture(params=BACKENDS)
def election(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Path]]:
    with backend_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        migrate(engine)
        store = Store(engine)
        manifest = parse_manifest(small_manifest_data())
        keys = tmp_path / "keys"
        create_signers(keys, manifest)
        local_witnesses(keys, tmp_path / "witnesses", manifest)
        init_election(store, manifest)
        hold_ceremony(store, load_context(store, manifest.election_id), 3, 2, keys)
        open_polls(store, load_context(store, manifest.election_id), OPEN)
        yield store, keys
        engine.dispose()


def context(store: Store) -> ElectionContext:
    return load_context(store, "test-2024")


def new_ballot(
    ctx: ElectionContext, station: str, choices: list[str]
) -> tuple[dict[str, Any], Any]:
    assert ctx.key is not None
    return encrypt_ballot(ctx.manifest, ctx.key, ctx.base_hash, station, choices)


def entry(store: Store, at: tuple[str, int]) -> dict[str, Any]:
    """The entry at (log, index): a ballot is in its district's log (issue 17)."""
    log, index = at
    doc: dict[str, Any] = json.loads(store.entries("test-2024", index, index + 1, log=log)[0])
    return doc


def board_total(store: Store) -> int:
    """Entries in every log of the election."""
    return sum(store.logs("test-2024").values())


def flush(store: Store) -> None:
    """Close every open batch now (as the server's timer does once a batch is old enough)."""
    store.flush_due("test-2024", 0)


def on_board(store: Store, code: str) -> tuple[str, int]:
    """The log (its district's) and index of the ballot `code`, its batch flushed first."""
    flush(store)
    record = store.ballot("test-2024", code)
    assert record is not None
    assert record.board_log == record.district_id
    return record.board_log, record.board_idx


def test_a_tracking_code_is_the_hash_of_the_ballot_and_chains_nothing(
    election: tuple[Store, Path],
) -> None:
    store, _ = election
    ctx = context(store)
    votes = [("tabriz-001", ["1101"]), ("tabriz-002", ["1102"]), ("tabriz-001", ["1103"])]
    ballots = [new_ballot(ctx, station, choices)[0] for station, choices in votes]
    receipts = [cast(store, ctx, b) for b in ballots]
    assert {r.board_index for r in receipts} == {None}  # waiting in their stations' batches
    for ballot, receipt in zip(ballots, receipts, strict=True):
        assert receipt.code == code_of(ctx.base_hash, ballot)
        assert entry(store, on_board(store, receipt.code)) == {
            "type": "ballot-cast", "ballot": ballot, "tracking_code": receipt.code,
        }  # fmt: skip
    assert len({r.code for r in receipts}) == 3
    assert len({b["nonce"] for b in ballots}) == 3


def test_a_ballot_is_refused_at_a_station_that_is_not_open(election: tuple[Store, Path]) -> None:
    store, _ = election
    ctx = context(store)
    close_polls(store, ctx, ["tabriz-003"])
    before = board_total(store)
    with pytest.raises(PollsClosed, match="not open"):
        cast(store, ctx, new_ballot(ctx, "tabriz-003", ["1101"])[0])
    ballot, opened = new_ballot(ctx, "tabriz-003", ["1101"])
    with pytest.raises(PollsClosed, match="not open"):
        challenge(store, ctx, ballot, opened)
    assert board_total(store) == before


def test_a_challenged_ballot_is_published_opened_and_never_cast(
    election: tuple[Store, Path],
) -> None:
    store, _ = election
    ctx = context(store)
    assert ctx.key is not None
    cast_receipt = cast(store, ctx, new_ballot(ctx, "tabriz-001", ["1101"])[0])
    ballot, opened = new_ballot(ctx, "tabriz-001", ["1105", "1102"])
    challenged = challenge(store, ctx, ballot, opened)
    published = entry(store, on_board(store, challenged.code))
    assert published["type"] == "ballot-challenged"
    assert published["choices"] == ["1102", "1105"]
    nonces = [wire.scalar_from_hex(ctx.key.group, r) for r in published["nonces"]]
    assert check_opened(ctx.key, published["ballot"], published["choices"], nonces)
    assert challenged.code == published["ballot_id"] == code_of(ctx.base_hash, ballot)
    assert challenged.code != cast_receipt.code
    # A challenged ballot can never be cast afterwards.
    with pytest.raises(BallotError, match="already"):
        cast(store, ctx, ballot)


def wrong_hash(b: dict[str, Any]) -> None:
    b["election"] = "11" * 32


def other_district(b: dict[str, Any]) -> None:
    b["district"] = "armenians-south"


def bad_proof(b: dict[str, Any]) -> None:
    group = get_group()
    v = wire.scalar_from_hex(group, b["selections"][2]["proof"]["responses"][0])
    b["selections"][2]["proof"]["responses"][0] = wire.scalar_hex(group, (v + 1) % group.q)


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [(wrong_hash, "another election"), (other_district, "not the district"),
     (bad_proof, "does not verify")],
)  # fmt: skip
def test_a_bad_ballot_is_refused_and_nothing_is_written(
    election: tuple[Store, Path], spoil: Any, reason: str
) -> None:
    store, _ = election
    ctx = context(store)
    ballot, _ = new_ballot(ctx, "tabriz-003", ["1101"])
    spoil(ballot)
    before = board_total(store)
    with pytest.raises(BallotError, match=reason):
        cast(store, ctx, ballot)
    assert board_total(store) == before
    assert store.station_counts("test-2024").get("tabriz-003", (0, 0)) == (0, 0)
    assert store.ballot_state("test-2024", code_of(ctx.base_hash, ballot)) is None


def test_a_replayed_ballot_is_refused(election: tuple[Store, Path]) -> None:
    store, _ = election
    ctx = context(store)
    ballot, _ = new_ballot(ctx, "tabriz-001", ["1101"])
    first = cast(store, ctx, ballot)
    before = (board_total(store), store.station_counts("test-2024"))
    # the very ballot again (a device's retry): the first receipt, nothing recorded twice
    with pytest.raises(AlreadyCast, match="already accepted") as again:
        cast(store, ctx, copy.deepcopy(ballot))
    assert again.value.receipt == first
    flush(store)
    with pytest.raises(AlreadyCast):
        cast(store, ctx, copy.deepcopy(ballot))
    assert store.station_counts("test-2024") == before[1]
    assert board_total(store) == before[0] + 1


def test_concurrent_casts_at_one_station_all_land(election: tuple[Store, Path]) -> None:
    store, _ = election
    ctx = context(store)
    ballots = [new_ballot(ctx, "tabriz-002", ["1103"])[0] for _ in range(12)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        receipts = list(pool.map(lambda b: cast(store, ctx, b), ballots))
    indices = sorted(on_board(store, r.code)[1] for r in receipts)
    assert indices == list(range(indices[0], indices[0] + 12))
    for ballot, r in zip(ballots, receipts, strict=True):
        index = on_board(store, r.code)
        assert entry(store, index)["tracking_code"] == r.code == code_of(ctx.base_hash, ballot)


def test_checkpoints_inclusion_proofs_and_the_record(
    election: tuple[Store, Path], tmp_path: Path
) -> None:
    store, keys = election
    ctx = context(store)
    receipts = [cast(store, ctx, new_ballot(ctx, "tabriz-001", ["1101"])[0]) for _ in range(3)]
    flush(store)
    first = make_checkpoint(store, ctx, keys)
    assert first.witnesses == ["witness/principlists", "witness/reformists", "witness/independents"]
    assert first.refusals == []
    proof = prove_inclusion(store, ctx, keys, receipts[1].code)
    assert check_inclusion(proof, verifier_keys(keys))
    forged = dict(proof, entry=proof["entry"].replace("ballot-cast", "ballot-cas"))
    assert not check_inclusion(forged, verifier_keys(keys))
    cast(store, ctx, new_ballot(ctx, "isfahan-arm-1", ["2202"])[0])
    flush(store)
    second = make_checkpoint(store, ctx, keys)
    assert second.size == first.size + 1
    assert second.refusals == []

    size = export_record(store, ctx, keys, tmp_path / "record")
    log = tmp_path / "record" / "log"
    # An independent re-computation, with hashlib only, of the RFC 6962 root of the entries.
    lines = (log / "entries.jsonl").read_bytes().split(b"\n")[:-1]
    assert len(lines) == size

    def mth(leaves: list[bytes]) -> bytes:
        if len(leaves) == 1:
            return hashlib.sha256(b"\x00" + leaves[0]).digest()
        k = 1
        while k * 2 < len(leaves):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()

    note = (log / "checkpoint").read_text(encoding="utf-8")
    text, _, signatures = note.partition("\n\n")
    body = text + "\n"
    origin, tree_size, root = body.splitlines()[:3]
    assert int(tree_size) == size
    assert base64.b64decode(root) == mth(lines)
    # Every signature line verifies with plain Ed25519 under log/keys (C2SP signed note).
    keys_by_id: dict[tuple[str, bytes], Ed25519PublicKey] = {}
    for vkey in (log / "keys").read_text(encoding="utf-8").split():
        name, key_id, key = vkey.split("+", 2)
        raw = base64.b64decode(key)
        assert raw[0] == 1
        keys_by_id[(name, bytes.fromhex(key_id))] = Ed25519PublicKey.from_public_bytes(raw[1:])
    lines_signed = [s for s in signatures.splitlines() if s]
    assert len(lines_signed) == 4  # the authority and three witnesses
    for line in lines_signed:
        dash, name, sig = line.split(" ")
        assert dash == "\u2014"
        raw = base64.b64decode(sig)
        keys_by_id[(name, raw[:4])].verify(raw[4:], body.encode())
    assert origin == "verivote/test-2024"
