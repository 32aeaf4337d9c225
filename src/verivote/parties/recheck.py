"""A party's re-check of the cast ballots before it acts (the guardian before it decrypts, the
mixer before it mixes): each ballot's proofs, in board order, here one by one or as Ray tasks
in chunks (`--ray`, `verivote.cluster`). Only the proof checks move; what a party concludes
from them (the first bad ballot, a ciphertext cast twice) stays in its own loop, so the
refusal is the same wherever the proofs were checked."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from verivote.cluster import Cluster, make_pool
from verivote.crypto.ballot import BallotError
from verivote.crypto.elgamal import Ciphertext, ElectionKey
from verivote.crypto.written import check_any_ballot, check_written
from verivote.election.service import ElectionContext, ElectionError
from verivote.model.manifest import Manifest

CHUNK = 100
"""Ballots per Ray task."""

REFUSED = (BallotError, ElectionError, KeyError, TypeError, ValueError)
"""What a ballot that is not valid raises (its message is the party's reason)."""

Checked = tuple[str | None, tuple[Ciphertext[Any], ...]]
"""(the reason the ballot is refused, or None; its ciphertexts when valid)."""

Setup = tuple[Manifest, ElectionKey[Any], bytes]

_SETUP: Setup | None = None


def _init(manifest: Manifest, key: ElectionKey[Any], base_hash: bytes) -> None:
    global _SETUP
    _SETUP = (manifest, key, base_hash)


def check_one(setup: Setup, ballot: Any, written_only: bool) -> Checked:
    """One cast ballot: `check_written` (a mixer's re-check) or `check_any_ballot`."""
    manifest, key, base_hash = setup
    try:
        if not isinstance(ballot, dict):
            raise BallotError("no ballot")
        check = check_written if written_only else check_any_ballot
        return None, tuple(check(manifest, key, base_hash, ballot))
    except REFUSED as exc:
        return str(exc), ()


def _chunk(ballots: list[Any], written_only: bool) -> list[Checked]:
    assert _SETUP is not None, "the worker was not initialised"
    return [check_one(_SETUP, b, written_only) for b in ballots]


def checked_ballots(
    ctx: ElectionContext,
    ballots: Sequence[Any],
    written_only: bool,
    cluster: Cluster | None,
    report: Callable[[int], None] | None = None,
) -> Iterator[Checked]:
    """`check_one` of each ballot, in order: lazily here, or with a cluster as Ray tasks of
    CHUNK ballots (the rest cancelled when the caller stops at a refused ballot).
    `report(n)`: ballots checked so far, now and then."""
    assert ctx.key is not None
    setup: Setup = (ctx.manifest, ctx.key, ctx.base_hash)
    tell = report or (lambda _n: None)
    if cluster is None:
        for n, ballot in enumerate(ballots):
            if n % 200 == 0:
                tell(n)
            yield check_one(setup, ballot, written_only)
        return
    chunks = [list(ballots[i : i + CHUNK]) for i in range(0, len(ballots), CHUNK)]
    pool = make_pool(cluster, cluster.cpus, _init, setup)
    try:
        futures = [pool.submit(_chunk, chunk, written_only) for chunk in chunks]
        for n, future in enumerate(futures):
            tell(n * CHUNK)
            yield from future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
