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

from collections.abc import Iterable, Mapping, Sequence

from verivote.verify.ballot_facts import NO_BALLOT, Facts, entry_facts
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
    flagged: Iterable[tuple[int, str]],
    clashes: Sequence[int],
) -> tuple[Check, Check]:
    """The `ballots` and `challenged` checks, given the entries whose proofs or openings were
    refused (`proofs_checked` False when there was no key to check them with), the entries
    whose fields or hash of the ballot are wrong (`ballot_facts.fact_problems`), and the
    entries whose digest or nonce key is shared (`verivote.verify.clashes`), which are
    parsed again here to compare them exactly."""
    cast = Check("ballots", items=len(board.indices(CAST)))
    challenged = Check("challenged", items=len(board.indices(CHALLENGED)))
    for check in (cast, challenged):
        if check.items and not proofs_checked:
            check.fail(None, "proofs not checked: the record has no usable election key")
    # the entries' types from the scan, their facts from the tasks that parsed them: the
    # main process parses no ballot but those whose keys clash (issue 17)
    opened = set(board.indices(CHALLENGED))
    for index, reason in sorted(refused):
        (challenged if index in opened else cast).fail(index, reason)
    for index, reason in sorted(flagged, key=lambda item: item[0]):
        (challenged if index in opened else cast).fail(index, reason)
    facts: dict[int, Facts] = {}
    for index in clashes:
        doc = board.docs[index]
        facts[index] = NO_BALLOT if doc is None else entry_facts(election.base_hash, doc)
    _check_duplicates(facts, cast, challenged, opened)
    return cast.close(), challenged.close()


def _check_duplicates(
    facts: Mapping[int, Facts], cast: Check, challenged: Check, opened: set[int]
) -> None:
    """No ballot twice, and no nonce twice: the same ballot, or another one under the same
    nonce, is a replay or a copy. A clash that involves a challenged ballot is the
    `challenged` check's: a challenged ballot must never be cast. `facts`: those of every
    entry that may clash (any entry that shares a digest or a nonce with another is there;
    the others cannot change what this finds)."""
    bodies: dict[bytes, int] = {}
    nonces: dict[str, int] = {}
    for index in sorted(facts):
        found = facts[index]
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
