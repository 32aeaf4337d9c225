"""`verify_record`: every check of `verivote.verify.report.CHECKS` on one record, in order.

Each check is reported even when an earlier one fails, as far as what it needs can be read:
without a usable manifest nothing past it can be checked; without an election key the
ballots' proofs, the decryption and the lot cannot be, but the chains, the tally's sums, the
count and the polls still are.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import AbstractContextManager, nullcontext

from verivote.board.record import entry_files
from verivote.cluster import Cluster, make_pool, width
from verivote.verify.ballot_chunk import Setup
from verivote.verify.ballot_pool import BallotWork, run_chunks
from verivote.verify.ballot_results import BallotResults
from verivote.verify.check_ballots import check_ballots
from verivote.verify.check_board import check_board
from verivote.verify.check_ceremony import check_ceremony
from verivote.verify.check_count import check_count
from verivote.verify.check_decryption import check_decryption
from verivote.verify.check_forms import check_forms
from verivote.verify.check_lot import check_lot
from verivote.verify.check_manifest import check_manifest
from verivote.verify.check_mix import check_mix
from verivote.verify.check_participation import check_participation, polls_of
from verivote.verify.check_runoff import PreviousRound, check_runoff
from verivote.verify.check_tally import check_tally, tally_cutoff
from verivote.verify.check_turnout import check_turnout
from verivote.verify.clashes import find_clashes
from verivote.verify.context import Election
from verivote.verify.loader import Board, RecordError, load_board, read_note
from verivote.verify.report import CHECKS, Check, Report, blocked

Progress = Callable[[int, int], None]


def verify_record(
    directory: str | os.PathLike[str],
    since: str | os.PathLike[str] | None = None,
    previous: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
    cluster: Cluster | None = None,
    scan_tasks: bool | None = None,
) -> Report:
    """Verify the election record in `directory`.

    `since`: an earlier signed checkpoint the record must extend. `previous`: for a round-2
    record, the round-1 record (verified too). `jobs`: processes for the ballots (default:
    every core). `progress(done, total)`: ballots checked so far. `cluster`: a connected
    Ray cluster (`verivote.cluster`) that checks the ballots and the mix instead of `jobs`
    processes; the report is the same. `scan_tasks`: whether tasks read the entry files
    (None: from SCAN_TASKS_FROM bytes; `sim national` compares two runs down one path).
    Raises RecordError if the record (or `since`, or `previous`) cannot be read at all.
    """
    return verify_rounds(directory, since, previous, jobs, progress, cluster, scan_tasks)[0]


def verify_rounds(
    directory: str | os.PathLike[str],
    since: str | os.PathLike[str] | None = None,
    previous: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
    cluster: Cluster | None = None,
    scan_tasks: bool | None = None,
) -> tuple[Report, Report | None]:
    """`verify_record`, and the report of the `previous` round's record, which it verifies on
    the way (None without one): a round-2 record and its round 1 checked with round 1 read
    and verified once, not twice (`verivote demo`)."""
    # The national log is read by tasks of byte ranges and each district's log by a task of
    # its own, here or on the cluster, once the logs are worth a process's start.
    prior: Board | None = None
    with _scan_pool(directory, jobs, cluster, scan_tasks) as pool:
        board = load_board(directory, stream=True, pool=pool)
        if previous is not None:
            try:
                prior = load_board(previous, stream=True, pool=pool)
            except RecordError as exc:
                raise RecordError(f"--previous: {exc}") from None
    since_note = read_note(since) if since is not None else None
    first = None
    prior_report = None
    if prior is not None:
        prior_report, prior_election = _verify(prior, None, None, jobs, None, cluster)
        first = PreviousRound(prior, prior_election, prior_report)
    report, _ = _verify(board, since_note, first, jobs, progress, cluster)
    return report, prior_report


SCAN_TASKS_FROM = 64 << 20
"""Bytes of entry files from which they are read by tasks rather than in this process."""


def _pool_if(
    worth: Callable[[], bool], jobs: int | None, cluster: Cluster | None
) -> AbstractContextManager[Executor | None]:
    """The cluster's pool, or `jobs` processes when they are more than one and the work is
    worth a pool's start (`worth`, asked only then); else none: the work runs here (the
    tamper suites verify small records hundreds of times)."""
    if cluster is None and (width(None, jobs) <= 1 or not worth()):
        return nullcontext()
    return make_pool(cluster, width(cluster, jobs))


def _scan_pool(
    directory: str | os.PathLike[str],
    jobs: int | None,
    cluster: Cluster | None,
    tasks: bool | None = None,
) -> AbstractContextManager[Executor | None]:
    """The pool that reads the entry files: for SCAN_TASKS_FROM bytes of them or more
    (`tasks`, if given, decides instead)."""

    def worth() -> bool:
        if tasks is not None:
            return tasks
        return sum(p.stat().st_size for p in entry_files(directory)) >= SCAN_TASKS_FROM

    return _pool_if(worth, jobs, cluster)


HELPERS_FROM = 20_000
"""Ballots from which the clashes' buckets and the mix inputs' segments are read by tasks."""


def _helpers(
    jobs: int | None, cluster: Cluster | None, ballots: int
) -> AbstractContextManager[Executor | None]:
    """The pool for the checks' few large tasks after the ballots' (`find_clashes`, the mix
    inputs' digests): for HELPERS_FROM ballots or more."""
    return _pool_if(lambda: ballots >= HELPERS_FROM, jobs, cluster)


def _verify(
    board: Board,
    since_note: str | None,
    previous: PreviousRound | None,
    jobs: int | None,
    progress: Progress | None,
    cluster: Cluster | None,
) -> tuple[Report, Election | None]:
    checks: list[Check] = [check_board(board, since_note, jobs, cluster)]
    manifest_check, election = check_manifest(board)
    checks.append(manifest_check)
    if election is None:
        rest = [blocked(c, "no usable manifest in entry 0") for c in list(CHECKS)[2:]]
        return Report(tuple(c.locate(board.where) for c in (*checks, *rest)), 0.0), None
    ceremony_check, keys = check_ceremony(board, election)
    checks.append(ceremony_check)
    cutoff = tally_cutoff(board)
    polls = polls_of(board, election)
    setup = Setup(election.manifest, election.base_hash, keys.key if keys else None, cutoff, polls)
    ballots = sorted(board.indices("ballot-cast") + board.indices("ballot-challenged"))
    work = BallotWork(ballots, board)
    merged = BallotResults(election.group)
    started = time.perf_counter()
    run_chunks(setup, work, jobs, progress, cluster, each=merged.add)
    elapsed = time.perf_counter() - started
    ballots_checked = len(work)
    del work, ballots
    with _helpers(jobs, cluster, ballots_checked) as pool:
        clashes = find_clashes(merged.buckets, pool)
        merged.buckets = []
        checks.extend(
            check_ballots(
                board, election, keys is not None, merged.refused, merged.flagged, clashes
            )
        )
        checks.append(
            check_tally(board, election, merged.sums, merged.uncountable, merged.segments, pool)
        )
    if keys is None:
        checks.append(blocked("decryption", "no usable election key (see ceremony)"))
    else:
        checks.append(check_decryption(board, election, keys))
    checks.append(check_mix(board, election, keys, jobs, cluster))
    if keys is None:
        checks.append(blocked("lot", "no usable election key (see ceremony)"))
    else:
        checks.append(check_lot(board, election, keys))
    checks.append(check_count(board, election))
    checks.append(check_runoff(board, election, previous))
    checks.append(check_participation(board, election, merged.placed))
    checks.append(check_forms(board, election, merged.placed))
    checks.append(check_turnout(board, election, merged.placed))
    rate = ballots_checked / elapsed if ballots_checked and elapsed > 0 else 0.0
    return Report(tuple(c.locate(board.where) for c in checks), rate), election
