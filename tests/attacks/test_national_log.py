"""Attacks on the national log (issue 17; README, "National scale (issue 17)"): an election
record with a log per district, each district's checkpoints sealed into the national log.

The attacker holds every signing key of the election (the authority's and every witness's), so
every signature in each tampered record verifies; the `board` check must still catch:

(a) a district checkpoint replaced: a seal whose root is not that of the district's entries at
    its size;
(b) a district log forked: the district's entries changed after they were sealed (an earlier
    seal and the final district checkpoint do not extend each other), and two seals of one
    district at the same size with different roots;
(c) a ballot placed in another district's log;
(d) a district entry never sealed in the national log;
(e) a district-only entry (ballot, polls) left in the national log of a record with district logs.

The records are built here from the session's record (read as one sequence, re-split with a
seal at each change of log and every few entries, as a board checkpointed while polls are open)
with this module's own small writer (the format of the README, and only the board's
primitives), so the tests state the format independently of the code that writes it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.verify_fixtures import VerifyElection
from verivote.board.checkpoint import Checkpoint, format_checkpoint
from verivote.board.merkle import MerkleLog
from verivote.board.note import parse_verifier, sign, verifier_from_signer
from verivote.crypto.hashing import election_base_hash
from verivote.election.publishing import registered_witnesses
from verivote.model.canonical import canonical_json
from verivote.verify import Report, verify_record

DISTRICT_ONLY = ("ballot-cast", "ballot-challenged", "polls-open", "polls-close")
SEAL = "district-checkpoint"
RUN = 4
"""A district is sealed at least every RUN of its entries (then it has several seals)."""


def _signer(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def _root(entries: list[bytes], size: int | None = None) -> bytes:
    log = MerkleLog()
    for entry in entries:
        log.append_entry(entry)
    return log.root(log.size if size is None else size)


@dataclass
class Split:
    """A record's logs as this module builds them: the national log (bytes, seals included)
    and each district's entries; `sign_note` signs a district checkpoint."""

    national: list[bytes]
    districts: dict[str, list[bytes]]
    authority: str
    witnesses: list[str]
    keys_line: bytes
    base_hash: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return parse_verifier(verifier_from_signer(self.authority)).name

    def note(self, district: str, size: int, root: bytes) -> str:
        checkpoint = Checkpoint(f"{self.origin}/{district}", size, root)
        return sign(format_checkpoint(checkpoint), [self.authority])

    def seal(self, district: str, size: int, root: bytes | None = None) -> bytes:
        if root is None:
            root = _root(self.districts[district], size)
        doc = {
            "type": SEAL, "election": self.base_hash, "district": district,
            "checkpoint": self.note(district, size, root),
        }  # fmt: skip
        return canonical_json(doc)

    def seals(self, district: str) -> list[int]:
        """National indices of the seals of `district`."""
        return [
            i for i, raw in enumerate(self.national)
            if json.loads(raw)["type"] == SEAL and json.loads(raw)["district"] == district
        ]  # fmt: skip


def _route(doc: dict[str, Any], stations: dict[str, str]) -> str:
    if doc["type"] in ("ballot-cast", "ballot-challenged"):
        return str(doc["ballot"]["district"])
    if doc["type"] in ("polls-open", "polls-close"):
        return stations[doc["station"]]
    return ""


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def _one_log(record: Path) -> list[bytes]:
    """The record's board as one sequence: a district's entries up to a seal stand just
    before the seal, and seals are left out (the README's "Order", written out here)."""
    national = _lines(record / "log" / "entries.jsonl")
    if not (record / "districts").is_dir():
        return national
    placed: dict[str, int] = {}
    out: list[bytes] = []
    for raw in national:
        doc = json.loads(raw)
        if doc["type"] != SEAL:
            out.append(raw)
            continue
        district = doc["district"]
        size = int(doc["checkpoint"].split("\n")[1])
        entries = _lines(record / "districts" / district / "entries.jsonl")
        out.extend(entries[placed.get(district, 0) : size])
        placed[district] = max(size, placed.get(district, 0))
    return out


def split(
    record: Path, keys: Path, route: Callable[[dict[str, Any], dict[str, str]], str] = _route
) -> Split:
    """The single-log record's entries routed to their logs, a seal in the national log at each
    change of log (so the merged order is the single log's order)."""
    lines = _one_log(record)
    manifest = json.loads(lines[0])["manifest"]
    stations = {s["id"]: s["district"] for s in manifest["stations"]}
    authority = _signer(keys / "authority.key")
    folders = [Path(unquote(urlsplit(w.url).path)) for w in registered_witnesses(keys)]
    out = Split(
        [], {}, authority, [_signer(f / "witness.key") for f in folders],
        (record / "log" / "keys").read_bytes(), election_base_hash(lines[0]).hex(),
    )  # fmt: skip
    open_run: str | None = None
    for raw in lines:
        log = route(json.loads(raw), stations)
        if open_run is not None and (log != open_run or len(out.districts[open_run]) % RUN == 0):
            out.national.append(out.seal(open_run, len(out.districts[open_run])))
            open_run = None
        if log:
            out.districts.setdefault(log, []).append(raw)
            open_run = log
        else:
            out.national.append(raw)
    if open_run is not None:
        out.national.append(out.seal(open_run, len(out.districts[open_run])))
    return out


def write(parts: Split, directory: Path) -> Path:
    """The record on disk: log/ (national, cosigned by every witness) and districts/<D>/."""
    if directory.exists():
        shutil.rmtree(directory)
    (directory / "log").mkdir(parents=True)
    (directory / "log" / "entries.jsonl").write_bytes(b"".join(e + b"\n" for e in parts.national))
    (directory / "log" / "keys").write_bytes(parts.keys_line)
    text = format_checkpoint(Checkpoint(parts.origin, len(parts.national), _root(parts.national)))
    note = sign(text, [parts.authority, *parts.witnesses])
    (directory / "log" / "checkpoint").write_bytes(note.encode("utf-8"))
    for district, entries in parts.districts.items():
        folder = directory / "districts" / district
        folder.mkdir(parents=True)
        (folder / "entries.jsonl").write_bytes(b"".join(e + b"\n" for e in entries))
        district_note = parts.note(district, len(entries), _root(entries))
        (folder / "checkpoint").write_bytes(district_note.encode("utf-8"))
    return directory


def _board_failures(report: Report) -> list[dict[str, Any]]:
    board = report.check("board")
    assert board.passed is False, "the board check let the tampered record through"
    return [f.to_json() for f in board.failures]


def _named(failures: list[dict[str, Any]], log: str, index: int, *words: str) -> dict[str, Any]:
    """The failure about entry `index` of `log` whose reason holds every word."""
    for failure in failures:
        at = failure.get("log") == log and failure.get("index") == index
        if at and all(w in failure["reason"] for w in words):
            return failure
    raise AssertionError(f"no failure naming {log or 'national'}/{index} with {words}: {failures}")


@pytest.fixture
def parts(verify_election: VerifyElection) -> Split:
    return split(verify_election.round1, verify_election.keys1)


# --- the honest split record -----------------------------------------------------------------


def test_the_record_split_into_district_logs_passes_every_check(
    parts: Split, verify_election: VerifyElection, tmp_path: Path
) -> None:
    assert set(parts.districts) == {"tabriz", "armenians-south"}
    report = verify_record(write(parts, tmp_path / "v2"))
    assert report.valid, report.to_json()
    single = verify_record(verify_election.round1)
    assert [(c.id, c.passed, c.items) for c in report.checks] == [
        (c.id, c.passed, c.items) for c in single.checks
    ]


# --- (a) a district checkpoint replaced ------------------------------------------------------


def test_a_replaced_district_checkpoint_is_caught(parts: Split, tmp_path: Path) -> None:
    at = parts.seals("tabriz")[1]
    size = json.loads(parts.national[at])["checkpoint"].split("\n")[1]
    parts.national[at] = parts.seal("tabriz", int(size), bytes(32))  # signed, wrong root
    failures = _board_failures(verify_record(write(parts, tmp_path / "v2")))
    _named(failures, "", at, "tabriz", "root")


def test_a_last_seal_that_is_not_the_district_checkpoint_is_caught(
    parts: Split, tmp_path: Path
) -> None:
    # The district's last entry is dropped from its log and its final checkpoint, both signed
    # again; the national log's last seal of it still holds the whole log.
    parts.districts["armenians-south"].pop()
    at = parts.seals("armenians-south")[-1]
    failures = _board_failures(verify_record(write(parts, tmp_path / "v2")))
    _named(failures, "", at, "armenians-south")


# --- (b) a district log forked -----------------------------------------------------------------


def test_a_district_log_changed_after_it_was_sealed_is_caught(parts: Split, tmp_path: Path) -> None:
    tabriz = parts.districts["tabriz"]
    first_seal = parts.seals("tabriz")[0]
    sealed = int(json.loads(parts.national[first_seal])["checkpoint"].split("\n")[1])
    assert sealed >= 2
    assert tabriz[0] != tabriz[1]
    tabriz[0], tabriz[1] = tabriz[1], tabriz[0]  # the same entries, in another order
    failures = _board_failures(verify_record(write(parts, tmp_path / "v2")))
    _named(failures, "", first_seal, "tabriz", "fork")


def test_two_seals_of_one_district_at_one_size_are_a_fork(parts: Split, tmp_path: Path) -> None:
    at = parts.seals("tabriz")[0]
    size = int(json.loads(parts.national[at])["checkpoint"].split("\n")[1])
    other = bytes(range(32))
    parts.national.insert(at + 1, parts.seal("tabriz", size, other))
    failures = _board_failures(verify_record(write(parts, tmp_path / "v2")))
    _named(failures, "", at + 1, "tabriz", f"size {size}", "fork")


# --- (c) a ballot in another district's log -----------------------------------------------------


def test_a_ballot_in_another_districts_log_is_caught(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    def misroute(doc: dict[str, Any], stations: dict[str, str]) -> str:
        if doc["type"] == "ballot-cast" and doc["ballot"]["district"] == "armenians-south":
            return "tabriz"
        return _route(doc, stations)

    parts = split(verify_election.round1, verify_election.keys1, misroute)
    tabriz = [json.loads(e) for e in parts.districts["tabriz"]]
    moved = next(
        i for i, d in enumerate(tabriz)
        if d["type"] == "ballot-cast" and d["ballot"]["district"] == "armenians-south"
    )  # fmt: skip
    failures = _board_failures(verify_record(write(parts, tmp_path / "v2")))
    _named(failures, "tabriz", moved, "armenians-south")


def test_a_polls_statement_in_another_districts_log_is_caught(
    verify_election: VerifyElection, tmp_path: Path
) -> None:
    def misroute(doc: dict[str, Any], stations: dict[str, str]) -> str:
        if doc["type"] == "polls-close" and doc["station"] == "isfahan-arm-1":
            return "tabriz"
        return _route(doc, stations)

    parts = split(verify_election.round1, verify_election.keys1, misroute)
    tabriz = [json.loads(e) for e in parts.districts["tabriz"]]
    moved = next(i for i, d in enumerate(tabriz) if d.get("station") == "isfahan-arm-1")
    failures = _board_failures(verify_record(write(parts, tmp_path / "v2")))
    _named(failures, "tabriz", moved, "isfahan-arm-1")


# --- (d) a district entry never sealed ---------------------------------------------------------


def test_a_district_entry_never_sealed_is_caught(parts: Split, tmp_path: Path) -> None:
    # A ballot appended to the district's log after its last seal; its own checkpoint (signed)
    # covers it, the national log never does.
    armenians = parts.districts["armenians-south"]
    ballot = next(e for e in armenians if json.loads(e)["type"] == "ballot-cast")
    late = json.loads(ballot)
    late["tracking_code"] = "0" * len(late["tracking_code"])
    armenians.append(canonical_json(late))
    failures = _board_failures(verify_record(write(parts, tmp_path / "v2")))
    _named(failures, "armenians-south", len(armenians) - 1, "never sealed")


def test_a_district_whose_seals_were_all_removed_is_caught(parts: Split, tmp_path: Path) -> None:
    for at in reversed(parts.seals("armenians-south")):
        del parts.national[at]
    failures = _board_failures(verify_record(write(parts, tmp_path / "v2")))
    for index in range(len(parts.districts["armenians-south"])):
        _named(failures, "armenians-south", index, "never sealed")


# --- (e) a district-only entry left in the national log -----------------------------------------


@pytest.mark.parametrize("entry_type", DISTRICT_ONLY)
def test_a_district_entry_in_the_national_log_is_caught(
    verify_election: VerifyElection, tmp_path: Path, entry_type: str
) -> None:
    def keep_national(doc: dict[str, Any], stations: dict[str, str]) -> str:
        return "" if doc["type"] == entry_type else _route(doc, stations)

    parts = split(verify_election.round1, verify_election.keys1, keep_national)
    at = next(i for i, e in enumerate(parts.national) if json.loads(e)["type"] == entry_type)
    failures = _board_failures(verify_record(write(parts, tmp_path / "v2")))
    _named(failures, "", at, entry_type, "national log")
