"""What the national log's seals commit to (README, "National scale (issue 17)": District
checkpoints, Order): each seal of district D is of this election, signed by the authority with
D's origin, and holds the root of D's first `size` entries; D's seals never shrink and never
give one size two roots (a fork of D's log).

`check_seals` lists every seal that fails and the last good seal of each district (the
verifier's `board` check reports them); `open_sealed` is what a party that acts on the board
(a guardian, a mixer, the tracker) needs: the logs checked and read as the one sequence of
the README's "Order", or a ValueError naming the first problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from verivote.board.checkpoint import Checkpoint, open_checkpoint
from verivote.board.districts import NATIONAL, SEAL_TYPE, Seal, district_origin, read_seal
from verivote.board.merkle import MerkleLog, leaf_hash
from verivote.board.note import parse_verifier
from verivote.board.order import merge_order

__all__ = ["Sealed", "Tree", "check_seals", "open_sealed", "seal_mark"]


class Tree(Protocol):
    """A district log's tree: its size and the root of any prefix (a `MerkleLog`)."""

    @property
    def size(self) -> int: ...

    def root(self, size: int | None = None) -> bytes: ...


@dataclass(frozen=True)
class Sealed:
    """A district's last good seal: its national index, size and root."""

    at: int
    size: int
    root: bytes


def check_seals(
    seals: Mapping[int, Seal | str],
    trees: Mapping[str, Tree],
    authority: str | None,
    base_hash: str | None,
) -> tuple[list[tuple[int, str]], dict[str, Sealed]]:
    """((national index, why) for every seal that fails, the last good seal of each district).

    `seals`: each seal-typed national entry by index, read (`read_seal`) or why it cannot be;
    `trees`: each district log's tree; `authority`: the authority's verifier key (None: no
    seal can be trusted); `base_hash`: the election's base hash in hex (None: not compared).
    """
    problems: list[tuple[int, str]] = []
    sealed: dict[str, Sealed] = {}
    for at, seal in sorted(seals.items()):
        if isinstance(seal, str):
            problems.append((at, f"a district-checkpoint that cannot be read: {seal}"))
            continue
        checkpoint, why = _open(seal, trees, authority, base_hash)
        if checkpoint is None:
            problems.append((at, f"the district-checkpoint of {seal.district}: {why}"))
            continue
        fork = _extends(seal.district, checkpoint, sealed.get(seal.district), trees)
        if fork is not None:
            problems.append((at, fork))
            continue
        sealed[seal.district] = Sealed(at, checkpoint.size, checkpoint.root)
    return problems, sealed


def _open(
    seal: Seal, trees: Mapping[str, Tree], authority: str | None, base_hash: str | None
) -> tuple[Checkpoint | None, str]:
    """The seal's checkpoint if it is of this election and district log, signed by the
    authority with the district's origin; else None and why not."""
    if base_hash is not None and seal.election != base_hash:
        return None, f"sealed for the election {seal.election!r}, not this one"
    if seal.district not in trees:
        return None, f"no log of {seal.district} in districts/ to seal"
    if authority is None:
        return None, "the record names no authority to check its signature with"
    try:
        checkpoint, _ = open_checkpoint(seal.note, [authority])
        origin = parse_verifier(authority).name
    except ValueError as exc:
        return None, f"not signed by the authority ({exc})"
    expected = district_origin(origin, seal.district)
    if checkpoint.origin != expected:
        return None, f"its origin {checkpoint.origin!r} is not {expected!r}"
    return checkpoint, ""


def _extends(
    district: str, checkpoint: Checkpoint, last: Sealed | None, trees: Mapping[str, Tree]
) -> str | None:
    """Why this seal of `district` does not extend its last good seal and hold the root of
    the district's entries at its size; None if it does."""
    size = checkpoint.size
    if last is not None and size < last.size:
        return (
            f"seals {district} at size {size} after national entry {last.at} sealed it at size"
            f" {last.size}: the district log shrank, a fork"
        )
    if last is not None and size == last.size and checkpoint.root != last.root:
        return (
            f"a second seal of {district} at size {size}, with another root than national"
            f" entry {last.at}: a fork of the district log"
        )
    tree = trees[district]
    path = f"districts/{district}/entries.jsonl"
    if size > tree.size:
        return (
            f"seals {district} at size {size}, but {path} has {tree.size} entries: the"
            " district log was cut short (a fork), or this checkpoint replaced"
        )
    if tree.root(size) != checkpoint.root:
        return (
            f"the district-checkpoint of {district} at size {size} does not hold the root of"
            f" the first {size} entries of {path}: the district log was forked, or this"
            " checkpoint replaced"
        )
    return None


def seal_mark(doc: Mapping[str, object]) -> tuple[Seal | str, tuple[str, int] | None]:
    """A `district-checkpoint` entry read: its seal and the (district, size) it marks in the
    merged order, or why it is no seal and None."""
    try:
        seal = read_seal(doc)
    except ValueError as exc:
        return str(exc), None
    return seal, (seal.district, seal.checkpoint.size)


def open_sealed(
    national: Sequence[bytes],
    districts: Mapping[str, Sequence[bytes]],
    authority: str,
    base_hash: str | None = None,
) -> list[bytes]:
    """The logs as the one sequence of "Order" (seals left out), after checking that every
    seal is good and every district entry sealed. Raises ValueError naming the first problem.

    `national` is the national log up to a checkpoint the caller has checked; `districts`
    each district's entries up to its last seal in it (more is an unsealed entry)."""
    seals: dict[int, Seal | str] = {}
    marks: dict[int, tuple[str, int] | None] = {}
    for at, raw in enumerate(national):
        try:
            doc = json.loads(raw)
        except ValueError:
            raise ValueError(f"national entry {at} is not JSON") from None
        if not isinstance(doc, dict) or doc.get("type") != SEAL_TYPE:
            continue
        seals[at], marks[at] = seal_mark(doc)
    trees = {d: MerkleLog(leaf_hash(e) for e in entries) for d, entries in districts.items()}
    problems, sealed = check_seals(seals, trees, authority, base_hash)
    if problems:
        at, why = problems[0]
        raise ValueError(f"national entry {at}: {why}")
    for district, entries in sorted(districts.items()):
        done = sealed[district].size if district in sealed else 0
        if done < len(entries):
            raise ValueError(f"entry {done} of {district} is not sealed in the national log")
    order = merge_order(len(national), marks, {d: len(e) for d, e in districts.items()})
    return [national[i] if log == NATIONAL else districts[log][i] for log, i in order]
