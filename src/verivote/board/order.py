"""The one sequence a record's logs are read as (README, "National scale (issue 17)", Order).

The national log in order, with district D's entries from its previously sealed size up to
size s placed just before the national entry that seals D at size s. The seals themselves are
not in the sequence: it is the election's entries, the order every check and every board
position (a tally's cutoff, the lot's board size) is stated in, so that a single-log record and
the same board split into logs with a seal at each change of log read as the same sequence.
District entries that no seal covers come last, district by district (the verifier reports
them: every district entry must be sealed).

The order is kept as segments, one per run of consecutive entries of one log, so that a
record of millions of entries with thousands of seals maps a position to (log, index) and back
by binary search over the segments.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from verivote.board.districts import NATIONAL

__all__ = ["Order", "Segment", "merge_order"]


@dataclass(frozen=True)
class Segment:
    """Positions start .. start+length-1 are entries first .. first+length-1 of `log`."""

    start: int
    log: str
    first: int
    length: int


@dataclass
class Order:
    """The merged order: its segments, and what each seal placed.

    `placed[i]` = (district, size before, size after) for the seal at national index i that
    placed entries (or placed none: before == after); `sealed[D]` is D's sealed size at the
    end of the national log.
    """

    segments: list[Segment] = field(default_factory=list)
    placed: dict[int, tuple[str, int, int]] = field(default_factory=dict)
    sealed: dict[str, int] = field(default_factory=dict)
    _starts: list[int] = field(default_factory=list)
    _by_log: dict[str, tuple[list[int], list[Segment]]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """The number of positions."""
        if not self.segments:
            return 0
        last = self.segments[-1]
        return last.start + last.length

    def _add(self, log: str, first: int, length: int) -> None:
        if length <= 0:
            return
        if self.segments:  # extend the last segment when it continues the same log
            last = self.segments[-1]
            if last.log == log and last.first + last.length == first:
                self.segments[-1] = Segment(last.start, log, last.first, last.length + length)
                return
        self.segments.append(Segment(self.size, log, first, length))

    def _index(self) -> None:
        self._starts = [s.start for s in self.segments]
        self._by_log = {}
        for segment in self.segments:
            firsts, segments = self._by_log.setdefault(segment.log, ([], []))
            firsts.append(segment.first)
            segments.append(segment)

    def where(self, position: int) -> tuple[str, int]:
        """(log, index) of the entry at `position`; IndexError outside the sequence."""
        if not 0 <= position < self.size:
            raise IndexError(f"position {position} outside a sequence of {self.size}")
        segment = self.segments[bisect.bisect_right(self._starts, position) - 1]
        return segment.log, segment.first + position - segment.start

    def position(self, log: str, index: int) -> int | None:
        """The position of entry `index` of `log`, or None if the sequence does not hold it."""
        firsts, segments = self._by_log.get(log, ([], []))
        at = bisect.bisect_right(firsts, index) - 1
        if at < 0:
            return None
        segment = segments[at]
        if index >= segment.first + segment.length:
            return None
        return segment.start + index - segment.first

    def __iter__(self) -> Iterator[tuple[str, int]]:
        """(log, index) of every position, in order."""
        for segment in self.segments:
            for offset in range(segment.length):
                yield segment.log, segment.first + offset


def merge_order(
    national_size: int,
    seals: Mapping[int, tuple[str, int] | None],
    sizes: Mapping[str, int],
) -> Order:
    """The merged order of a national log of `national_size` entries whose entry i is a seal
    when i is in `seals` ((district, sealed size), or None for a seal-typed entry that cannot
    be read), and district logs of `sizes` entries.

    A seal places the district's entries from its sealed size so far up to its own size (no
    further than the log's end); a seal of a size not beyond the sealed size places nothing.
    A seal of a district with no log places nothing. Unsealed district entries follow the
    national log, districts in sorted order.
    """
    order = Order()
    done = dict.fromkeys(sizes, 0)
    national_run = 0  # the first national index not yet placed
    for index in sorted(i for i in seals if 0 <= i < national_size):
        order._add(NATIONAL, national_run, index - national_run)
        national_run = index + 1
        seal = seals[index]
        if seal is None or seal[0] not in sizes:
            continue
        district, size = seal
        before = done[district]
        after = max(before, min(size, sizes[district]))
        order._add(district, before, after - before)
        done[district] = after
        order.placed[index] = (district, before, after)
    order._add(NATIONAL, national_run, national_size - national_run)
    order.sealed = dict(done)
    for district in sorted(sizes):
        order._add(district, done[district], sizes[district] - done[district])
    order._index()
    return order
