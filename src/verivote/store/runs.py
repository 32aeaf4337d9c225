"""The merged order of an election's logs in the store (README, "National scale (issue 17)":
Order): which entries of which log stand at which board positions.

The board is read as one sequence: the national log in order, with a district's entries from
its previous seal up to a seal placed just before the national entry of that seal, and the
seals themselves left out. `board_runs` holds that sequence as runs: positions pos …
pos+count-1 are entries idx … idx+count-1 of one log. Every run is written while the national
log is locked (a national append, or a seal), so runs never interleave and the positions stay
gap-free: a national append extends the last run when it is national and ends where the new
entries begin, and sealing a district writes one run of the entries since its last seal, with
the national index of the seal (`seal_idx`: the voter's second proof starts from it).

Entries a district has appended since its last seal have no position yet: they join the board
when the district is sealed (`board checkpoint`, the tally).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from verivote.store.schema import board_entries, board_runs

NATIONAL = ""


@dataclass(frozen=True)
class Run:
    """Board positions pos … pos+count-1 are entries idx … idx+count-1 of `log`; a district
    run was sealed by national entry `seal_idx`."""

    pos: int
    log: str
    idx: int
    count: int
    seal_idx: int | None

    @property
    def end(self) -> int:
        """The position after the run."""
        return self.pos + self.count


def _run(row: object) -> Run:
    r = row._mapping  # type: ignore[attr-defined]
    seal = r["seal_idx"]
    return Run(int(r["pos"]), str(r["log"]), int(r["idx"]), int(r["count"]),
               None if seal is None else int(seal))  # fmt: skip


_COLUMNS = (board_runs.c.pos, board_runs.c.log, board_runs.c.idx, board_runs.c.count,
            board_runs.c.seal_idx)  # fmt: skip


def last_run(conn: Connection, election_id: str) -> Run | None:
    """The run at the board's end, if any."""
    row = conn.execute(
        select(*_COLUMNS)
        .where(board_runs.c.election_id == election_id)
        .order_by(board_runs.c.pos.desc())
        .limit(1)
    ).first()
    return None if row is None else _run(row)


def merged_size(conn: Connection, election_id: str) -> int:
    """How many positions the board has (every national entry but the seals, and every
    sealed district entry)."""
    last = last_run(conn, election_id)
    return 0 if last is None else last.end


def add_national(conn: Connection, election_id: str, idx: int, count: int) -> int:
    """National entries idx … idx+count-1 (not seals) were appended, the national log locked:
    give them the next positions; returns the first one."""
    last = last_run(conn, election_id)
    start = 0 if last is None else last.end
    if count <= 0:
        return start
    if last is not None and last.log == NATIONAL and last.idx + last.count == idx:
        conn.execute(
            update(board_runs)
            .where(board_runs.c.election_id == election_id, board_runs.c.pos == last.pos)
            .values(count=last.count + count)
        )
    else:
        conn.execute(insert(board_runs).values(
            election_id=election_id, pos=start, log=NATIONAL, idx=idx, count=count
        ))  # fmt: skip
    return start


def sealed_size(conn: Connection, election_id: str, log: str) -> int:
    """How many of the district log's entries are sealed (have positions)."""
    row = conn.execute(
        select(board_runs.c.idx, board_runs.c.count)
        .where(board_runs.c.election_id == election_id, board_runs.c.log == log)
        .order_by(board_runs.c.idx.desc())
        .limit(1)
    ).first()
    return 0 if row is None else int(row[0]) + int(row[1])


def add_sealed(
    conn: Connection, election_id: str, log: str, start: int, end: int, seal_idx: int
) -> Run:
    """The district log's entries start … end-1 were sealed by national entry `seal_idx` (the
    national log locked): they take the next positions."""
    run = Run(merged_size(conn, election_id), log, start, end - start, seal_idx)
    conn.execute(insert(board_runs).values(
        election_id=election_id, pos=run.pos, log=log, idx=start, count=run.count,
        seal_idx=seal_idx,
    ))  # fmt: skip
    return run


def overlapping(conn: Connection, election_id: str, start: int, end: int) -> list[Run]:
    """The runs holding any of the positions start … end-1, in order."""
    r = board_runs.c
    # A run starting before `start` overlaps when it ends after it: the last such run is the
    # one with the largest pos ≤ start.
    first = conn.execute(
        select(r.pos).where(r.election_id == election_id, r.pos <= start)
        .order_by(r.pos.desc()).limit(1)
    ).scalar_one_or_none()  # fmt: skip
    low = start if first is None else int(first)
    rows = conn.execute(
        select(*_COLUMNS)
        .where(r.election_id == election_id, r.pos >= low, r.pos < end)
        .order_by(r.pos)
    )
    return [run for run in map(_run, rows) if run.end > start]


def read(conn: Connection, election_id: str, start: int, end: int) -> list[bytes]:
    """The entries at positions start … end-1 (fewer at the board's end), in order."""
    out: list[bytes] = []
    for run in overlapping(conn, election_id, start, end):
        lo = run.idx + max(0, start - run.pos)
        hi = run.idx + min(run.count, end - run.pos)
        e = board_entries.c
        rows = conn.execute(
            select(e.entry)
            .where(e.election_id == election_id, e.log == run.log, e.idx >= lo, e.idx < hi)
            .order_by(e.idx)
        ).scalars()
        out.extend(bytes(entry) for entry in rows)
    return out


def run_of(conn: Connection, election_id: str, log: str, idx: int) -> Run | None:
    """The run holding entry `idx` of `log`; None while it is unsealed (or not there)."""
    r = board_runs.c
    row = conn.execute(
        select(*_COLUMNS)
        .where(r.election_id == election_id, r.log == log, r.idx <= idx)
        .order_by(r.idx.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    run = _run(row)
    return run if idx < run.idx + run.count else None


def sealed_runs(conn: Connection, election_id: str) -> Iterator[Run]:
    """Every district run, in board order."""
    r = board_runs.c
    rows = conn.execute(
        select(*_COLUMNS).where(r.election_id == election_id, r.log != NATIONAL).order_by(r.pos)
    )
    return map(_run, rows)
