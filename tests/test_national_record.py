"""The record with a log per district under one national log (issue 17; README, "National
scale (issue 17)"): the split of a single-log board, the files of the record and their check,
and the verifier reading the logs as one sequence with the same results as the single log."""

from __future__ import annotations

import base64
import json
import os
import random
import secrets
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.attacks.test_national_log import split as split_by_hand
from tests.national_fixtures import (
    national_note,
    signers,
    split_record,
    to_districts,
    write_logs,
)
from tests.test_tamper import (
    MUTATIONS,
    change_byte,
    change_leaf,
    drop_line,
    duplicate_line,
    swap_lines,
)
from tests.verify_fixtures import (
    VerifyElection,
    board_lines,
    copy_record,
    read_entries,
    resign,
    write_entries,
)
from verivote.board.checkpoint import Checkpoint, format_checkpoint
from verivote.board.districts import (
    SEAL_TYPE,
    district_origin,
    read_seal,
    route,
    seal_entry,
    station_districts,
)
from verivote.board.inclusion import (
    DistrictInclusion,
    check_in_district,
    find_seal,
    prove_in_district,
    prove_with_seal,
)
from verivote.board.merkle import MerkleLog
from verivote.board.note import generate_signer, sign
from verivote.board.order import merge_order
from verivote.board.record import check_record, read_record, write_record
from verivote.board.sealing import open_sealed
from verivote.board.split import merge_logs, split_board
from verivote.cli.app import run
from verivote.crypto.hashing import election_base_hash
from verivote.model.canonical import canonical_json
from verivote.verify import RecordError, Report, verify_record

# --- the split, on any board ------------------------------------------------------------------

STATIONS = {"s1": "north", "s2": "north", "s3": "south", "s4": "west"}
MANIFEST = canonical_json(
    {
        "type": "manifest",
        "manifest": {
            "election_id": "prop",
            "districts": [{"id": d} for d in sorted(set(STATIONS.values()))],
            "stations": [{"id": s, "district": d} for s, d in STATIONS.items()],
        },
    }
)
SIGNER, _ = generate_signer("verivote/prop")

entries_strategy = st.lists(
    st.one_of(
        st.integers(0, 10**6).map(lambda n: {"type": "notice", "n": n}),
        st.tuples(st.sampled_from(sorted(set(STATIONS.values()))), st.integers(0, 10**6)).map(
            lambda t: {"type": "ballot-cast", "ballot": {"district": t[0]}, "tracking_code": t[1]}
        ),
        st.tuples(
            st.sampled_from(["polls-open", "polls-close"]), st.sampled_from(sorted(STATIONS))
        ).map(lambda t: {"type": t[0], "station": t[1]}),
    ),
    max_size=40,
).map(lambda docs: [MANIFEST, *(canonical_json(d) for d in docs)])


def _log_of(entry: bytes) -> str:
    return route(json.loads(entry), STATIONS)


@settings(max_examples=60, deadline=None)
@given(entries_strategy)
def test_splitting_and_merging_back_gives_every_log_its_order(entries: list[bytes]) -> None:
    logs = split_board(entries, SIGNER)
    national = [e for e in logs.national if json.loads(e)["type"] != SEAL_TYPE]
    assert national == [e for e in entries if _log_of(e) == ""]
    for district, logged in logs.districts.items():
        assert logged == [e for e in entries if _log_of(e) == district]
    assert merge_logs(logs.national, logs.districts) == entries
    # Every district is sealed at last with its whole log, and its checkpoint is that seal.
    for district, logged in logs.districts.items():
        seals = [
            read_seal(json.loads(e))
            for e in logs.national
            if json.loads(e)["type"] == SEAL_TYPE and json.loads(e)["district"] == district
        ]
        assert seals[-1].checkpoint.size == len(logged)
        assert seals[-1].note == logs.checkpoints[district]
        assert seals[-1].checkpoint.origin == district_origin("verivote/prop", district)


@settings(max_examples=60, deadline=None)
@given(entries_strategy, st.data())
def test_a_split_with_cuts_keeps_each_earlier_national_log_as_a_prefix(
    entries: list[bytes], data: st.DataObject
) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(1, len(entries)), max_size=4)))
    whole = split_board(entries, SIGNER, cuts)
    assert merge_logs(whole.national, whole.districts) == entries
    for cut in cuts:
        prefix = split_board(entries[:cut], SIGNER, [c for c in cuts if c < cut])
        assert whole.national[: len(prefix.national)] == prefix.national


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 5), max_size=30),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(0, 12)),
    st.data(),
)
def test_the_merged_order_maps_each_position_to_its_log_and_back(
    kinds: list[int], sizes: dict[str, int], data: st.DataObject
) -> None:
    names = ["a", "b", "c", "x"]  # "x" has no log
    seals: dict[int, tuple[str, int] | None] = {}
    for index, kind in enumerate(kinds):
        if kind < 4:
            seals[index] = (names[kind], data.draw(st.integers(0, 14)))
        elif kind == 4:
            seals[index] = None
    order = merge_order(len(kinds), seals, sizes)
    places = list(order)
    assert order.size == len(places) == len(kinds) - len(seals) + sum(sizes.values())
    assert len(set(places)) == len(places)
    for position, (log, index) in enumerate(places):
        assert order.where(position) == (log, index)
        assert order.position(log, index) == position
    for log in {log for log, _ in places}:  # each log in its own order
        assert [i for name, i in places if name == log] == sorted(i for n, i in places if n == log)
    for index in seals:
        assert order.position("", index) is None


def test_a_board_that_is_already_split_or_unroutable_is_refused() -> None:
    logs = split_board([MANIFEST, canonical_json({"type": "polls-open", "station": "s1"})], SIGNER)
    with pytest.raises(ValueError, match="already a district-checkpoint"):
        split_board([MANIFEST, logs.national[-1]], SIGNER)
    with pytest.raises(ValueError, match=r"entry 1: .*not in the manifest"):
        split_board([MANIFEST, canonical_json({"type": "polls-open", "station": "s9"})], SIGNER)
    assert split_board([], SIGNER).national == []


# --- the election record --------------------------------------------------------------------


def _same_checks(single: Report, split: Report) -> None:
    """Every check other than `board` says the same of both records, entry by entry."""
    assert [c.id for c in split.checks] == [c.id for c in single.checks]
    for one, other in zip(single.checks, split.checks, strict=True):
        assert (other.passed, other.items) == (one.passed, one.items), one.id
        if one.id != "board":
            assert [(f.entry, f.reason) for f in other.failures] == [
                (f.entry, f.reason) for f in one.failures
            ], one.id


def test_the_split_record_checks_and_verifies_as_the_single_log(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    record = to_districts(verify_election.round1, verify_election.keys1, tmp_path / "v2")
    assert check_record(record) == []
    assert sorted(p.name for p in (record / "districts").iterdir()) == [
        "armenians-south",
        "tabriz",
    ]
    read = read_record(record)
    assert read.has_districts
    assert {d.district: len(d.entries) for d in read.districts} == {
        "armenians-south": 5,
        "tabriz": 16,
    }
    report = verify_record(record)
    assert report.valid, report.to_json()
    assert all(c.passed for c in report.checks)
    _same_checks(verify_record(verify_election.round1), report)
    # The split is the format the attack tests write by hand, byte for byte.
    by_hand = split_by_hand(verify_election.round1, verify_election.keys1)
    logs = split_record(verify_election.round1, verify_election.keys1)
    assert logs.national == by_hand.national
    assert logs.districts == by_hand.districts


def test_a_split_second_round_verifies_with_its_split_first(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    first = to_districts(verify_election.round1, verify_election.keys1, tmp_path / "one")
    second = to_districts(verify_election.round2, verify_election.keys2, tmp_path / "two")
    report = verify_record(second, previous=first)
    assert report.valid, report.to_json()
    assert all(c.passed for c in report.checks)
    assert report.check("runoff").items == 1


def test_since_an_earlier_national_checkpoint_passes(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    entries = board_lines(verify_election.round1)
    cut = _mid_run(entries)  # a checkpoint made in the middle of a run of tabriz's entries
    authority, _ = signers(verify_election.keys1)
    early = split_board(entries[:cut], authority)
    note = tmp_path / "early-national-checkpoint"
    note.write_text(national_note(early.national, verify_election.keys1), encoding="utf-8")
    # Split with the earlier checkpoint's size as a cut: its national log is a prefix.
    record = to_districts(verify_election.round1, verify_election.keys1, tmp_path / "v2", [cut])
    report = verify_record(record, since=note)
    assert report.valid, report.to_json()
    # Without the cut, the run open at that size is sealed later: not an extension.
    uncut = to_districts(verify_election.round1, verify_election.keys1, tmp_path / "uncut")
    failures = verify_record(uncut, since=note).check("board").failures
    assert any("rewritten" in f.reason for f in failures)


def test_a_record_without_district_logs_holds_no_seal(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    # The district logs of a split record removed, its national log left: the seals name logs
    # that are not there.
    record = to_districts(verify_election.round1, verify_election.keys1, tmp_path / "v2")
    shutil.rmtree(record / "districts")
    report = verify_record(record)
    board = report.check("board")
    assert board.passed is False
    assert any("without district logs" in f.reason for f in board.failures)


def test_a_failure_names_the_district_log_and_index(
    verify_election: VerifyElection, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    single = copy_record(verify_election.round1, tmp_path / "single")
    docs = read_entries(single)
    closing = next(
        i for i, d in enumerate(docs) if d["type"] == "polls-close" and d["station"] == "tabriz-002"
    )
    late = next(
        d for d in docs[closing + 1 :] if d["type"] == "polls-close"
    )  # another station's close
    # A ballot of tabriz-002 moved after its station closed (and after the next close).
    ballot_at = max(
        i
        for i, d in enumerate(docs[:closing])
        if d["type"] == "ballot-cast" and d["ballot"]["station"] == "tabriz-002"
    )
    ballot = docs.pop(ballot_at)
    docs.insert(docs.index(late) + 1, ballot)
    write_entries(single, docs)
    resign(single, verify_election.keys1)
    record = to_districts(single, verify_election.keys1, tmp_path / "v2")
    one, other = verify_record(single), verify_record(record)
    _same_checks(one, other)
    failure = next(f for f in other.check("participation").failures if f.entry is not None)
    assert failure.entry == docs.index(ballot)
    tabriz = [json.loads(e) for e in read_record(record).districts[1].entries]
    assert failure.log == "tabriz"
    assert failure.index == tabriz.index(ballot)
    assert failure.text().startswith(f"tabriz/{failure.index}: ")
    assert failure.to_json() == {
        "entry": failure.entry,
        "reason": failure.reason,
        "log": "tabriz",
        "index": failure.index,
    }
    single_failure = next(f for f in one.check("participation").failures if f.entry is not None)
    assert single_failure.to_json()["log"] == ""
    assert single_failure.text().startswith(f"entry {single_failure.entry}: ")
    capsys.readouterr()
    assert run(["verify", str(record), "--jobs", "1"]) == 1
    assert f"tabriz/{failure.index}:" in capsys.readouterr().out


@pytest.mark.parametrize("seed", range(3))
def test_random_changes_give_the_same_results_on_both_forms(
    verify_election: VerifyElection, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(f"national-{seed}")
    compared = 0
    for attempt in range(8):
        single = copy_record(verify_election.round1, tmp_path / f"single-{attempt}")
        what = change_leaf(single / "log", rng)
        resign(single, verify_election.keys1)
        try:
            record = to_districts(single, verify_election.keys1, tmp_path / f"v2-{attempt}")
        except ValueError:
            continue  # the change made an entry that cannot be routed (an unknown station)
        one, other = verify_record(single), verify_record(record)
        checks = [c.id for c in one.checks if c.id != "board"]
        assert [one.check(c).passed for c in checks] == [other.check(c).passed for c in checks]
        _compare_failures(one, other, what)
        compared += 1
    assert compared >= 4


def _compare_failures(one: Report, other: Report, what: str) -> None:
    for check in one.checks:
        if check.id == "board":
            continue
        got = [(f.entry, f.reason) for f in other.check(check.id).failures]
        assert got == [(f.entry, f.reason) for f in check.failures], (what, check.id)


# --- the files -------------------------------------------------------------------------------


def _parts(verify_election: VerifyElection) -> tuple[Any, Path, Path]:
    logs = split_record(verify_election.round1, verify_election.keys1)
    return logs, verify_election.round1, verify_election.keys1


def test_writing_refuses_a_district_log_that_does_not_check(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    logs, record, keys = _parts(verify_election)
    logs.districts["tabriz"].pop()
    with pytest.raises(ValueError, match="districts/tabriz/checkpoint: tree size"):
        write_logs(logs, record, keys, tmp_path / "v2")
    logs, record, keys = _parts(verify_election)
    with pytest.raises(ValueError, match="not a district id"):
        write_record(
            tmp_path / "v2",
            logs.national,
            national_note(logs.national, keys),
            read_record(record).verifier_keys,
            {"../escape": ([], logs.checkpoints["tabriz"])},
        )
    assert not (tmp_path / "v2").exists()


def test_writing_a_single_log_record_over_a_split_one_removes_its_district_logs(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    record = to_districts(verify_election.round1, verify_election.keys1, tmp_path / "v2")
    single = read_record(verify_election.round1)
    write_record(record, single.entries, single.checkpoint_note, single.verifier_keys)
    assert not (record / "districts").exists()
    assert check_record(record) == []


def test_the_check_names_what_is_wrong_with_a_district_log(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    record = to_districts(verify_election.round1, verify_election.keys1, tmp_path / "v2")
    folder = record / "districts" / "tabriz"
    authority, witnesses = signers(verify_election.keys1)
    text = (folder / "checkpoint").read_text(encoding="utf-8").split("\n\n")[0] + "\n"
    # Cosigned by a witness as well: allowed (only the authority must sign).
    (folder / "checkpoint").write_text(sign(text, [authority, witnesses[0]]), encoding="utf-8")
    assert check_record(record) == []
    stranger, _ = generate_signer("stranger")
    (folder / "checkpoint").write_text(sign(text, [stranger]), encoding="utf-8")
    problems = check_record(record)
    assert any(
        "districts/tabriz/checkpoint: signature line 1 is by stranger" in p for p in problems
    )
    assert any("no valid signature by the authority" in p for p in problems)
    wrong_origin = text.replace("/tabriz\n", "/armenians-south\n", 1)
    (folder / "checkpoint").write_text(sign(wrong_origin, [authority]), encoding="utf-8")
    assert any("origin" in p and "verivote/test-2024/tabriz" in p for p in check_record(record))
    (folder / "checkpoint").write_text(sign(text, [authority]), encoding="utf-8")
    lines = (folder / "entries.jsonl").read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'{"', b'{ "', 1)
    (folder / "entries.jsonl").write_bytes(b"\n".join(lines))
    problems = check_record(record)
    assert problems[0].startswith("districts/tabriz/entries.jsonl line 3: ")
    board = verify_record(record).check("board")
    assert any(f.log == "tabriz" and f.index == 2 for f in board.failures)
    (record / "districts" / "stray.txt").write_text("x", encoding="utf-8")
    assert "districts/stray.txt: not the folder of a district's log" in check_record(record)


def test_a_district_log_that_is_no_district_of_the_manifest_is_caught(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    # Tabriz's whole log under another name, sealed honestly by the authority's key.
    logs, record, keys = _parts(verify_election)
    authority, _ = signers(keys)
    entries = logs.districts.pop("tabriz")
    logs.checkpoints.pop("tabriz")
    tree = MerkleLog()
    for entry in entries:
        tree.append_entry(entry)
    origin = district_origin("verivote/test-2024", "tabriz2")
    note = sign(format_checkpoint(Checkpoint(origin, tree.size, tree.root())), [authority])
    base_hash = election_base_hash(logs.national[0]).hex()
    logs.national.append(seal_entry(base_hash, "tabriz2", note))
    logs.districts["tabriz2"] = entries
    logs.checkpoints["tabriz2"] = note
    board = verify_record(write_logs(logs, record, keys, tmp_path / "v2")).check("board")
    reasons = [f.text() for f in board.failures]
    assert "districts/tabriz2: not a district of the manifest" in reasons
    assert any(r.startswith("tabriz2/") and "a ballot of district tabriz" in r for r in reasons)
    assert any("no log of tabriz in districts/" in r for r in reasons)


# --- a voter's two proofs -------------------------------------------------------------------


def _mid_run(entries: list[bytes], district: str | None = None) -> int:
    """A position inside a run of one district's entries (of `district`, if given): a cut
    there seals the run twice."""
    stations = station_districts(entries[0])
    logs_of = [route(json.loads(e), stations) for e in entries]
    return next(
        i
        for i in range(1, len(entries))
        if logs_of[i] and logs_of[i] == logs_of[i - 1] and district in (None, logs_of[i])
    )


def test_every_ballot_has_two_inclusion_proofs_that_check(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    cut = _mid_run(board_lines(verify_election.round1), "tabriz")  # then two seals of tabriz
    record = read_record(
        to_districts(verify_election.round1, verify_election.keys1, tmp_path / "v2", [cut])
    )
    authority = record.verifier_keys[0]
    national = MerkleLog()
    for entry in record.entries:
        national.append_entry(entry)
    proved = 0
    for log in record.districts:
        tree = MerkleLog()
        for entry in log.entries:
            tree.append_entry(entry)
        for index, entry in enumerate(log.entries):
            proof = prove_in_district(
                record.entries, national, record.checkpoint_note, log.district, tree, entry, index
            )
            assert check_in_district(proof, authority)
            again = DistrictInclusion.from_json(json.loads(json.dumps(proof.to_json())))
            assert again == proof
            proved += 1
    assert proved == 21
    # Tampered: another entry, another district's note, another authority.
    assert not check_in_district(replace(proof, entry=record.districts[0].entries[0]), authority)
    other = record.districts[0].checkpoint_note
    assert not check_in_district(replace(proof, district_note=other), authority)
    impostor = generate_signer("verivote/test-2024")[1]
    assert not check_in_district(proof, impostor)
    assert log.district == "tabriz"
    early = sign(  # a national checkpoint of the manifest alone: nothing of tabriz sealed
        f"verivote/test-2024\n1\n{base64.b64encode(national.root(1)).decode()}\n",
        [signers(verify_election.keys1)[0]],
    )
    with pytest.raises(ValueError, match="not sealed in the national checkpoint"):
        prove_in_district(record.entries, national, early, "tabriz", tree, entry, 0)
    # A seal that does not cover the entry (tabriz's first seal, before its last entry).
    found = find_seal(record.entries, "tabriz", 0, len(record.entries))
    assert found is not None
    assert found[2] < len(log.entries)
    with pytest.raises(ValueError, match="does not cover entry"):
        prove_with_seal(found[:2], national, record.checkpoint_note, tree, entry, index)


# --- random changes to a record with district logs -----------------------------------------

DISTRICT_CHANGES = 60
DISTRICT_MUTATIONS: list[Callable[[Path, random.Random], str]] = [
    change_leaf,
    change_leaf,
    drop_line,
    duplicate_line,
    swap_lines,
    lambda folder, rng: change_byte(folder, rng, "checkpoint"),
    lambda folder, rng: change_byte(folder, rng, "entries.jsonl"),
]
"""The tamper suite's changes that apply to a district's folder (it has no keys file)."""


@pytest.mark.slow
def test_every_random_change_to_a_record_with_district_logs_is_caught(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    """The tamper suite's changes (`tests/test_tamper.py`), each to the national log or to a
    district's log, never signed again: the verifier fails every time."""
    seed = int(os.environ.get("VERIVOTE_TAMPER_SEED", secrets.randbits(32)))
    print(f"tamper seed {seed} (VERIVOTE_TAMPER_SEED={seed} replays it)")
    rng = random.Random(seed)
    record = to_districts(verify_election.round1, verify_election.keys1, tmp_path / "v2")
    assert verify_record(record, jobs=1).valid
    logs = [record / "log", *sorted((record / "districts").iterdir())]
    for n in range(DISTRICT_CHANGES):
        work = tmp_path / f"change-{n}"
        shutil.copytree(record, work)
        folder = work / rng.choice(logs).relative_to(record)
        mutation = rng.choice(MUTATIONS if folder.name == "log" else DISTRICT_MUTATIONS)
        what = f"{folder.name}: {mutation(folder, rng)}"
        try:
            report = verify_record(work, jobs=1)
        except RecordError:
            pass  # a record that cannot be read at all fails too (exit 2)
        else:
            assert not report.valid, f"seed {seed}: change {n} ({what}) was not caught"
        shutil.rmtree(work)


# --- a party reading the logs --------------------------------------------------------------


def test_a_party_reads_the_logs_as_the_single_log_and_refuses_a_bad_seal(
    verify_election: VerifyElection,
) -> None:
    single = board_lines(verify_election.round1)
    logs = split_record(verify_election.round1, verify_election.keys1)
    authority = read_record(verify_election.round1).verifier_keys[0]
    base_hash = election_base_hash(single[0]).hex()
    assert open_sealed(logs.national, logs.districts, authority, base_hash) == list(single)
    impostor = generate_signer("verivote/test-2024")[1]
    with pytest.raises(ValueError, match="not signed by the authority"):
        open_sealed(logs.national, logs.districts, impostor)
    with pytest.raises(ValueError, match="not this one"):
        open_sealed(logs.national, logs.districts, authority, "00" * 32)
    longer = {**logs.districts, "tabriz": [*logs.districts["tabriz"], single[-1]]}
    with pytest.raises(ValueError, match=f"entry {len(longer['tabriz']) - 1} of tabriz is not"):
        open_sealed(logs.national, longer, authority)
    forked = {**logs.districts, "tabriz": list(reversed(logs.districts["tabriz"]))}
    with pytest.raises(ValueError, match="forked"):
        open_sealed(logs.national, forked, authority)
