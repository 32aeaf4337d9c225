"""Check `board`: the record is an untouched prefix-closed log signed by its authority and
cosigned by its witnesses, and (with --since) it extends an earlier signed checkpoint. With a
log per district (issue 17), each district log is checked as well and sealed into the national
log (`verivote.verify.check_logs`)."""

from __future__ import annotations

import re
from concurrent.futures import Executor
from contextlib import nullcontext

from verivote.board.checkpoint import open_checkpoint
from verivote.board.districts import NATIONAL, SEAL_TYPE
from verivote.board.merkle import verify_consistency
from verivote.board.record import check_record
from verivote.cluster import Cluster, make_pool, width
from verivote.verify.check_logs import check_logs
from verivote.verify.loader import Board
from verivote.verify.report import Check

MIN_POOL_BYTES = 2**20
"""Fewer bytes of entries than this are checked in this process (without a cluster): starting
workers would cost more (about 0.1 s of CPU a worker, a few MiB of lines' checks)."""

_LINE = re.compile(r"(log|districts/([^/]+))/entries\.jsonl line ([0-9]+): (.*)", re.DOTALL)


def check_board(
    board: Board,
    since_note: str | None = None,
    jobs: int | None = 1,
    cluster: Cluster | None = None,
) -> Check:
    """Every entry is canonical JSON with a type; the Merkle root of the entries is the
    checkpoint's; the authority's signature and every listed witness's cosignature verify
    (`check_record`); and, given an earlier checkpoint, the authority signed it and the log
    now on record is consistent with it (RFC 9162 consistency proof from the entries).

    The entries' lines are checked and hashed in chunks on `jobs` processes or as Ray tasks
    on `cluster` (`check_record`'s executor); the report is the same."""
    check = Check("board", items=len(board.entries))
    unreadable = dict(board.malformed)
    for index, reason in board.malformed:
        check.fail(index, f"not an entry: {reason}")
    workers = width(cluster, jobs)
    pool: Executor | None = None
    if cluster is not None or (workers > 1 and board.total_bytes() >= MIN_POOL_BYTES):
        pool = make_pool(cluster, workers)
    with pool or nullcontext():
        problems = check_record(board.directory, pool, workers)
    for problem in problems:
        found = _LINE.fullmatch(problem)
        if found is None:
            check.fail(None, problem)
            continue
        log = found.group(2) or NATIONAL
        index = int(found.group(3)) - 1
        position = board.position(log, index)
        if position is None or position not in unreadable:
            check.fail(position, found.group(4), log, index)
    if board.logs is not None:
        check_logs(board, check)
    else:
        for position in board.indices(SEAL_TYPE):
            check.fail(
                position,
                f"a {SEAL_TYPE} entry in a record without district logs (no districts/"
                " folder): the district logs it seals are missing",
            )
    if since_note is not None:
        _check_since(board, since_note, check)
    return check.close()


def _check_since(board: Board, note: str, check: Check) -> None:
    if not board.verifier_keys:
        check.fail(None, "--since: the record lists no authority key to check it with")
        return
    try:
        old, _ = open_checkpoint(note, [board.verifier_keys[0]])
    except ValueError as exc:
        check.fail(None, f"--since: not a checkpoint signed by this record's authority ({exc})")
        return
    if old.origin != board.origin:
        check.fail(None, f"--since: the checkpoint is of log {old.origin!r}, not {board.origin!r}")
        return
    national = board.national_log
    size = national.size
    if old.size > size:
        check.fail(
            None,
            f"--since: the checkpoint has {old.size} entries, the record only {size}: its"
            " history was rewritten",
        )
        return
    # A proof computed from the entries at hand: only a log that keeps the old tree as its
    # prefix can produce one that verifies against the old root.
    proof = national.consistency_proof(old.size)
    if not verify_consistency(old.size, size, old.root, national.root(), proof):
        check.fail(
            None,
            f"--since: the record is not an extension of the checkpoint of {old.size} entries:"
            " its history was rewritten",
        )
