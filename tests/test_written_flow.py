"""A district counted by mixnet through cast, challenge and tally on SQLite and PostgreSQL
(issue 16, item 1): written ballots are cast and challenged as marked ones are, the tally
leaves the district out and publishes its `mix-input` entry just before, and the guardian and
the verifier both recompute that entry from the cast ballots and refuse any other."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.manifests import small_manifest_data
from tests.sealing_helpers import authority_key
from tests.store_fixtures import BACKENDS, backend_database
from verivote.board.checkpoint import Checkpoint
from verivote.board.merkle import MerkleLog
from verivote.crypto.ballot import BallotError, encrypt_ballot
from verivote.crypto.keyfile import read_key_share
from verivote.crypto.written import encrypt_for_station
from verivote.election.decryption import combine, decrypt_as_guardian
from verivote.election.lot import contribute_lot
from verivote.election.mixing import close_mix, decrypt_mix_as_guardian, mix_as
from verivote.election.polls import close_polls, open_polls
from verivote.election.service import (
    ElectionContext,
    ElectionError,
    cast,
    challenge,
    hold_ceremony,
    init_election,
    load_context,
)
from verivote.election.tally import (
    MIX_INPUT_TYPE,
    TALLY_TYPE,
    accumulate_all,
    mix_input_entry,
    run_tally,
)
from verivote.model.canonical import canonical_json
from verivote.model.manifest import parse_manifest
from verivote.parties import guardian
from verivote.store import Store, make_engine, migrate
from verivote.verify.ballot_chunk import Setup
from verivote.verify.ballot_pool import run_chunks
from verivote.verify.ballot_results import BallotResults
from verivote.verify.check_ballots import check_ballots
from verivote.verify.check_tally import check_tally
from verivote.verify.clashes import find_clashes
from verivote.verify.context import Election as VerifyElection
from verivote.verify.loader import Board as VerifyBoard

E = "test-2024"
STATIONS = ["tabriz-001", "tabriz-002", "tabriz-003", "isfahan-arm-1"]
# Written as the voters wrote them: repeats, a stranger, a code with a leading zero, nothing.
CAST = [
    ("tabriz-001", ["1101", "1102"]),
    ("isfahan-arm-1", ["2201"]),
    ("tabriz-002", ["1103", "1103", "0042"]),
    ("tabriz-003", []),
    ("isfahan-arm-1", []),
    ("tabriz-001", ["1105", "1104", "1101"]),
    ("tabriz-002", ["9"]),
]


@dataclass
class Written:
    store: Store
    keys: Path

    @property
    def ctx(self) -> ElectionContext:
        return load_context(self.store, E)


@pytest.fixture(params=BACKENDS)
def written(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Written]:
    """Tabriz counted by mixnet, the Armenians of the south homomorphically; CAST cast, one
    written ballot challenged, polls closed, 5 guardians (quorum 3) in the lot."""
    with backend_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        migrate(engine)
        store = Store(engine)
        data = small_manifest_data()
        data["districts"][0]["mode"] = "mixnet"
        manifest = parse_manifest(data)
        init_election(store, manifest)
        hold_ceremony(store, load_context(store, E), 5, 3, tmp_path / "keys")
        ctx = load_context(store, E)
        assert ctx.key is not None
        for g in range(1, 6):
            contribute_lot(store, ctx, read_key_share(tmp_path / "keys" / f"guardian-{g}.key"))
        open_polls(store, ctx, STATIONS)
        for station, codes in CAST:
            ballot, _ = encrypt_for_station(manifest, ctx.key, ctx.base_hash, station, codes)
            cast(store, ctx, ballot)
        ballot, opened = encrypt_for_station(
            manifest, ctx.key, ctx.base_hash, "tabriz-003", ["1102", "7"]
        )
        challenge(store, ctx, ballot, opened)
        yield Written(store, tmp_path / "keys")
        engine.dispose()


def _cast_rows(store: Store, district: str) -> list[list[list[str]]]:
    rows = []
    # the district's log: its ballots in the order the board (and the mix input) has them
    for _, raw in store.entries_of_type(E, "ballot-cast", log=district):
        ballot = json.loads(raw)["ballot"]
        if ballot["district"] == district:
            rows.append([[c["alpha"], c["beta"]] for c in ballot["written"]["ciphertexts"]])
    return rows


def test_written_ballots_are_refused_as_marked_ones_are(written: Written) -> None:
    store, ctx = written.store, written.ctx
    assert ctx.key is not None
    with pytest.raises(BallotError, match="counted by mixnet"):
        encrypt_ballot(ctx.manifest, ctx.key, ctx.base_hash, "tabriz-001", ["1101"])
    ballot, opened = encrypt_for_station(ctx.manifest, ctx.key, ctx.base_hash, "tabriz-001", ["1"])
    copied = copy.deepcopy(ballot)
    copied["station"] = "tabriz-002"
    with pytest.raises(BallotError, match="does not verify"):
        cast(store, ctx, copied)
    wrong = type(opened)(("2",), opened.nonces)
    with pytest.raises(BallotError, match="do not re-encrypt"):
        challenge(store, ctx, ballot, wrong)
    cast(store, ctx, ballot)
    with pytest.raises(BallotError, match="already"):
        challenge(store, ctx, ballot, opened)
    close_polls(store, ctx, STATIONS)  # the stations' batches go onto the board
    logs = store.logs(E)  # the ballots are in their districts' logs
    assert (
        sum(len(store.entries_of_type(E, "ballot-cast", log=log)) for log in logs) == len(CAST) + 1
    )
    challenged = [json.loads(raw) for log in logs
                  for _, raw in store.entries_of_type(E, "ballot-challenged", log=log)]  # fmt: skip
    # the device encrypted ["1102", "7"] in its canonical form: 7 is no candidate's code
    assert [d["choices"] for d in challenged] == [["1102"]]


def _tallied(written: Written) -> tuple[ElectionContext, int, dict[str, Any]]:
    store, ctx = written.store, written.ctx
    close_polls(store, ctx, STATIONS)
    tally = run_tally(store, ctx, processes=1, chunk=2, signer=authority_key(written.keys, ctx))
    (index, _), = store.entries_of_type(E, TALLY_TYPE)  # fmt: skip
    return ctx, index, tally


def test_the_tally_leaves_mixnet_districts_to_their_mix_input(written: Written) -> None:
    store = written.store
    ctx, index, tally = _tallied(written)
    assert set(tally["districts"]) == {"armenians-south"}
    assert tally["districts"]["armenians-south"]["ballots"] == 2
    inputs = store.entries_of_type(E, MIX_INPUT_TYPE)
    assert [i for i, _ in inputs] == [index - 1]
    doc = json.loads(inputs[0][1])
    assert inputs[0][1] == canonical_json(doc)  # put together as bytes, yet canonical
    assert doc == {
        "type": "mix-input", "election": ctx.base_hash.hex(), "district": "tabriz",
        "cutoff": tally["cutoff"], "width": 1, "rows": _cast_rows(store, "tabriz"),
    }  # fmt: skip
    assert len(doc["rows"]) == 5
    # Two processes and another chunk size, from scratch: the same rows.
    _, rows = accumulate_all(store, ctx, tally["cutoff"], "again", processes=2, chunk=3)
    again = mix_input_entry(ctx.base_hash.hex(), "tabriz", tally["cutoff"], 1, rows["tabriz"])
    assert again == inputs[0][1]
    # Published once: a second run appends nothing.
    size = store.entry_count(E)
    assert run_tally(store, ctx) == tally
    assert store.entry_count(E) == size
    # The homomorphic district still decrypts as before; the count waits for the mix.
    shares = [read_key_share(written.keys / f"guardian-{g}.key") for g in (1, 3, 5)]
    for share in shares:
        decrypt_as_guardian(store, ctx, share)
    with pytest.raises(ElectionError, match="mix is not closed"):
        combine(store, ctx)
    for mixer in ctx.manifest.mixers():
        mix_as(store, ctx, mixer)
    close_mix(store, ctx)
    for share in shares:
        decrypt_mix_as_guardian(store, ctx, share)
    counts = combine(store, ctx)["districts"]
    assert counts["armenians-south"]["votes"] == {"2201": 1, "2202": 0}
    assert counts["armenians-south"]["blank"] == 1
    assert counts["tabriz"]["ballots"] == 5


def test_an_empty_mixnet_district_has_an_empty_mix_input(tmp_path: Path) -> None:
    with backend_database("sqlite", tmp_path) as url:
        engine = make_engine(url)
        migrate(engine)
        store = Store(engine)
        data = small_manifest_data()
        data["districts"][1]["mode"] = "mixnet"
        init_election(store, parse_manifest(data))
        hold_ceremony(store, load_context(store, E), 1, 1, tmp_path / "keys")
        ctx = load_context(store, E)
        contribute_lot(store, ctx, read_key_share(tmp_path / "keys" / "guardian-1.key"))
        tally = run_tally(store, ctx, signer=authority_key(tmp_path / "keys", ctx))
        assert set(tally["districts"]) == {"tabriz"}
        (_, raw), = store.entries_of_type(E, MIX_INPUT_TYPE)  # fmt: skip
        assert json.loads(raw)["rows"] == []
        assert json.loads(raw)["district"] == "armenians-south"
        engine.dispose()


# --- the verifier's and the guardian's recomputation --------------------------------------------


def _verifier_board(entries: list[bytes]) -> VerifyBoard:
    docs = [json.loads(raw) for raw in entries]
    by_type: dict[str, list[int]] = {}
    for i, doc in enumerate(docs):
        by_type.setdefault(doc["type"], []).append(i)
    return VerifyBoard(Path("."), tuple(entries), tuple(docs), (), "", (), MerkleLog(), by_type)


def _verify_tally(ctx: ElectionContext, entries: list[bytes]) -> list[str]:
    """The failures of the `ballots`, `challenged` and `tally` checks on these entries."""
    assert ctx.key is not None
    board = _verifier_board(entries)
    election = VerifyElection(ctx.manifest, ctx.base_hash, ctx.key.group)
    (_, tally), = board.of_type(TALLY_TYPE)  # fmt: skip
    setup = Setup(ctx.manifest, ctx.base_hash, ctx.key, tally["cutoff"])
    merged = BallotResults(ctx.key.group)
    work = [(i, board.entries[i]) for i, _ in board.ballots()]
    run_chunks(setup, work, jobs=1, each=merged.add)
    clashes = find_clashes(merged.buckets, None)
    checks = [
        *check_ballots(board, election, True, merged.refused, merged.flagged, clashes),
        check_tally(board, election, merged.sums, merged.uncountable, merged.segments),
    ]
    # the mix inputs' segments read by tasks (a national record's way) report alike
    with ProcessPoolExecutor(2) as pool:
        tasks = check_tally(board, election, merged.sums, merged.uncountable, merged.segments, pool)
    assert tasks.failures == checks[-1].failures
    return [f"{c.id}: {f}" for c in checks for f in c.failures]


def _guardian_refusal(ctx: ElectionContext, entries: list[bytes], tmp: Path) -> str | None:
    docs = [json.loads(raw) for raw in entries]
    board = guardian.Board(Checkpoint("o", len(entries), bytes(32)), entries, docs, ctx)
    tmp.mkdir(exist_ok=True)
    try:
        guardian.recompute_tally(tmp, board)
    except guardian.GuardianRefusal as exc:
        return str(exc)
    return None


def _with_mix_rows(entries: list[bytes], change: Any) -> list[bytes]:
    out = list(entries)
    for i, raw in enumerate(out):
        doc = json.loads(raw)
        if doc["type"] == MIX_INPUT_TYPE:
            change(doc["rows"])
            out[i] = canonical_json(doc)
    return out


def test_the_verifier_and_the_guardian_recompute_the_mix_input(
    written: Written, tmp_path: Path
) -> None:
    ctx, _, _ = _tallied(written)
    entries = written.store.merged_entries(E)  # the board as one sequence
    assert _verify_tally(ctx, entries) == []
    assert _guardian_refusal(ctx, entries, tmp_path / "g") is None
    tampers = {
        "dropped": lambda rows: rows.pop(),
        "duplicated": lambda rows: rows.append(rows[0]),
        "reordered": lambda rows: rows.reverse(),
        "replaced": lambda rows: rows.__setitem__(0, rows[1]),
    }
    for name, tamper in tampers.items():
        bad = _with_mix_rows(entries, tamper)
        failures = _verify_tally(ctx, bad)
        assert failures, name
        assert all("tally: " in f and "mix input of district tabriz" in f for f in failures)
        refusal = _guardian_refusal(ctx, bad, tmp_path / "g")
        assert refusal is not None
        assert "mix input of district tabriz" in refusal
    # A mix-input that is not just before the tally, or missing.
    ti = next(i for i, r in enumerate(entries) if json.loads(r)["type"] == TALLY_TYPE)
    moved = [*entries[: ti - 1], entries[ti], entries[ti - 1], *entries[ti + 1 :]]
    assert any("mix-input entries at" in f for f in _verify_tally(ctx, moved))
    missing = [*entries[: ti - 1], *entries[ti:]]
    assert any("mix-input entries at no index" in f for f in _verify_tally(ctx, missing))
    assert "mix-input entries at no index" in str(_guardian_refusal(ctx, missing, tmp_path / "g"))


def test_the_verifier_rejects_a_written_ballot_opened_wrongly(written: Written) -> None:
    ctx, _, _ = _tallied(written)
    entries = written.store.merged_entries(E)  # the board as one sequence
    for i, raw in enumerate(entries):
        doc = json.loads(raw)
        if doc["type"] == "ballot-challenged":
            doc["choices"] = ["1102", "8"]
            entries[i] = canonical_json(doc)
    failures = _verify_tally(ctx, entries)
    assert any(f.startswith("challenged: ") and "do not re-encrypt" in f for f in failures)
