"""The live board by type, in the merged order of the logs (README, "National scale (issue 17)":
Order; `verivote.store.runs`), without a scan of the board per request.

The board's positions are runs: positions pos … pos+count-1 are entries idx … idx+count-1 of
one log. A run never changes once written, except the last national run, which grows as
national entries are appended (its count changes). So each run's entries are counted by type
once and kept, keyed by the run's position and checked against its count: the type counts are
the sum over the runs (only new runs, and a grown last run, are counted again), and a page of
one type skips whole runs by their counts and reads its entries from the runs that hold them,
through the index on (election, log, type, idx).

A joined query (every entry of the type with its run, ordered by position) gives the same
answer, but PostgreSQL plans it as a sort of every entry of the type: 0.35 s a page at 200,000
ballots, growing with the board.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, Integer, func, literal_column, select, union_all

from verivote.board.districts import SEAL_TYPE
from verivote.store.runs import Run
from verivote.store.schema import board_entries, board_runs
from verivote.web.site.source import BoardEntry

RUN_BATCH = 200
"""Runs read, and counted, at a time."""
COMPOUND = 400
"""Counts asked in one query (SQLite takes up to 500 terms in one compound select)."""


def _run(row: object) -> Run:
    r = row._mapping  # type: ignore[attr-defined]
    seal = r["seal_idx"]
    return Run(int(r["pos"]), str(r["log"]), int(r["idx"]), int(r["count"]),
               None if seal is None else int(seal))  # fmt: skip


def _types_of(conn: Connection, election_id: str, log: str) -> list[str]:
    """The entry types of `log` but the seals, each found by one seek of the index on
    (election, log, type, idx): a log of millions of ballots has a handful of types."""
    e = board_entries.c
    found: list[str] = []
    after = ""
    while True:
        kind = conn.execute(
            select(func.min(e.entry_type)).where(
                e.election_id == election_id, e.log == log, e.entry_type > after
            )
        ).scalar_one_or_none()
        if kind is None:
            return [k for k in found if k != SEAL_TYPE]
        found.append(str(kind))
        after = str(kind)


class RunTypes:
    """Each run's entries counted by type, kept for the life of the process (a few small
    dicts per run: a national board of 20,000 runs holds a few megabytes)."""

    def __init__(self, election_id: str) -> None:
        self._id = election_id
        self._kept: dict[int, tuple[int, dict[str, int]]] = {}

    def batches(self, conn: Connection) -> Iterator[list[tuple[Run, dict[str, int]]]]:
        """The board's runs in order, RUN_BATCH at a time, each with its entries by type."""
        r = board_runs.c
        after = -1
        while True:
            rows = conn.execute(
                select(r.pos, r.log, r.idx, r.count, r.seal_idx)
                .where(r.election_id == self._id, r.pos > after)
                .order_by(r.pos)
                .limit(RUN_BATCH)
            )
            batch = [_run(row) for row in rows]
            if not batch:
                return
            after = batch[-1].pos
            self._count(conn, [run for run in batch if self._fresh(run) is None])
            yield [(run, self._kept[run.pos][1]) for run in batch]

    def _fresh(self, run: Run) -> dict[str, int] | None:
        kept = self._kept.get(run.pos)
        return kept[1] if kept is not None and kept[0] == run.count else None

    def _count(self, conn: Connection, runs: list[Run]) -> None:
        if not runs:
            return
        e = board_entries.c
        kinds = {log: _types_of(conn, self._id, log) for log in {run.log for run in runs}}
        # One count per run and type, each a range of the index on (election, log, type, idx)
        # that reads no entry; each run's range as read: a last run that grew since is counted
        # as it was read, and again when it is read grown.
        parts = [
            select(
                literal_column(str(n), Integer).label("n"),
                literal_column(str(k), Integer).label("k"),
                func.count().label("entries"),
            ).where(
                e.election_id == self._id,
                e.log == run.log,
                e.entry_type == kind,
                e.idx >= run.idx,
                e.idx < run.idx + run.count,
            )
            for n, run in enumerate(runs)
            for k, kind in enumerate(kinds[run.log])
        ]
        found: list[dict[str, int]] = [{} for _ in runs]
        for at in range(0, len(parts), COMPOUND):
            for row in conn.execute(union_all(*parts[at : at + COMPOUND])):
                if row.entries:
                    kind = kinds[runs[int(row.n)].log][int(row.k)]
                    found[int(row.n)][kind] = int(row.entries)
        for run, types in zip(runs, found, strict=True):
            self._kept[run.pos] = (run.count, types)

    def type_counts(self, conn: Connection) -> dict[str, int]:
        """How many board positions hold an entry of each type."""
        total: dict[str, int] = {}
        for batch in self.batches(conn):
            for _, types in batch:
                for kind, n in types.items():
                    total[kind] = total.get(kind, 0) + n
        return total

    def of_type(
        self, conn: Connection, entry_type: str, offset: int, limit: int
    ) -> list[BoardEntry]:
        """Up to `limit` entries of `entry_type` by position, skipping the first `offset`."""
        out: list[BoardEntry] = []
        skip = offset
        e = board_entries.c
        for batch in self.batches(conn):
            for run, types in batch:
                n = types.get(entry_type, 0)
                if skip >= n:
                    skip -= n
                    continue
                rows = conn.execute(
                    select(e.idx, e.entry)
                    .where(
                        e.election_id == self._id,
                        e.log == run.log,
                        e.entry_type == entry_type,
                        e.idx >= run.idx,
                        e.idx < run.idx + run.count,
                    )
                    .order_by(e.idx)
                    .offset(skip)
                    .limit(limit - len(out))
                )
                out.extend(BoardEntry(run.pos + int(idx) - run.idx, run.log, int(idx),
                                      bytes(entry)) for idx, entry in rows)  # fmt: skip
                skip = 0
                if len(out) >= limit:
                    return out
        return out
