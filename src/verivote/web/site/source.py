"""What the site reads, behind one small interface with two implementations:

    RecordSource   a published record directory, read once, read-only (`serve --record DIR`)
    LiveSource     the election's database while it runs (`serve --db URL --election ID`)

A source hands out raw material only: the manifest, board entries as bytes, signed checkpoint
notes, turnout counts, inclusion proofs. Turning that into what a page or the JSON API shows is
the job of the pure functions in `views`, which work the same over either source.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from verivote.model.manifest import Manifest

Mode = Literal["record", "live"]
TurnoutSource = Literal["check-ins", "closing-check-ins", "closing-ballots"]


@dataclass(frozen=True)
class BallotHit:
    """A ballot found by its tracking code (a cast ballot) or id (a challenged one)."""

    code: str
    state: Literal["cast", "challenged"]
    index: int
    station: str
    district: str


@dataclass(frozen=True)
class Inclusion:
    """The proof that entry `index` is in the signed checkpoint of `size` entries."""

    index: int
    size: int
    entry: bytes
    proof: list[bytes]
    note: str


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

    def board_size(self) -> int: ...

    def type_counts(self) -> dict[str, int]:
        """How many board entries there are of each type."""
        ...

    def entries(self, entry_type: str | None, offset: int, limit: int) -> list[tuple[int, bytes]]:
        """(index, entry) of up to `limit` entries (of `entry_type`, or of any type), skipping
        the first `offset` of them, in board order."""
        ...

    def entry(self, index: int) -> bytes | None: ...

    def find_ballots(self, code: str) -> list[BallotHit]:
        """The ballots whose code is `code` (64 hex digits) or starts with it (16)."""
        ...

    def pending_district(self, code: str) -> str | None:
        """The district of the cast ballot `code` (64 hex digits) if it was accepted and waits
        in its station's open batch (issue 15), else None: a record has none."""
        ...

    def inclusion(self, index: int) -> Inclusion | None:
        """The proof of entry `index` in the latest signed checkpoint; None if no signed
        checkpoint covers it yet."""
        ...

    def record_files(self) -> list[RecordFile] | None:
        """The files of the whole record as of the latest checkpoint, or None if there is no
        complete record to give (no checkpoint yet, or no verifier keys)."""
        ...
