"""The roll commitment and the published check-ins (issue 19, items 2 and 3): pure functions
over (district, pseudonym) pairs, the pseudonyms being `verivote.crypto.oprf`'s. Here in
`board` (a Merkle commitment of the board's) so that both the authority's publishing
(`polling`) and the verifier (which imports no `polling`) use the same functions.

- A leaf is the bytes "<district>,<pseudonym as 64 hex digits>". The roll's leaves are sorted
  (by district, then pseudonym), so their order says nothing about the order of the roll, and
  form an RFC 6962 Merkle tree (`verivote.board.merkle`): its root, its size and each
  district's count are what the authority signs and publishes before polling day
  (`commitment`); the leaves themselves are published beside them, so anyone can count them.
- `roll_problems` is what the verifier checks of a published roll: leaves well formed, sorted,
  no pseudonym twice in the whole roll, the counts and root those of the leaves.
- `checkin_problems` checks the pseudonyms a station published as checked in: each on the roll
  of the station's district, none twice in the whole election (a voter checked in at two
  stations, or in two districts, is visible to anyone), sorted (never in check-in order).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from verivote.board.merkle import leaf_hash, root

_PSEUDONYM = re.compile(r"^[0-9a-f]{64}$")
_DISTRICT = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def leaf(district: str, pseudonym: str) -> bytes:
    """The leaf of one voter of the roll."""
    if not _DISTRICT.match(district) or not _PSEUDONYM.match(pseudonym):
        raise ValueError(f"not a (district, pseudonym) pair: {district!r}, {pseudonym!r}")
    return f"{district},{pseudonym}".encode("ascii")


def parse_leaf(raw: bytes) -> tuple[str, str]:
    """(district, pseudonym) of a leaf; ValueError if it is not one."""
    try:
        district, pseudonym = raw.decode("ascii").split(",")
    except (UnicodeDecodeError, ValueError):
        raise ValueError(f"not a roll leaf: {raw[:80]!r}") from None
    leaf(district, pseudonym)
    return district, pseudonym


@dataclass(frozen=True)
class Commitment:
    """What the authority signs: the tree's root and size, each district's count."""

    root: str
    size: int
    counts: dict[str, int]

    def to_json(self) -> dict[str, object]:
        return {"root": self.root, "size": self.size, "counts": dict(sorted(self.counts.items()))}


def leaves(roll: Iterable[tuple[str, str]]) -> list[bytes]:
    """The roll's leaves in published order."""
    return sorted(leaf(d, p) for d, p in roll)


def commitment(sorted_leaves: Sequence[bytes]) -> Commitment:
    """The commitment to the leaves (in published order)."""
    counts = Counter(parse_leaf(x)[0] for x in sorted_leaves)
    return Commitment(root([leaf_hash(x) for x in sorted_leaves]).hex(), len(sorted_leaves),
                      dict(counts))  # fmt: skip


def roll_problems(published: Sequence[bytes], signed: Mapping[str, object]) -> list[str]:
    """Why a published roll does not match its signed commitment (empty if it does)."""
    problems = []
    parsed = []
    for n, raw in enumerate(published):
        try:
            parsed.append(parse_leaf(raw))
        except ValueError as exc:
            problems.append(f"leaf {n}: {exc}")
    if problems:
        return problems[:10]
    if list(published) != sorted(published):
        problems.append("the leaves are not in sorted order")
    twice = [p for p, n in Counter(p for _, p in parsed).items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} pseudonyms appear twice on the roll (one: {twice[0]})")
    found = commitment(published)
    if signed.get("size") != found.size:
        problems.append(
            f"the roll has {found.size} leaves, the commitment says {signed.get('size')}"
        )
    if signed.get("counts") != found.to_json()["counts"]:
        problems.append("the districts' counts are not those of the leaves")
    if signed.get("root") != found.root:
        problems.append("the root is not the Merkle root of the leaves")
    return problems


def checkin_problems(
    roll: Iterable[tuple[str, str]],
    stations: Mapping[str, str],
    published: Mapping[str, Sequence[str]],
) -> list[str]:
    """Why the stations' published check-ins (station → pseudonyms) do not hold against the
    roll (`stations`: station → district): a pseudonym not on its district's roll, one checked
    in twice in the election, a list not sorted."""
    on_roll = {p: d for d, p in roll}
    problems = []
    seen: dict[str, str] = {}
    for station, pseudonyms in sorted(published.items()):
        district = stations.get(station)
        if district is None:
            problems.append(f"check-ins of {station!r}, not a station of the manifest")
            continue
        if list(pseudonyms) != sorted(pseudonyms):
            problems.append(f"{station}: its check-ins are not sorted")
        for p in pseudonyms:
            if on_roll.get(p) != district:
                where = "on no roll" if p not in on_roll else f"on the roll of {on_roll[p]}"
                problems.append(f"{station}: {p} checked in, {where}, not of {district}")
            if p in seen:
                problems.append(f"{p} checked in at {seen[p]} and again at {station}")
            else:
                seen[p] = station
    return problems
