"""A ballot-polling audit's folder (issue 18, item 2): its state, its pull lists and the audit
board's entries, round by round. `verivote audit start|enter|status` and the website's audit
page read and write it here; the decisions are `verivote.audit.ballot_polling`'s.

    AUDIT/audit.json             the state: plan, every round's risks, the status
    AUDIT/round-<n>-pull.csv     the ballots to pull in round n: station,box,position,ticket order
    AUDIT/round-<n>-entries.csv  what the audit board read on each: station,box,position,codes

The audit board's entries are kept as they were given, and each round's risks are measured
from every round's entries, in ticket order. `audit.json` is replaced atomically, so a crash
leaves the last round whole.
"""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

from verivote.audit import batch_comparison as batch
from verivote.audit.ballot_polling import (
    IN_PROGRESS,
    AuditError,
    drawn,
    end_round,
    new_ballots,
    plan,
)
from verivote.audit.sampler import PaperBallot, SeedError, parse_seed
from verivote.audit.stations import record_forms
from verivote.board.record import write_atomic
from verivote.model.result_form import votes_of

STATE = "audit.json"
PULL_HEADER = ["order", "station", "box", "position"]
ENTRY_HEADER = ["station", "box", "position", "codes"]
"""`codes`: the candidate codes the ballot names, separated by spaces; empty for a blank
ballot; `missing` when the ballot is not in its box."""
MISSING = "missing"


def pull_path(folder: Path, n: int) -> Path:
    return folder / f"round-{n}-pull.csv"


def entries_path(folder: Path, n: int) -> Path:
    return folder / f"round-{n}-entries.csv"


def _read_json(path: Path, what: str, start: str) -> dict[str, Any]:
    """An audit's state file; AuditError naming the command that starts one if it is absent."""
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AuditError(
            f"no {what} in {path.parent} (start one with `verivote audit {start}`)"
        ) from None
    except ValueError as exc:
        raise AuditError(f"{path} is not the state file of an {what}: {exc}") from None
    if not isinstance(state, dict):
        raise AuditError(f"{path} is not the state file of an {what}")
    return state


def read_state(folder: Path) -> dict[str, Any]:
    return _read_json(folder / STATE, "audit", "start")


def _write_state(folder: Path, state: dict[str, Any]) -> None:
    write_atomic(folder / STATE, (json.dumps(state, indent=2, ensure_ascii=False) + "\n").encode())


def district_outcome(record: Path, district: str) -> dict[str, Any]:
    """What the audit of `district` needs from a published record: the manifest's district,
    the count's result, the stations' paper ballots (their result forms' ballots_cast)."""
    try:
        found = record_forms(record)
    except (OSError, ValueError) as exc:
        raise AuditError(f"{record}: not a readable record ({exc})") from None
    manifest, count = found.manifest, found.count
    try:
        model = manifest.district(district)
    except KeyError:
        known = ", ".join(d.id for d in manifest.districts)
        raise AuditError(f"no district {district!r} in the record (it has {known})") from None
    forms = {
        f.station: {"ballots": f.ballots_cast, "blank": f.blank, "votes": dict(f.votes)}
        for f in found.forms
        if f.district == district
    }
    if count is None or district not in count.get("districts", {}):
        raise AuditError(f"the record has no count of district {district}")
    stations = [s.id for s in manifest.stations if s.district == district]
    lacking = [s for s in stations if s not in forms]
    if lacking:
        raise AuditError(f"no result form of {', '.join(lacking)}: the paper cannot be listed")
    result = count["districts"][district]
    return {
        "manifest": manifest,
        "district": model,
        "result": result,
        "votes": votes_of(result),
        "boxes": {s: f["ballots"] for s, f in forms.items()},
        "forms": forms,
        "threshold": Fraction(manifest.threshold) if manifest.round == 1 else None,
    }


def start(
    record: Path, district: str, risk_limit: float, seed: str, folder: Path
) -> dict[str, Any]:
    """Plan the audit of `district` in the new folder `folder` and list round 1's ballots."""
    try:
        seed = parse_seed(seed)
    except SeedError as exc:
        raise AuditError(str(exc)) from None
    if (folder / STATE).exists():
        raise AuditError(f"{folder} already holds an audit")
    found = district_outcome(record, district)
    result = found["result"]
    state = plan(
        district, result["method"], result["seats"], found["votes"], result["valid"],
        result["elected"], result.get("runoff", []), found["threshold"], found["boxes"],
        risk_limit, seed,
    )  # fmt: skip
    state["record"] = str(record)
    folder.mkdir(parents=True, exist_ok=True)
    write_pull_list(folder, state)
    _write_state(folder, state)
    return state


def write_pull_list(folder: Path, state: dict[str, Any]) -> Path:
    """The next round's ballots to pull, sorted by station, box and position (with each
    ballot's place in the random order, which the entries need not follow)."""
    before = state["rounds"][-1]["size"] if state["rounds"] else 0
    adding = new_ballots(state)
    rows = sorted((b.station, b.box, b.position, before + i) for i, b in enumerate(adding, start=1))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(PULL_HEADER)
    for station, box, position, order in rows:
        writer.writerow([order, station, box, position])
    path = pull_path(folder, len(state["rounds"]) + 1)
    write_atomic(path, buffer.getvalue().encode())
    return path


Readings = dict[PaperBallot, frozenset[str] | None]
"""What the audit board read on each ballot: the candidates it names (None: not found)."""


def parse_entries(
    text: str, expected: list[PaperBallot], candidates: set[str]
) -> dict[PaperBallot, frozenset[str] | None]:
    """The audit board's entries for exactly the ballots `expected`; AuditError naming the
    first line that is wrong, a ballot twice, or a ballot of the pull list left out."""
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header != ENTRY_HEADER:
        raise AuditError(f"the entries' header must be {','.join(ENTRY_HEADER)}")
    wanted = set(expected)
    out: dict[PaperBallot, frozenset[str] | None] = {}
    for line, row in enumerate(rows, start=2):
        if len(row) != 4:
            raise AuditError(f"entries line {line}: 4 fields, not {len(row)}")
        station, box, position, codes = row
        if not box.isdigit() or not position.isdigit():
            raise AuditError(f"entries line {line}: box and position are whole numbers")
        ballot = PaperBallot(station, int(box), int(position))
        if ballot not in wanted:
            raise AuditError(f"entries line {line}: {station} box {box} ballot {position} is "
                             "not on this round's pull list")  # fmt: skip
        if ballot in out:
            raise AuditError(f"entries line {line}: {station} box {box} ballot {position} again")
        if codes.strip() == MISSING:
            out[ballot] = None
            continue
        named = codes.split()
        if not all(c.isdigit() for c in named):
            raise AuditError(f"entries line {line}: codes are digits separated by spaces")
        # What the law counts: names of no candidate are ignored (kept out of the ballot).
        out[ballot] = frozenset(c for c in named if c in candidates)
    left = sorted(wanted - set(out))
    if left:
        first = left[0]
        raise AuditError(f"{len(left)} ballots of the pull list have no entry (the first: "
                         f"{first.station} box {first.box} ballot {first.position})")  # fmt: skip
    return out


def enter(folder: Path, text: str) -> dict[str, Any]:
    """Record the audit board's entries for the current round, measure every assertion over
    all the rounds' entries, decide, and list the next round's ballots if there is one.
    Returns the round's record."""
    state = read_state(folder)
    if state["status"] != IN_PROGRESS:
        raise AuditError(f"the audit is over: {state['status']}")
    n = len(state["rounds"]) + 1
    candidates = set(state["votes"])
    entries = parse_entries(text, new_ballots(state), candidates)
    write_atomic(entries_path(folder, n), text.encode())
    read: Readings = {}
    for k in range(1, n):
        old = entries_path(folder, k).read_text(encoding="utf-8")
        before = state["rounds"][k - 2]["size"] if k > 1 else 0
        expected = drawn(state, state["rounds"][k - 1]["size"])[before:]
        read.update(parse_entries(old, expected, candidates))
    read.update(entries)
    order = drawn(state, state["next_size"])
    record = end_round(state, [read[b] for b in order])
    if state["status"] == IN_PROGRESS:
        write_pull_list(folder, state)
    _write_state(folder, state)
    return record


# -- batch-level comparison audits (verivote.audit.batch_comparison) --------------------------

BATCH_STATE = "batch-audit.json"


def batch_list_path(folder: Path, n: int) -> Path:
    """Round n's stations to hand count."""
    return folder / f"batch-round-{n}-stations.csv"


def read_batch_state(folder: Path) -> dict[str, Any]:
    return _read_json(folder / BATCH_STATE, "audit of batches", "batch-start")


def _write_batch(folder: Path, state: dict[str, Any]) -> None:
    data = (json.dumps(state, indent=2, ensure_ascii=False) + "\n").encode()
    write_atomic(folder / BATCH_STATE, data)
    if state["status"] == IN_PROGRESS:
        rows = "".join(f"{s}\n" for s in batch.to_count(state))
        write_atomic(
            batch_list_path(folder, len(state["rounds"]) + 1), ("station\n" + rows).encode()
        )


def batch_start(
    record: Path, district: str, risk_limit: float, seed: str, folder: Path
) -> dict[str, Any]:
    """Plan the batch comparison audit of `district` against its stations' result forms and
    list round 1's stations to hand count."""
    try:
        seed = parse_seed(seed)
    except SeedError as exc:
        raise AuditError(str(exc)) from None
    if (folder / BATCH_STATE).exists():
        raise AuditError(f"{folder} already holds a batch audit")
    found = district_outcome(record, district)
    result = found["result"]
    state = batch.plan(
        district, result["method"], result["seats"], result["elected"],
        result.get("runoff", []), found["threshold"], found["forms"], risk_limit, seed,
    )  # fmt: skip
    state["record"] = str(record)
    folder.mkdir(parents=True, exist_ok=True)
    _write_batch(folder, state)
    return state


def parse_hand_counts(text: str, candidates: set[str]) -> dict[str, dict[str, Any]]:
    """Hand counts as a CSV: station,ballots,blank,<code>,… (one column per candidate)."""
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None or header[:3] != ["station", "ballots", "blank"]:
        raise AuditError("the hand counts' header must start station,ballots,blank")
    codes = header[3:]
    if set(codes) != candidates:
        raise AuditError("the hand counts need one column for each candidate of the district")
    out: dict[str, dict[str, Any]] = {}
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise AuditError(f"hand counts line {line}: {len(header)} fields, not {len(row)}")
        if not all(cell.isdigit() for cell in row[1:]):
            raise AuditError(f"hand counts line {line}: counts are whole numbers")
        if row[0] in out:
            raise AuditError(f"hand counts line {line}: {row[0]} again")
        numbers = [int(cell) for cell in row[1:]]
        out[row[0]] = {"ballots": numbers[0], "blank": numbers[1],
                       "votes": dict(zip(codes, numbers[2:], strict=True))}  # fmt: skip
    return out


def batch_enter(folder: Path, text: str) -> dict[str, Any]:
    """Record the round's hand counts and measure; returns the round's record."""
    state = read_batch_state(folder)
    n = len(state["rounds"]) + 1
    candidates = {c for r in state["reported"].values() for c in r["votes"]}
    counts = parse_hand_counts(text, candidates)
    record = batch.end_round(state, counts)
    write_atomic(folder / f"batch-round-{n}-counts.csv", text.encode())
    _write_batch(folder, state)
    return record
