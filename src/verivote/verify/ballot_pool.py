"""Running `check_chunk` over all the ballot entries on `jobs` processes, or as Ray tasks on a
cluster (`verivote.cluster`), with progress."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from itertools import islice
from typing import overload

from verivote.board.lines import LineRef
from verivote.cluster import Cluster, make_pool, width
from verivote.verify.ballot_chunk import ChunkResult, Setup, check_chunk
from verivote.verify.loader import Board

Ref = LineRef | bytes
"""An entry for a task: its place in the record (`Board.ref`) or its bytes."""

Progress = Callable[[int, int], None]
"""progress(ballots done, ballots in all)."""

MAX_CHUNK = 500
"""Ballots per unit of work at most: a chunk is some 8 s of a core (about 1.7 s a hundred
ballots), short for a progress bar and beside the shuffles; the main process's cost of a
chunk (sending it, merging its result: about 0.15 ms) is then 0.3 µs a ballot, which at
25 million ballots matters (issue 17). Large enough for eg4096's batches to pay off."""

MIN_POOL = 50
"""Fewer ballots than this are checked in this process: starting workers would cost more."""

IN_FLIGHT = 4
"""Chunks a worker submitted and not yet gathered, at most: enough to keep it busy while
the next ones are read, few enough that the ballots read stay a few hundred at a time."""

_SETUP: Setup | None = None


def _init(setup: Setup) -> None:
    global _SETUP
    _SETUP = setup


def _run(chunk: list[tuple[int, Ref]]) -> ChunkResult:
    assert _SETUP is not None, "the worker was not initialised"
    return check_chunk(_SETUP, chunk)


def chunked(work: Sequence[tuple[int, Ref]], workers: int) -> Iterator[list[tuple[int, Ref]]]:
    """The work in chunks: about four per process, at most MAX_CHUNK ballots each. Each
    chunk is taken from `work` when it is asked for, so a `work` that reads its entries from
    the record (`BallotWork`) is never held whole."""
    size = max(1, min(MAX_CHUNK, -(-len(work) // (4 * workers))))
    for i in range(0, len(work), size):
        yield list(work[i : i + size])


class BallotWork(Sequence[tuple[int, Ref]]):
    """(board index, entry) of the entries at `indices` of `board`, each entry given as its
    place in the record's files when they are streamed (the task reads it, checking its leaf
    hash: issue 17, the main process neither reads nor copies the ballots), else its bytes."""

    def __init__(self, indices: Sequence[int], board: Board) -> None:
        self._indices = indices
        self._board = board

    def __len__(self) -> int:
        return len(self._indices)

    @overload
    def __getitem__(self, index: int) -> tuple[int, Ref]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[int, Ref]]: ...
    def __getitem__(self, index: int | slice) -> tuple[int, Ref] | list[tuple[int, Ref]]:
        if isinstance(index, slice):
            indices = self._indices[index]
            return list(zip(indices, self._board.refs(indices), strict=True))
        at = self._indices[index]
        return at, self._board.ref(at)


def _keep(
    results: list[ChunkResult], result: ChunkResult, each: Callable[[ChunkResult], None] | None
) -> None:
    if each is None:
        results.append(result)
    else:
        each(result)


def run_chunks(
    setup: Setup,
    work: Sequence[tuple[int, Ref]],
    jobs: int | None = None,
    progress: Progress | None = None,
    cluster: Cluster | None = None,
    each: Callable[[ChunkResult], None] | None = None,
) -> list[ChunkResult]:
    """`check_chunk` over every (board index, entry) of `work`; results in no set order.
    `jobs` processes (default: every core; 1, or little work, runs in this process), or with
    a `cluster` one Ray task per chunk whatever the amount of work. At most `IN_FLIGHT`
    chunks a worker are taken from `work` and not yet checked at any time. `each`: called
    with every result as it comes, which is then not kept (the list returned is empty)."""
    workers = width(cluster, jobs)
    size = max(1, min(MAX_CHUNK, -(-len(work) // (4 * workers))))
    count = -(-len(work) // size)
    report = progress or (lambda _done, _total: None)
    total = len(work)
    done = 0
    report(done, total)
    results: list[ChunkResult] = []
    here = workers <= 1 or count <= 1 or total < MIN_POOL
    if cluster is None and here:
        for chunk in chunked(work, workers):
            _keep(results, check_chunk(setup, chunk), each)
            done += len(chunk)
            report(done, total)
        return results
    with make_pool(cluster, min(workers, count), _init, (setup,)) as pool:
        pending: set[Future[ChunkResult]] = set()
        chunks = chunked(work, workers)
        while True:
            for chunk in islice(chunks, IN_FLIGHT * workers - len(pending)):
                pending.add(pool.submit(_run, chunk))
            if not pending:
                break
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                result = future.result()
                _keep(results, result, each)
                done += result.ballots
                report(done, total)
    return results
