"""Checks `ballots` and `challenged`, apart from the proofs and openings (`ballot_chunk`
checks those): tracking codes chain per station, no ballot is on the board twice, and a
challenged ballot has its right id and was never cast."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from verivote.crypto.tracking import tracking_start
from verivote.verify.ballot_facts import Facts
from verivote.verify.context import Election
from verivote.verify.loader import Board, Doc
from verivote.verify.report import Check

CAST = "ballot-cast"
CHALLENGED = "ballot-challenged"
NO_BALLOT = Facts(None, False)


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
    for index, reason in sorted(refused):
        doc = board.docs[index]
        target = challenged if doc is not None and doc["type"] == CHALLENGED else cast
        target.fail(index, reason)
    _check_chains(board, election, facts, cast)
    for index, _ in board.of_type(CHALLENGED):
        if not facts.get(index, NO_BALLOT).code_ok:
            challenged.fail(index, "its ballot_id is not the hash of the ballot")
    _check_duplicates(board, facts, cast, challenged)
    return cast.close(), challenged.close()


def _check_chains(
    board: Board, election: Election, facts: Mapping[int, Facts], check: Check
) -> None:
    """Per station: the first cast ballot chains on tracking_start, every later one on the
    code before it, and each code is the hash of its ballot and the previous code."""
    heads: dict[str, str] = {}
    for index, doc in board.of_type(CAST):
        ballot: Any = doc.get("ballot")
        station = ballot.get("station") if isinstance(ballot, dict) else None
        previous, code = doc.get("previous"), doc.get("tracking_code")
        if not isinstance(station, str):
            check.fail(index, "the entry holds no ballot with a station")
            continue
        if not isinstance(previous, str) or not isinstance(code, str):
            check.fail(index, "the entry has no tracking codes")
            continue
        expected = heads.get(station) or tracking_start(election.base_hash, station)
        if previous != expected:
            check.fail(index, f"its previous code is not the last tracking code of {station}")
        if not facts.get(index, NO_BALLOT).code_ok:
            check.fail(index, "its tracking code is not the hash of the ballot and previous code")
        # A broken link is reported once: the chain goes on from the code as published.
        heads[station] = code


def _ciphertexts(doc: Doc) -> list[tuple[str, str]]:
    """The ballot's ciphertexts as (alpha, beta) hex, lower case: the same element twice."""
    out = []
    try:
        ballot = doc["ballot"]
        for ct in [s["ciphertext"] for s in ballot["selections"]] + [ballot["blank"]["ciphertext"]]:
            out.append((str(ct["alpha"]).lower(), str(ct["beta"]).lower()))
    except (KeyError, TypeError):
        pass  # a malformed ballot; its proofs are refused
    return out


def _check_duplicates(
    board: Board, facts: Mapping[int, Facts], cast: Check, challenged: Check
) -> None:
    """No ballot twice: not the same ballot, nor one sharing a ciphertext with another (a
    ciphertext is fresh randomness; one seen twice is a copy). A clash that involves a
    challenged ballot is the `challenged` check's: a challenged ballot must never be cast."""
    bodies: dict[bytes, int] = {}
    seen: dict[tuple[str, str], int] = {}
    for index, doc in board.ballots():
        digest = facts.get(index, NO_BALLOT).digest
        if digest is None:
            continue
        first, how = bodies.setdefault(digest, index), "is the same ballot as"
        if first == index:
            cts = _ciphertexts(doc)
            first = next((seen[ct] for ct in cts if ct in seen), index)
            how = "shares a ciphertext with"
            for ct in cts:
                seen.setdefault(ct, index)
        if first == index:
            continue
        earlier = board.docs[first]
        assert earlier is not None
        if doc["type"] == CAST and earlier["type"] == CAST:
            cast.fail(index, f"a ballot cast twice: it {how} entry {first}")
        elif doc["type"] == CHALLENGED:
            challenged.fail(index, f"a ballot published twice: it {how} entry {first}")
        else:
            challenged.fail(first, f"a challenged ballot that was cast: entry {index} {how} it")
