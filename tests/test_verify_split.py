"""The mix check's work split into tasks (issue 17, "Speed and memory"): the shuffle proofs,
a large shuffle by chunks of rows over the whole pool, and the combination and decoding of
the final rows batch by batch give the report of the serial run, on an honest record and on
tampered ones (`tests/attacks/test_mix_tamper.py`'s record and colluding cheats)."""

from __future__ import annotations

import itertools
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.attacks.test_mix_tamper import (
    BASE,
    GROUP,
    MANIFEST,
    Dishonesty,
    _at_position,
    _key,
    _other_row,
    make_record,
)
from tests.national_fixtures import to_districts
from tests.verify_fixtures import (
    VerifyElection,
    copy_record,
    read_entries,
    resign,
    write_entries,
)
from verivote.board.lines import blocks as line_blocks
from verivote.board.lines import range_lines, ranges
from verivote.board.merkle import MerkleLog
from verivote.board.record import ENTRIES, check_record
from verivote.cluster import Cluster
from verivote.crypto import wire
from verivote.crypto.ceremony import CeremonyOutcome, run_ceremony
from verivote.crypto.shuffle import shuffle_pool
from verivote.model.canonical import canonical_json
from verivote.verify import ballot_pool, check_board, verifier
from verivote.verify.check_mix import _shuffle_problem, check_mix, split_problem
from verivote.verify.context import Election, Keys
from verivote.verify.loader import Board, load_board
from verivote.verify.report import Report
from verivote.verify.verifier import verify_record


@pytest.fixture(scope="module")
def outcome() -> CeremonyOutcome:
    return run_ceremony(GROUP, 5, 3, BASE)


def mix_report(
    outcome: CeremonyOutcome,
    entries: list[bytes],
    jobs: int,
    split_rows: int,
    cluster: Cluster | None = None,
) -> tuple[int, list[tuple[int | None, str]]]:
    """The mix check's items and failures (entry, reason) in their order."""
    docs = [json.loads(e) for e in entries]
    by_type: dict[str, list[int]] = {}
    for i, doc in enumerate(docs):
        by_type.setdefault(doc["type"], []).append(i)
    board = Board(Path("."), tuple(entries), tuple(docs), (), "", (), MerkleLog(), by_type)
    keys = Keys(outcome.transcript, _key(outcome))
    check = check_mix(board, Election(MANIFEST, BASE, GROUP), keys, jobs, cluster, split_rows)
    return check.items, [(f.entry, f.reason) for f in check.failures]


def replace_row(outcome: CeremonyOutcome, position: int) -> Dishonesty:
    other = _other_row(_key(outcome))

    def replace(doc: dict[str, Any]) -> None:
        doc["rows"][2] = other

    return _at_position(position, replace)


def outside(position: int, field: str) -> Dishonesty:
    """A shuffle whose proof holds an element outside the group (its rows stay valid, so the
    record goes on): the split check reads the proof without membership checks (its tasks
    make them) and must still report it as the serial check does."""

    def change(doc: dict[str, Any]) -> None:
        doc["proof"][field][1] = "ff" * GROUP.element_bytes  # not a canonical encoding

    return _at_position(position, change)


def _wrong_share(guardian: int, row: int) -> Dishonesty:
    def partial(g: int, doc: dict[str, Any]) -> dict[str, Any]:
        if g == guardian:
            doc["shares"][row][0]["share"] = wire.element_hex(GROUP, GROUP.pow_g(12345))
        return doc

    return Dishonesty(partial=partial)


def changed_ballot(row: int) -> Dishonesty:
    def change(ballots: list[Any]) -> list[Any]:
        return [*ballots[:row], ["3001", "3003"], *ballots[row + 1 :]]

    return Dishonesty(ballots=change)


def _changed_count() -> Dishonesty:
    def change(counts: dict[str, Any]) -> dict[str, Any]:
        counts["votes"]["3002"] += 1
        return counts

    return Dishonesty(counts=change)


def _dropped_row(proof_too: bool) -> Dishonesty:
    """The second shuffle a row short (its rows no longer as many as its input's), and with
    `proof_too` a proof response that is no hex either: the serial check names the
    malformed proof before the count."""

    def drop(doc: dict[str, Any]) -> None:
        doc["rows"].pop()
        if proof_too:
            doc["proof"]["s1"] = "not hex"

    return _at_position(2, drop)


@pytest.mark.parametrize(
    "cheat",
    ["honest", "row", "share", "ballot", "count", "commitment", "chain", "dropped",
     "dropped, bad proof"],
)  # fmt: skip
def test_the_split_check_reports_as_the_serial_one(outcome: CeremonyOutcome, cheat: str) -> None:
    dishonesty = {
        "honest": None,
        "row": replace_row(outcome, 2),
        "share": _wrong_share(2, 3),
        "ballot": changed_ballot(1),
        "count": _changed_count(),
        "commitment": outside(2, "commitments"),
        "chain": outside(1, "chain"),
        "dropped": _dropped_row(False),
        "dropped, bad proof": _dropped_row(True),
    }[cheat]
    entries = make_record(outcome, dishonesty)
    serial = mix_report(outcome, entries, jobs=1, split_rows=10**9)
    # tasks on 2 processes: whole shuffles, and every shuffle by chunks of rows over the pool
    assert mix_report(outcome, entries, jobs=2, split_rows=10**9) == serial
    assert mix_report(outcome, entries, jobs=2, split_rows=1) == serial
    # the serial path of a split shuffle (no pool) is the same check
    assert mix_report(outcome, entries, jobs=1, split_rows=1) == serial
    assert (serial[1] == []) == (cheat == "honest")


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    position=st.integers(1, 3),
    guardian=st.sampled_from([1, 2, 4]),
    row=st.integers(0, 5),
    which=st.sampled_from(["row", "share", "ballot"]),
)
def test_any_one_cheat_is_reported_alike_by_tasks(
    outcome: CeremonyOutcome, position: int, guardian: int, row: int, which: str
) -> None:
    dishonesty = {
        "row": replace_row(outcome, position),
        "share": _wrong_share(guardian, row),
        "ballot": changed_ballot(row),
    }[which]
    entries = make_record(outcome, dishonesty)
    serial = mix_report(outcome, entries, jobs=1, split_rows=10**9)
    assert serial[1] != []
    assert mix_report(outcome, entries, jobs=2, split_rows=1) == serial


@pytest.mark.parametrize("in_file", [False, True])
@pytest.mark.parametrize("fault", ["outside", "short", "triple", "text", "dict", "bad hex"])
def test_a_split_shuffle_read_unchecked_names_a_malformed_row_as_the_checked_reading(
    outcome: CeremonyOutcome, fault: str, in_file: bool, tmp_path: Path
) -> None:
    """The tasks of a split check read rows without membership checks (in parts of the
    record's file, or from the entries' bytes); whatever is wrong with a row, the reason
    it gives is the checked reading's."""
    entries = make_record(outcome)
    shuffle_doc = json.loads(entries[1])
    row = shuffle_doc["rows"][1]
    if fault == "outside":
        row[0][1] = "ff" * GROUP.element_bytes
    elif fault == "short":
        row[0][0] = row[0][0][:-2]
    elif fault == "triple":
        row[0] = [*row[0], row[0][0]]
    elif fault == "text":
        row[0] = "".join(row[0])
    elif fault == "bad hex":
        row[0][0] = "zz" + row[0][0][2:]
    else:
        row[0] = {row[0][0]: 1, row[0][1]: 2}
    before, after = entries[0], canonical_json(shuffle_doc)
    task = (b"the reading fails before the proof", before, after, 1)
    key = _key(outcome)
    checked = _shuffle_problem(key, task)
    assert checked is not None
    assert checked.startswith("malformed")
    refs: tuple[Any, Any] = (before, after)
    if in_file:
        (tmp_path / "lines").write_bytes(before + b"\n" + after + b"\n")
        refs = (str(tmp_path / "lines"), 0, len(before), None), (
            str(tmp_path / "lines"), len(before) + 1, len(after), None
        )  # fmt: skip
    split = (task[0], *refs, 1)
    with shuffle_pool(key, 2) as pool:
        assert split_problem(key, split, pool, 2, part=2) == checked
    assert split_problem(key, split, None, 1, part=2) == checked


# --- the board's lines in chunks ---------------------------------------------------------------


def _report(report: Report) -> list[tuple[str, bool | None, int, list[tuple[Any, ...]]]]:
    """A report without its ballot rate: every check's outcome, items and failures in order."""
    return [
        (c.id, c.passed, c.items, [(f.entry, f.reason, f.log, f.index) for f in c.failures])
        for c in report.checks
    ]


def _uncanonical(path: Path, lines_at: list[int]) -> None:
    lines = path.read_bytes().split(b"\n")
    for i in lines_at:
        lines[i % (len(lines) - 1)] = lines[i % (len(lines) - 1)].replace(b'{"', b'{ "', 1)
    path.write_bytes(b"\n".join(lines))


def _both(record: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with ProcessPoolExecutor(2) as pool:
        for parts in (1, 2, 5):
            assert check_record(record, pool, parts) == check_record(record)
    serial = _report(verify_record(record, jobs=1))
    with monkeypatch.context() as patched:
        patched.setattr(check_board, "MIN_POOL_BYTES", 0)  # the small record on the pool too
        assert _report(verify_record(record, jobs=2)) == serial


def test_the_board_checked_in_chunks_reports_as_in_one(
    verify_election: VerifyElection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = copy_record(verify_election.round1, tmp_path / "record")
    _both(record, monkeypatch)
    assert check_record(record) == []
    _uncanonical(record / ENTRIES, [3, 20, 21])
    resign(record, verify_election.keys1)
    _both(record, monkeypatch)
    assert len(check_record(record)) == 3
    docs = read_entries(record)
    docs[3], docs[4] = docs[4], docs[3]
    write_entries(record, docs)  # not re-signed: the root is not the checkpoint's
    _both(record, monkeypatch)


def test_district_logs_checked_as_tasks_report_as_in_one(
    verify_election: VerifyElection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = to_districts(verify_election.round1, verify_election.keys1, tmp_path / "v2")
    _both(record, monkeypatch)
    _uncanonical(record / "districts" / "tabriz" / "entries.jsonl", [2, 7])
    _both(record, monkeypatch)
    assert check_record(record)[0].startswith("districts/tabriz/entries.jsonl line 3: ")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(0, 200), max_size=30), st.integers(1, 300), st.booleans())
def test_the_blocks_are_the_lines_in_order_numbered(
    tmp_path: Path, sizes: list[int], target: int, last_newline: bool
) -> None:
    lines = [bytes([97 + i % 26]) * n for i, n in enumerate(sizes)]
    raw = b"\n".join(lines) + (b"\n" if last_newline and lines else b"")
    file = tmp_path / f"entries-{len(sizes)}-{target}.jsonl"
    file.write_bytes(raw)
    blocks = list(line_blocks(file, target))
    assert b"".join(block for _, block in blocks) == raw
    assert all(block.endswith(b"\n") for _, block in blocks[:-1])
    numbers, number = [], 1
    for _, block in blocks:
        numbers.append(number)
        number += block.count(b"\n")
    assert [first for first, _ in blocks] == numbers
    # a block is the rest of a line carried over and whole lines of `target` bytes at most
    assert all(block.count(b"\n") <= 1 or len(block) <= target + 200 for _, block in blocks)


def test_district_logs_read_by_tasks_give_the_same_board_and_report(
    verify_election: VerifyElection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: each district's log read, hashed and parsed by a task of its own gives the
    board the main process reads, entry by entry, and the same report, valid or not."""
    record = verify_election.round1
    here = load_board(record, stream=True)
    with ProcessPoolExecutor(2) as pool:
        tasks = load_board(record, stream=True, pool=pool)
    assert list(tasks.entries) == list(here.entries)
    assert list(tasks.docs) == list(here.docs)
    assert tasks.malformed == here.malformed
    assert tasks.log.root() == here.log.root()
    assert [tasks.where(p) for p in range(len(here.entries))] == [
        here.where(p) for p in range(len(here.entries))
    ]
    assert tasks.indices("ballot-cast") == here.indices("ballot-cast")
    serial = verify_record(record, jobs=2).to_json()
    asked = verify_record(record, jobs=2, scan_tasks=True).to_json()  # as `sim national` asks
    assert asked | {"ballots_per_second": 0} == serial | {"ballots_per_second": 0}
    monkeypatch.setattr(verifier, "SCAN_TASKS_FROM", 0)  # every record read by tasks
    assert verify_record(record, jobs=2).to_json() | {"ballots_per_second": 0} == serial | {
        "ballots_per_second": 0
    }


def test_with_a_pool_the_main_process_parses_no_ballot(
    verify_election: VerifyElection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: the ballots are parsed by the tasks that read the district logs and check
    the proofs; the checks of the main process (fields, tracking codes, copies, routing,
    participation) use what those tasks found, so it parses none, and reports as before."""
    record = verify_election.round1
    serial = verify_record(record, jobs=1).to_json()
    lines = [line for path in sorted(record.glob("districts/*/entries.jsonl"))
             for line in path.read_bytes().splitlines()]  # fmt: skip
    ballots = {line for line in lines if b'"type":"ballot-' in line}
    assert len(ballots) > 5
    seen: list[bytes] = []
    real = json.loads

    def watching(raw: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(raw, bytes) and raw in ballots:
            seen.append(raw)
        return real(raw, *args, **kwargs)

    monkeypatch.setattr(verifier, "SCAN_TASKS_FROM", 0)
    monkeypatch.setattr(verifier, "HELPERS_FROM", 0)
    monkeypatch.setattr(ballot_pool, "MIN_POOL", 0)
    monkeypatch.setattr(json, "loads", watching)
    report = verify_record(record, jobs=2).to_json()
    assert seen == []
    assert report | {"ballots_per_second": 0} == serial | {"ballots_per_second": 0}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.integers(0, 120), max_size=25),
    st.integers(1, 9),
    st.integers(1, 64),
    st.booleans(),
)
def test_the_ranges_give_every_line_once_in_order(
    tmp_path: Path, sizes: list[int], parts: int, block: int, last_newline: bool
) -> None:
    """Issue 17: the tasks that each read a byte range of an entry file (the verifier's
    board check and its reading of the national log) give, together, each line of the file
    once, at its offset, however the ranges cut the lines."""
    lines = [bytes([97 + i % 26]) * n for i, n in enumerate(sizes)]
    raw = b"\n".join(lines) + (b"\n" if last_newline and lines else b"")
    file = tmp_path / f"entries-{len(sizes)}-{parts}-{block}.jsonl"
    file.write_bytes(raw)
    expected, offset = [], 0
    for line in (raw[:-1] if raw.endswith(b"\n") else raw).split(b"\n") if raw else []:
        expected.append((offset, line))
        offset += len(line) + 1
    cuts = ranges(len(raw), parts, max(1, len(raw) // parts))
    assert cuts[0][0] == 0
    assert cuts[-1][1] == len(raw)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cuts))
    assert [x for a, b in cuts for x in range_lines(file, a, b, block)] == expected
