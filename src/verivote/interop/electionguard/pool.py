"""Checking an ElectionGuard record's ballot files on `jobs` processes, with progress.

Every ballot costs the same kind of work (about 4 exponentiations per selection and per
contest), so the files go out in small chunks, a few per process, for a smooth progress bar.
Each worker builds its own small tables of g and K (`powers`, 40 ms each).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from verivote.interop.electionguard.ballots import ChunkOutcome, Setup, check_chunk

Progress = Callable[[int, int], None]
"""progress(ballots done, ballots in all)."""

CHUNKS_PER_JOB = 4

_SETUP: Setup | None = None


def _init(setup: Setup) -> None:
    global _SETUP
    _SETUP = setup


def _run(paths: list[Path]) -> ChunkOutcome:
    assert _SETUP is not None, "the worker was not initialised"
    return check_chunk(_SETUP, paths)


def check_ballot_files(
    setup: Setup,
    paths: Sequence[Path],
    jobs: int | None = None,
    progress: Progress | None = None,
) -> list[ChunkOutcome]:
    """`check_chunk` over all of `paths` on `jobs` processes (default: every core; 1 runs
    here); the outcomes in no set order."""
    workers = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
    report = progress or (lambda _done, _total: None)
    total = len(paths)
    report(0, total)
    if not paths:
        return []
    size = max(1, -(-total // (CHUNKS_PER_JOB * workers)))
    chunks = [list(paths[i : i + size]) for i in range(0, total, size)]
    results: list[ChunkOutcome] = []
    done = 0
    if workers == 1:
        for chunk in chunks:
            results.append(check_chunk(setup, chunk))
            done += len(chunk)
            report(done, total)
        return results
    with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=(setup,)) as pool:
        futures = [pool.submit(_run, chunk) for chunk in chunks]
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            done += len(result.ballots)
            report(done, total)
    return results
