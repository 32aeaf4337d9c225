"""The roll commitment and the published check-ins (issue 19, items 2 and 3;
`verivote.board.roll_commitment`): the commitment is the RFC 6962 root of the sorted leaves
with each district's count, and the verifier (`verify.check_turnout`: `check_roll`,
`check_lists`) names a padded roll, a pseudonym twice, a check-in off the roll or at two
stations."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from verivote.board.merkle import leaf_hash, node_hash
from verivote.board.roll_commitment import commitment, leaves
from verivote.verify.check_turnout import check_lists, check_roll
from verivote.verify.report import Check

DISTRICTS = ["a", "b", "c", "karaj", "tehran"]
ELECTION = "00" * 32


def roll_problems(published: Sequence[bytes], signed: Mapping[str, Any]) -> list[str]:
    """The verifier's failures for a published roll (its lines) and its commitment."""
    check = Check("turnout")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "roll.txt"
        path.write_bytes(b"".join(x + b"\n" for x in published))
        check_roll(path, DISTRICTS, signed, check, None)
    return [f.reason for f in check.failures]


def checkin_problems(
    roll: list[tuple[str, str]], stations: Mapping[str, str], published: Mapping[str, list[str]]
) -> list[str]:
    """The verifier's failures for the stations' lists (station → pseudonyms) on `roll`."""
    check = Check("turnout")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "roll.txt"
        path.write_bytes(b"".join(x + b"\n" for x in leaves(roll)))
        index, fingerprint = check_roll(
            path, DISTRICTS, commitment(leaves(roll)).to_json(), check, None
        )
    docs = [
        (
            n,
            {
                "type": "checkins",
                "election": ELECTION,
                "station": station,
                "hour": 9,
                "pseudonyms": listed,
            },
        )
        for n, (station, listed) in enumerate(published.items())
    ]
    check_lists(index, fingerprint, DISTRICTS, stations, ELECTION, lambda: docs, check)
    return [f.reason for f in check.failures]


def p(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


ROLL = [("tehran", p(n)) for n in range(5)] + [("karaj", p(n)) for n in range(5, 8)]
STATIONS = {"tehran-001": "tehran", "tehran-002": "tehran", "karaj-001": "karaj"}


def test_the_commitment_of_a_small_roll_by_hand() -> None:
    two = leaves([("karaj", p(1)), ("tehran", p(0))])
    assert two == [f"karaj,{p(1)}".encode(), f"tehran,{p(0)}".encode()]
    signed = commitment(two)
    assert signed.root == node_hash(leaf_hash(two[0]), leaf_hash(two[1])).hex()
    assert (signed.size, signed.counts) == (2, {"karaj": 1, "tehran": 1})


def test_a_published_roll_matches_its_commitment_and_changes_are_named() -> None:
    published = leaves(ROLL)
    signed = commitment(published).to_json()
    assert roll_problems(published, signed) == []
    padded = leaves([*ROLL, ("karaj", p(99))])
    assert any("leaves" in x or "root" in x for x in roll_problems(padded, signed))
    twice = sorted([*published, published[0]])
    assert any("twice" in x for x in roll_problems(twice, commitment(twice).to_json()))
    assert any("sorted" in x for x in roll_problems(published[::-1], signed))


def test_check_ins_off_the_roll_or_twice_are_named() -> None:
    ok = {"tehran-001": sorted([p(0), p(1)]), "tehran-002": [p(2)], "karaj-001": [p(5)]}
    assert checkin_problems(ROLL, STATIONS, ok) == []
    twice = ok | {"karaj-001": sorted([p(5), p(0)])}
    found = checkin_problems(ROLL, STATIONS, twice)
    assert any("on the roll of tehran, not of karaj" in x for x in found)
    assert any(
        "checked in at karaj-001 and again at tehran-001" in x
        or "checked in at tehran-001 and again" in x
        for x in found
    )
    ghost = ok | {"tehran-002": sorted([p(2), p(1000)])}
    assert any("on no roll" in x for x in checkin_problems(ROLL, STATIONS, ghost))
    unsorted = ok | {"tehran-001": sorted([p(0), p(1)])[::-1]}
    assert any("not sorted" in x for x in checkin_problems(ROLL, STATIONS, unsorted))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 10**6)),
        unique_by=lambda t: t[1],
        max_size=60,
    )
)
def test_any_roll_commits_and_checks_and_its_order_does_not_matter(
    drawn: list[tuple[str, int]],
) -> None:
    roll = [(d, p(n)) for d, n in drawn]
    published = leaves(roll)
    assert published == leaves(roll[::-1])
    signed = commitment(published).to_json()
    assert roll_problems(published, signed) == []
    assert sum(signed["counts"].values()) == len(roll)  # type: ignore[union-attr]
