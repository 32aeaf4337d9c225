"""Check `board`: the record is an untouched prefix-closed log signed by its authority and
cosigned by its witnesses, and (with --since) it extends an earlier signed checkpoint."""

from __future__ import annotations

from verivote.board.checkpoint import open_checkpoint
from verivote.board.merkle import verify_consistency
from verivote.board.record import ENTRIES, check_record
from verivote.verify.loader import Board
from verivote.verify.report import Check


def check_board(board: Board, since_note: str | None = None) -> Check:
    """Every entry is canonical JSON with a type; the Merkle root of the entries is the
    checkpoint's; the authority's signature and every listed witness's cosignature verify
    (`check_record`); and, given an earlier checkpoint, the authority signed it and the log
    now on record is consistent with it (RFC 9162 consistency proof from the entries)."""
    check = Check("board", items=len(board.entries))
    unreadable = dict(board.malformed)
    for index, reason in board.malformed:
        check.fail(index, f"not an entry: {reason}")
    for problem in check_record(board.directory):
        entry = _entry_of(problem)
        if entry is None:
            check.fail(None, problem)
        elif entry not in unreadable:
            check.fail(entry, problem.split(": ", 1)[-1])
    if since_note is not None:
        _check_since(board, since_note, check)
    return check.close()


def _entry_of(problem: str) -> int | None:
    """The entry index a `check_record` problem is about ("log/entries.jsonl line N: ...")."""
    prefix = f"{ENTRIES} line "
    if not problem.startswith(prefix):
        return None
    number = problem[len(prefix) :].split(":", 1)[0]
    return int(number) - 1 if number.isdecimal() else None


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
    size = board.log.size
    if old.size > size:
        check.fail(
            None,
            f"--since: the checkpoint has {old.size} entries, the record only {size}: its"
            " history was rewritten",
        )
        return
    # A proof computed from the entries at hand: only a log that keeps the old tree as its
    # prefix can produce one that verifies against the old root.
    proof = board.log.consistency_proof(old.size)
    if not verify_consistency(old.size, size, old.root, board.log.root(), proof):
        check.fail(
            None,
            f"--since: the record is not an extension of the checkpoint of {old.size} entries:"
            " its history was rewritten",
        )
