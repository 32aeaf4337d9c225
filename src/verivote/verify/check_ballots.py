"""Checks `ballots` and `challenged`, apart from the proofs and openings (`ballot_chunk`
checks those): every entry has exactly its fields, each tracking code (a challenged ballot's
id) is the hash of its ballot, no ballot and no ballot nonce is on the board twice (cast or
challenged: a replay or a copy), and a challenged ballot was never cast (issue 14, item 5).

Tracking codes are not chained per station (issue 14): the code of a ballot is
H("tracking-code", base hash, ballot), known when the ballot is encrypted. Two different
ballots may not share a nonce; they may share a ciphertext only if one device reused its own
randomness, which binds nothing since every proof hashes the ballot's own nonce and station.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from verivote.verify.ballot_facts import FIELDS, NO_BALLOT, Facts
from verivote.verify.context import Election
from verivote.verify.loader import Board
from verivote.verify.report import Check

CAST = "ballot-cast"
CHALLENGED = "ballot-challenged"


def check_ballots(
    board: Board,
    election: Election,
    proofs_checked: bool,
    refused: Iterable[tuple[int, str]],
    facts: Mapping[int, Facts],
) -> tuple[Check, Check]:
    """The `ballots` and `challenged` checks, given the entries whose proofs or openings were
    refused (`proofs_checked` False when there was no key to check them with) and every
    ballot entry's facts (`ballot_facts`)."""
    cast = Check("ballots", items=len(board.indices(CAST)))
    challenged = Check("challenged", items=len(board.indices(CHALLENGED)))
    for check in (cast, challenged):
        if check.items and not proofs_checked:
            check.fail(None, "proofs not checked: the record has no usable election key")
    # the entries' types from the scan, their facts from the tasks that parsed them: the
    # main process parses no ballot (issue 17)
    opened = set(board.indices(CHALLENGED))
    for index, reason in sorted(refused):
        (challenged if index in opened else cast).fail(index, reason)
    for entry_type, check, what in ((CAST, cast, "tracking code"),
                                    (CHALLENGED, challenged, "ballot_id")):  # fmt: skip
        for index in board.indices(entry_type):
            found = facts.get(index, NO_BALLOT)
            if not found.fields_ok:
                check.fail(index, f"its fields are not {', '.join(sorted(FIELDS[entry_type]))}")
            if not found.code_ok:
                check.fail(index, f"its {what} is not the hash of the ballot")
    _check_duplicates(board, facts, cast, challenged, opened)
    return cast.close(), challenged.close()


def _check_duplicates(
    board: Board, facts: Mapping[int, Facts], cast: Check, challenged: Check, opened: set[int]
) -> None:
    """No ballot twice, and no nonce twice: the same ballot, or another one under the same
    nonce, is a replay or a copy. A clash that involves a challenged ballot is the
    `challenged` check's: a challenged ballot must never be cast."""
    bodies: dict[bytes, int] = {}
    nonces: dict[str, int] = {}
    for index in sorted(board.indices(CAST) + board.indices(CHALLENGED)):
        found = facts.get(index, NO_BALLOT)
        if found.digest is None:
            continue
        first, how = bodies.setdefault(found.digest, index), "is the same ballot as"
        if first == index and found.nonce is not None:
            first, how = nonces.setdefault(found.nonce, index), "has the nonce of"
        if first == index:
            continue
        if index not in opened and first not in opened:
            cast.fail(index, f"a ballot cast twice: it {how} entry {first}")
        elif index in opened:
            challenged.fail(index, f"a ballot published twice: it {how} entry {first}")
        else:
            challenged.fail(first, f"a challenged ballot that was cast: entry {index} {how} it")
