"""What the site reads, behind one small interface with two implementations:

    RecordSource   a published record directory, read once, read-only (`serve --record DIR`)
    LiveSource     the election's database while it runs (`serve --db URL --election ID`)

A source hands out raw material only: the manifest, board entries as bytes, signed checkpoint
notes, turnout counts, inclusion proofs. Turning that into what a page or the JSON API shows is
the job of the pure functions in `views`, which work the same over either source.

An election with a log per district (README, "National scale (issue 17)") is shown as the one
sequence of its "Order": the national log with each district's entries placed before the seal
that sealed them, the seals left out. A board *position* is a place in that sequence (what the
verifier, a tally's cutoff and the count state); each entry also names its log and its index
there. A district entry not yet sealed has no position: a live source counts it in `unsealed`
and lists it once its district is sealed (`board checkpoint`, the tally). A ballot in a district
log is proved by two inclusion proofs (`board.inclusion.DistrictInclusion`), one in the log of a
single-log election (`Inclusion`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from verivote.board.inclusion import DistrictInclusion
from verivote.model.manifest import Manifest

Mode = Literal["record", "live"]
TurnoutSource = Literal["check-ins", "closing-check-ins", "closing-ballots"]


@dataclass(frozen=True)
class BallotHit:
    """A ballot found by its tracking code (a cast ballot) or id (a challenged one): entry
    `index` of `log` ("" the national log, else its district's), at board `position` (None
    while its district's log is not sealed)."""

    code: str
    state: Literal["cast", "challenged"]
    log: str
    index: int
    position: int | None
    station: str
    district: str


@dataclass(frozen=True)
class BoardEntry:
    """The entry at board `position`: entry `index` of `log` ("" the national log)."""

    position: int
    log: str
    index: int
    raw: bytes


@dataclass(frozen=True)
class Inclusion:
    """The proof that entry `index` of the national log is in its signed checkpoint of `size`
    entries."""

    index: int
    size: int
    entry: bytes
    proof: list[bytes]
    note: str


Proof = Inclusion | DistrictInclusion
"""A ballot's proof: in the national log, or in its district's log and that log's seal in the
national log."""


@dataclass(frozen=True)
class Participation:
    """Raw turnout: per station, and where it came from: the check-ins themselves (live), the
    check-ins or else the ballots cast that the stations' closing statements published (a
    record). `eligible` is the roll's size per district where the source knows it (live)."""

    source: TurnoutSource | None
    stations: dict[str, int]
    eligible: dict[str, int] | None = None


@dataclass(frozen=True)
class RecordFile:
    """One file of the record download: its path in the archive, size, and content."""

    name: str
    size: int
    chunks: Iterator[bytes]


class Source(Protocol):
    """The interface both sources implement (see the module docstring)."""

    @property
    def mode(self) -> Mode: ...

    @property
    def manifest(self) -> Manifest: ...

    @property
    def base_hash(self) -> str:
        """The election's base hash, hex."""
        ...

    @property
    def verifier_keys(self) -> tuple[str, ...]:
        """The authority's verifier key first, then the witnesses' (empty if unknown)."""
        ...

    def count(self) -> dict[str, object] | None:
        """The board's `count` entry, parsed, once the election is counted."""
        ...

    def participation(self) -> Participation: ...

    def polls(self) -> dict[str, str]:
        """Each station's polls ("open" or "closed"); stations never opened are absent."""
        ...

    def checkpoint_notes(self, limit: int) -> list[str]:
        """Up to `limit` signed checkpoint notes, the newest (largest) first."""
        ...

    def board_size(self) -> int:
        """How many board positions there are (the seals and unsealed entries left out)."""
        ...

    def log_sizes(self) -> dict[str, int]:
        """Each log's size ("" the national log, seals included; then each district's)."""
        ...

    def unsealed(self) -> dict[str, int]:
        """How many entries of each district's log no seal covers yet (no position yet)."""
        ...

    def type_counts(self) -> dict[str, int]:
        """How many board positions hold an entry of each type."""
        ...

    def entries(self, entry_type: str | None, offset: int, limit: int) -> list[BoardEntry]:
        """Up to `limit` entries (of `entry_type`, or of any type), skipping the first `offset`
        of them, by board position."""
        ...

    def entry(self, position: int) -> bytes | None:
        """The entry at board `position`."""
        ...

    def find_ballots(self, code: str) -> list[BallotHit]:
        """The ballots whose code is `code` (64 hex digits) or starts with it (16)."""
        ...

    def pending_district(self, code: str) -> str | None:
        """The district of the cast ballot `code` (64 hex digits) if it was accepted and waits
        in its station's open batch (issue 15), else None: a record has none."""
        ...

    def inclusion(self, hit: BallotHit) -> Proof | None:
        """The ballot's proof under the latest signed national checkpoint: an `Inclusion` for
        a ballot in the national log, the two proofs for one in a district's log; None if no
        signed checkpoint covers it (or its district's seal) yet."""
        ...

    def record_files(self) -> list[RecordFile] | None:
        """The files of the whole record as of the latest checkpoint (the national log, and
        each district's log up to its last seal within it), or None if there is no complete
        record to give (no checkpoint yet, or no verifier keys)."""
        ...
