"""Running `check_chunk` over all the ballot entries on `jobs` processes, or as Ray tasks on a
cluster (`verivote.cluster`), with progress."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import as_completed

from verivote.cluster import Cluster, make_pool, width
from verivote.verify.ballot_chunk import ChunkResult, Setup, check_chunk

Progress = Callable[[int, int], None]
"""progress(ballots done, ballots in all)."""

MAX_CHUNK = 100
"""Ballots per unit of work at most: small enough for a smooth progress bar, large enough for
eg4096's batches to pay off."""

MIN_POOL = 50
"""Fewer ballots than this are checked in this process: starting workers would cost more."""

_SETUP: Setup | None = None


def _init(setup: Setup) -> None:
    global _SETUP
    _SETUP = setup


def _run(chunk: list[tuple[int, bytes]]) -> ChunkResult:
    assert _SETUP is not None, "the worker was not initialised"
    return check_chunk(_SETUP, chunk)


def chunked(work: Sequence[tuple[int, bytes]], workers: int) -> list[list[tuple[int, bytes]]]:
    """The work in chunks: about four per process, at most MAX_CHUNK ballots each."""
    size = max(1, min(MAX_CHUNK, -(-len(work) // (4 * workers))))
    return [list(work[i : i + size]) for i in range(0, len(work), size)]


def run_chunks(
    setup: Setup,
    work: Sequence[tuple[int, bytes]],
    jobs: int | None = None,
    progress: Progress | None = None,
    cluster: Cluster | None = None,
) -> list[ChunkResult]:
    """`check_chunk` over every (board index, entry) of `work`; results in no set order.
    `jobs` processes (default: every core; 1, or little work, runs in this process), or with
    a `cluster` one Ray task per chunk whatever the amount of work."""
    workers = width(cluster, jobs)
    chunks = chunked(work, workers)
    report = progress or (lambda _done, _total: None)
    total = len(work)
    done = 0
    report(done, total)
    results: list[ChunkResult] = []
    here = workers <= 1 or len(chunks) <= 1 or total < MIN_POOL
    if cluster is None and here:
        for chunk in chunks:
            results.append(check_chunk(setup, chunk))
            done += len(chunk)
            report(done, total)
        return results
    with make_pool(cluster, min(workers, len(chunks)), _init, (setup,)) as pool:
        futures = [pool.submit(_run, chunk) for chunk in chunks]
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            done += result.ballots
            report(done, total)
    return results
