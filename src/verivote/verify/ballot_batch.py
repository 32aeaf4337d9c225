"""Checking many eg4096 ballots at once with `crypto.batch.verify_many`: every selection, blank
flag and contest proof of a chunk of ballots in one batch.

A ballot's contest proofs are about ciphertexts derived from its selections (their product,
with the blank flag raised to S or shifted by one, see `verivote.crypto.ballot`); they are
computed here from the elements read loosely and encoded, so the batch validates them along
with the rest. A ballot that the batch does not accept is checked again on its own by
`check_ballot`, which says what is wrong with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from verivote.crypto.ballot import (
    BallotError,
    ballot_binding,
    blank_context,
    contest_context,
    selection_context,
)
from verivote.crypto.batch import EncodedSelection, verify_many
from verivote.crypto.elgamal import ElectionKey
from verivote.model.manifest import Manifest
from verivote.verify.sums import Pair, loose_pair

Prepared = tuple[list[EncodedSelection], list[Pair]]


def _encoded(key: ElectionKey[Any], pair: Pair) -> dict[str, str]:
    group = key.group
    return {"alpha": group.encode(pair[0]).hex(), "beta": group.encode(pair[1]).hex()}


def _limited(proof: Any, limit: int) -> Any:
    """The proof, if it has one branch per value 0..limit (verify_many does not check it)."""
    if len(proof["challenges"]) != limit + 1:
        raise ValueError(f"a range proof for 0..{limit} has {limit + 1} branches")
    return proof


def prepare(
    manifest: Manifest, key: ElectionKey[Any], base_hash: bytes, ballot: Any
) -> Prepared | None:
    """The ballot's proofs as batch items and its ciphertexts (selections, then blank), or
    None if its shape is wrong (it is then checked on its own)."""
    group = key.group
    try:
        district, binding = ballot_binding(manifest, base_hash, ballot)
    except BallotError:
        return None
    try:
        selections = ballot["selections"]
        items: list[EncodedSelection] = []
        pairs: list[Pair] = []
        for s in selections:
            context = selection_context(binding, s["candidate"])
            items.append((s["ciphertext"], _limited(s["proof"], 1), context))
            pairs.append(loose_pair(group, s["ciphertext"]))
        blank_doc = ballot["blank"]
        blank = loose_pair(group, blank_doc["ciphertext"])
        items.append(
            (
                blank_doc["ciphertext"],
                _limited(blank_doc["proof"], 1),
                blank_context(binding),
            )
        )
        alpha = group.prod([a for a, _ in pairs])
        beta = group.prod([b for _, b in pairs])
        seats = district.seats
        at_most = (
            group.mul(alpha, group.pow(blank[0], seats)),
            group.mul(beta, group.pow(blank[1], seats)),
        )
        at_least = (group.mul(alpha, blank[0]), group.div(group.mul(beta, blank[1]), key.key))
        contest = ballot["contest"]
        items.append(
            (
                _encoded(key, at_most),
                _limited(contest["at_most"], seats),
                contest_context(binding, "at-most"),
            )
        )
        items.append(
            (
                _encoded(key, at_least),
                _limited(contest["at_least"], seats - 1),
                contest_context(binding, "at-least"),
            )
        )
        pairs.append(blank)
    except (AttributeError, KeyError, OverflowError, TypeError, ValueError, ZeroDivisionError):
        return None
    return items, pairs


def batch_accepts(
    manifest: Manifest, key: ElectionKey[Any], base_hash: bytes, ballots: Sequence[Any]
) -> list[list[Pair] | None]:
    """For each ballot, its ciphertexts if every one of its proofs holds (in one batch), else
    None: a None ballot still has to be checked on its own."""
    prepared = [prepare(manifest, key, base_hash, b) for b in ballots]
    flat = [item for p in prepared if p is not None for item in p[0]]
    verdicts = verify_many(key, flat) if flat else []
    out: list[list[Pair] | None] = []
    pos = 0
    for p in prepared:
        if p is None:
            out.append(None)
            continue
        items, pairs = p
        ok = all(verdicts[pos : pos + len(items)])
        pos += len(items)
        out.append(pairs if ok else None)
    return out
