"""What the main process keeps of the ballot chunks' results (`ballot_chunk.ChunkResult`),
merged as each chunk comes back so that no chunk's result is held after (issue 17): the
tally's sums, the entries refused, uncountable, flagged or out of place, the cast ballots
per station, the keys of the ballots' digests and nonces in buckets (`clashes`), and each
mixnet district's segments of mix-input rows in board order."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from verivote.crypto.group import Group
from verivote.verify.ballot_chunk import ChunkResult
from verivote.verify.check_participation import Placed
from verivote.verify.clashes import BUCKETS
from verivote.verify.sums import Sums, merge_sums

Segments = dict[str, list[tuple[int, int, bytes]]]
"""Per mixnet district: (first board index of the chunk, rows, `sums.rows_digest`) of each
chunk that has its cast written ballots, in board order once `BallotResults.segments` sorts
them."""


@dataclass
class BallotResults:
    group: Group[Any]
    sums: Sums = field(default_factory=dict)
    refused: list[tuple[int, str]] = field(default_factory=list)
    uncountable: list[tuple[int, str]] = field(default_factory=list)
    flagged: list[tuple[int, str]] = field(default_factory=list)
    buckets: list[bytearray] = field(default_factory=lambda: [bytearray() for _ in range(BUCKETS)])
    out_of_place: list[tuple[int, str]] = field(default_factory=list)
    cast_at: Counter[str] = field(default_factory=Counter)
    challenged_at: Counter[str] = field(default_factory=Counter)
    placed_all: bool = True
    _segments: Segments = field(default_factory=dict)

    def add(self, result: ChunkResult) -> None:
        """Merge one chunk's result."""
        merge_sums(self.group, self.sums, result.sums)
        self.refused += result.refused
        self.uncountable += result.uncountable
        self.flagged += result.flagged
        for bucket, keys in zip(self.buckets, result.keys, strict=False):
            bucket += keys
        if result.placed is None:
            self.placed_all = False
        else:
            self.out_of_place += result.placed[0]
            self.cast_at.update(result.placed[1])
            self.challenged_at.update(result.placed[2])
        for district, (rows, digest) in result.segments.items():
            self._segments.setdefault(district, []).append((result.first, rows, digest))

    @property
    def placed(self) -> Placed | None:
        """The ballots' places, if every chunk checked them (`Setup.polls`)."""
        if not self.placed_all:
            return None
        return self.out_of_place, self.cast_at, self.challenged_at

    @property
    def segments(self) -> Segments:
        """Each district's segments in board order."""
        return {d: sorted(s) for d, s in self._segments.items()}
