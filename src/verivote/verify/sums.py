"""The encrypted sums of cast ballots, per district, as the `tally` check recomputes them.

A ballot adds each selection's ciphertext and its blank flag's into its district's sums, as
the election's tally does. The elements are read without the membership test here ("loosely")
where that test is expensive (eg4096): the `ballots` check proves every cast ballot's
elements to be members, and a record where it fails is invalid whatever the sums say.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verivote.crypto.group import Group
from verivote.model.canonical import canonical_json
from verivote.verify.context import Layout

Pair = tuple[Any, Any]


def loose_element(group: Group[Any], raw: bytes) -> Any:
    """An element from its encoding, validated unless the group is eg4096 (see above)."""
    if group.name == "eg4096":
        if len(raw) != group.element_bytes:
            raise ValueError(f"an encoded element is {group.element_bytes} bytes")
        return int.from_bytes(raw, "big")
    return group.decode(raw)


def loose_pair(group: Group[Any], doc: Any) -> Pair:
    """A ciphertext {"alpha": hex, "beta": hex} read loosely; ValueError if malformed."""
    try:
        return (
            loose_element(group, bytes.fromhex(doc["alpha"])),
            loose_element(group, bytes.fromhex(doc["beta"])),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"a ciphertext is malformed ({exc!r})") from None


def countable(group: Group[Any], layout: Layout, election: str, ballot: Any) -> list[Pair]:
    """The ciphertexts a ballot adds to its district's sums (selections in order, then the
    blank flag); ValueError saying why the election's tally could not count it."""
    try:
        if ballot.get("election") != election:
            raise ValueError("the ballot is of another election")
        codes = layout.get(ballot["district"])
        if codes is None:
            raise ValueError(f"district {ballot['district']!r} is not in the manifest")
        selections = ballot["selections"]
        if tuple(s["candidate"] for s in selections) != codes:
            raise ValueError("the selections are not the district's candidates in order")
        pairs = [loose_pair(group, s["ciphertext"]) for s in selections]
        pairs.append(loose_pair(group, ballot["blank"]["ciphertext"]))
    except (AttributeError, KeyError, TypeError) as exc:
        raise ValueError(f"the ballot is malformed ({exc!r})") from None
    return pairs


Row = list[list[str]]
"""A written ballot's ciphertexts as the `mix-input` entry lists them: [[alpha hex, beta hex] × w],
each element in its canonical encoding."""


def written_row(group: Group[Any], widths: Mapping[str, int], election: str, ballot: Any) -> Row:
    """The row a cast written ballot adds to its district's `mix-input` (issue 16), its elements
    read loosely and written back canonically; ValueError saying why it cannot be mixed."""
    try:
        if ballot.get("election") != election:
            raise ValueError("the ballot is of another election")
        width = widths.get(ballot["district"])
        if width is None:
            raise ValueError(f"district {ballot['district']!r} is not counted by mixnet")
        cts = ballot["written"]["ciphertexts"]
        if not isinstance(cts, list) or len(cts) != width:
            raise ValueError(f"a written ballot of district {ballot['district']} has {width} "
                             "ciphertexts")  # fmt: skip
        return encode_row(group, [loose_pair(group, ct) for ct in cts])
    except (AttributeError, KeyError, TypeError) as exc:
        raise ValueError(f"the ballot is malformed ({exc!r})") from None


def rows_digest(rows: Iterable[Any]) -> tuple[int, bytes]:
    """(how many rows, the SHA-256 of each row's canonical JSON followed by a newline): how
    the `tally` check compares a mix-input's rows with the cast ballots' by segments, neither
    side held by the main process (issue 17). Canonical JSON has no newline, so equal
    digests (and counts) mean equal rows; a row without a canonical form (a number that is
    not an integer) gives the empty digest, equal to no segment of real rows."""
    digest = hashlib.sha256()
    count = 0
    for row in rows:
        try:
            digest.update(canonical_json(row) + b"\n")
        except (TypeError, ValueError):
            return count + 1, b""
        count += 1
    return count, digest.digest()


def encode_row(group: Group[Any], pairs: Sequence[Pair]) -> Row:
    return [[group.encode(a).hex(), group.encode(b).hex()] for a, b in pairs]


@dataclass
class DistrictSum:
    """A district's ballots and the product of each of its ciphertexts (blank flag last)."""

    ballots: int = 0
    pairs: list[Pair] = field(default_factory=list)

    def add(self, group: Group[Any], pairs: list[Pair], ballots: int = 1) -> None:
        if not self.pairs:
            self.pairs = [(group.identity(), group.identity()) for _ in pairs]
        self.pairs = [
            (group.mul(a, x), group.mul(b, y))
            for (a, b), (x, y) in zip(self.pairs, pairs, strict=True)
        ]
        self.ballots += ballots


Sums = dict[str, DistrictSum]
Encoded = dict[str, tuple[int, list[tuple[bytes, bytes]]]]
"""Sums as bytes, to send from a worker process."""


def encode_sums(group: Group[Any], sums: Sums) -> Encoded:
    return {
        d: (s.ballots, [(group.encode(a), group.encode(b)) for a, b in s.pairs])
        for d, s in sums.items()
    }


def merge_sums(group: Group[Any], into: Sums, part: Encoded) -> None:
    for district, (ballots, pairs) in part.items():
        loose = [(loose_element(group, a), loose_element(group, b)) for a, b in pairs]
        into.setdefault(district, DistrictSum()).add(group, loose, ballots)
