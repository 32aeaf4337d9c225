"""The audits the site shows (issue 18, item 2): ballot-polling audits' folders
(`verivote.audit.audit_files`), given to `verivote serve --audit DIR` and read again on every
request, since an audit goes on while the site runs.

What is read is checked before anything is shown: the state (`audit.json`) against the
`AuditState` model (its rounds measure exactly its assertions, numbered 1, 2, … with growing
samples), the pull list and the entries against their CSV headers and fields. A folder that
fails is `AuditUnreadable`, which the pages show as a friendly error, never a 500.

An audit is found by its district as its state names it, among the folders given at start:
no path is ever made from a URL. The only file names made are the audit's own
(`round-<n>-pull.csv`, `round-<n>-entries.csv`), `n` a round of the state read.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from verivote.audit.audit_files import (
    ENTRY_HEADER,
    MISSING,
    PULL_HEADER,
    STATE,
    entries_path,
    pull_path,
)
from verivote.audit.ballot_polling import IN_PROGRESS

MAX_FILE = 64 * 1024 * 1024
"""Bytes of an audit's file the site reads: more is not an audit's (a national sample of a
whole district's ballots is a few MB)."""
Status = Literal["in progress", "confirmed", "full hand count"]
"""`ballot_polling`'s IN_PROGRESS, CONFIRMED and FULL_COUNT."""


class AuditUnusable(ValueError):
    """A folder given to `serve --audit` that holds no readable audit (at start)."""


class AuditUnreadable(ValueError):
    """An audit's files cannot be read or are not an audit's (while serving)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AssertionState(_Model):
    kind: Literal["beats", "reached", "missed"]
    winner: str
    loser: str | None
    asn: float | None = Field(ge=0)
    """The expected sample size; None when the assertion has no margin (infinite)."""
    id: str

    @model_validator(mode="after")
    def _loser_for_beats(self) -> Self:
        if (self.kind == "beats") != (self.loser is not None):
            raise ValueError("a `beats` assertion, and only it, names a loser")
        return self


class RiskState(_Model):
    risk: float = Field(ge=0, le=1)
    confirmed: bool


class RoundState(_Model):
    round: int = Field(ge=1)
    size: int = Field(ge=1)
    assertions: dict[str, RiskState]
    status: Status


class AuditState(BaseModel):
    """An audit's state, as `audit.json` holds it (`verivote.audit.ballot_polling.plan`),
    without the path of the record it was planned from (a path on the server)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    district: str = Field(min_length=1, max_length=200)
    method: str
    seats: int = Field(ge=1)
    risk_limit: float = Field(gt=0, lt=1)
    seed: str
    threshold: str | None
    """The law's share of the valid ballots, a fraction ("1/5"); None in a second round."""
    votes: dict[str, int]
    valid: int = Field(ge=0)
    elected: list[str]
    runoff: list[str]
    boxes: dict[str, int]
    """Each station's paper ballots (one box a station)."""
    population: int = Field(ge=1)
    assertions: list[AssertionState] = Field(min_length=1)
    rounds: list[RoundState]
    status: Status
    next_size: int = Field(ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ids = [a.id for a in self.assertions]
        if len(set(ids)) != len(ids):
            raise ValueError("two assertions with one id")
        if sum(self.boxes.values()) != self.population:
            raise ValueError("the boxes do not hold the population")
        before = 0
        for n, found in enumerate(self.rounds, start=1):
            if found.round != n or set(found.assertions) != set(ids):
                raise ValueError(f"round {n} is not the audit's round {n} of its assertions")
            if not before < found.size <= self.population:
                raise ValueError(f"round {n}'s sample does not grow within the population")
            before = found.size
        if self.rounds and self.rounds[-1].status != self.status:
            raise ValueError("the last round's status is not the audit's")
        if self.threshold is not None:
            num, _, den = self.threshold.partition("/")
            whole = num.isascii() and num.isdigit() and den.isascii()
            if not whole or not (den == "" or (den.isdigit() and int(den) > 0)):
                raise ValueError(f"the threshold {self.threshold!r} is not a fraction")
        return self


@dataclass(frozen=True)
class PullRow:
    order: int
    station: str
    box: int
    position: int


@dataclass(frozen=True)
class EntryRow:
    station: str
    box: int
    position: int
    codes: tuple[str, ...] | None
    """The candidate codes the audit board read (empty: a blank ballot); None: the ballot is
    not in its box."""


@dataclass(frozen=True)
class Audit:
    """An audit as read now: its state, the pull list of its current round (the last round's
    once it is over), and the entries of each round of the state."""

    state: AuditState
    pull_round: int
    pull: list[PullRow]
    entries: list[list[EntryRow]]


def _text(path: Path) -> str:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE + 1)
    except OSError as exc:
        raise AuditUnreadable(f"{path.name}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE:
        raise AuditUnreadable(f"{path.name} is larger than {MAX_FILE} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AuditUnreadable(f"{path.name} is not UTF-8 text") from None


def read_state(folder: Path) -> AuditState:
    """The audit's state in `folder`, checked (AuditUnreadable if it is not one)."""
    try:
        doc = json.loads(_text(folder / STATE))
    except ValueError as exc:
        if isinstance(exc, AuditUnreadable):
            raise
        raise AuditUnreadable(f"{STATE} is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise AuditUnreadable(f"{STATE} is not an audit's state")
    try:
        return AuditState.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AuditUnreadable(
            f"{STATE} is not an audit's state ({where}: {first['msg']})"
        ) from None


def _rows(text: str, header: Sequence[str], name: str) -> list[list[str]]:
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise AuditUnreadable(f"{name}: {exc}") from None
    if not rows or rows[0] != list(header):
        raise AuditUnreadable(f"{name}: the header is not {','.join(header)}")
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise AuditUnreadable(f"{name} line {line}: {len(header)} fields, not {len(row)}")
    return rows[1:]


def _whole(value: str, name: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise AuditUnreadable(f"{name}: {value!r} is not a whole number")
    return int(value)


def read_pull(folder: Path, n: int) -> list[PullRow]:
    name = pull_path(folder, n).name
    return [
        PullRow(_whole(order, name), station, _whole(box, name), _whole(position, name))
        for order, station, box, position in _rows(_text(pull_path(folder, n)), PULL_HEADER,
                                                   name)
    ]  # fmt: skip


def read_entries(folder: Path, n: int) -> list[EntryRow]:
    name = entries_path(folder, n).name
    out = []
    for station, box, position, codes in _rows(_text(entries_path(folder, n)), ENTRY_HEADER,
                                               name):  # fmt: skip
        read: tuple[str, ...] | None = None
        if codes.strip() != MISSING:
            read = tuple(codes.split())
            if not all(c.isascii() and c.isdigit() for c in read):
                raise AuditUnreadable(f"{name}: codes are digits separated by spaces")
        out.append(EntryRow(station, _whole(box, name), _whole(position, name), read))
    return out


def read_audit(folder: Path, state: AuditState) -> Audit:
    """The pull list and the entries of the audit whose state (read from `folder`) is
    `state`: AuditUnreadable if one is missing or malformed."""
    done = len(state.rounds)
    # The current round's pull list; once the audit is over, the last round's.
    pull_round = done + 1 if state.status == IN_PROGRESS else max(done, 1)
    entries = [read_entries(folder, n) for n in range(1, done + 1)]
    before = 0
    for n, (found, rows) in enumerate(zip(state.rounds, entries, strict=True), start=1):
        if len(rows) != found.size - before:
            raise AuditUnreadable(f"round {n} has {len(rows)} entries for "
                                  f"{found.size - before} ballots")  # fmt: skip
        before = found.size
    return Audit(state, pull_round, read_pull(folder, pull_round), entries)


@dataclass(frozen=True)
class Found:
    """An audit looked up by district: its folder and state, or why it cannot be read."""

    district: str
    folder: Path
    state: AuditState | None
    error: str | None


class Audits:
    """The audits' folders given to the site, each known by the district its state names.

    The states are read at start (AuditUnusable if one cannot be, or two audit one district)
    and again on every request: a folder whose state cannot be read any more stays known by
    the district it last named, so that its page can say so."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = tuple(folders)
        self.known: dict[Path, str] = {}
        for folder in self.folders:
            try:
                state = read_state(folder)
            except AuditUnreadable as exc:
                raise AuditUnusable(f"{folder}: no audit the site can read ({exc})") from None
            if state.district in self.known.values():
                raise AuditUnusable(f"{folder}: a second audit of district {state.district}")
            self.known[folder] = state.district

    def all(self) -> list[Found]:
        """Every audit, as its folder holds it now, in the order given."""
        found = []
        for folder in self.folders:
            try:
                state = read_state(folder)
            except AuditUnreadable as exc:
                found.append(Found(self.known[folder], folder, None, str(exc)))
                continue
            self.known[folder] = state.district
            found.append(Found(state.district, folder, state, None))
        return found

    def find(self, district: str) -> Found | None:
        """The audit of `district` (compared with the districts the states name), or None."""
        return next((f for f in self.all() if f.district == district), None)
