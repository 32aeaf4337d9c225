"""The turnout check's bounded-memory index (issue 19): fingerprints decide membership and
repeats as a set of the full pseudonyms would, and a repeat is confirmed on the full text."""

from __future__ import annotations

import secrets

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from verivote.board.merkle import leaf_hash, root
from verivote.verify.check_turnout import streamed_root
from verivote.verify.turnout_index import (
    Fingerprinter,
    RollIndex,
    column,
    exact_repeats,
    repeated,
)

PSEUDONYM = st.binary(min_size=32, max_size=32).map(bytes.hex)


@settings(max_examples=60, deadline=None)
@given(
    roll=st.dictionaries(PSEUDONYM, st.integers(0, 207), max_size=40),
    asked=st.lists(PSEUDONYM, max_size=10),
)
def test_the_index_finds_each_pseudonyms_district_as_a_dict_would(
    roll: dict[str, int], asked: list[str]
) -> None:
    fingerprint = Fingerprinter(208)
    packed = column()
    for p, d in roll.items():
        packed.append(fingerprint(p, d))
    index = RollIndex(packed, fingerprint)
    queries = list(roll)[:10] + asked
    prints = np.array([fingerprint(p, 5) for p in queries], dtype=np.uint64)
    assert index.labels_of(prints).tolist() == [roll.get(p, -1) for p in queries]
    assert index.labels(prints).tolist() == [5] * len(queries)
    assert index.repeats(chunk=3) == set()


def test_a_pseudonym_twice_on_the_roll_is_a_repeat_across_chunks() -> None:
    fingerprint = Fingerprinter(8)
    names = [secrets.token_hex(32) for _ in range(20)]
    packed = column()
    for n, p in enumerate([*names, names[7]]):
        packed.append(fingerprint(p, n % 8))
    for chunk in (1, 2, 5, 100):
        assert RollIndex(column(), fingerprint).repeats(chunk) == set()
        index = RollIndex(packed, fingerprint)
        assert index.repeats(chunk) == {fingerprint(names[7])}


def test_a_fingerprint_depends_on_the_salt_and_keeps_its_label() -> None:
    p = secrets.token_hex(32)
    assert Fingerprinter(208, b"a" * 16)(p) != Fingerprinter(208, b"b" * 16)(p)
    assert Fingerprinter(208, b"a" * 16)(p, 7) == Fingerprinter(208, b"a" * 16)(p) | 7
    assert Fingerprinter(208).bits == 8
    assert Fingerprinter(3000).bits == 12


def test_repeats_are_candidates_then_confirmed_on_the_full_text() -> None:
    fingerprint = Fingerprinter(4)
    names = [secrets.token_hex(32) for _ in range(5)]
    listed = [*names, names[2], names[4], names[4]]
    # Labels differ (two districts) but the voter is the same: still a repeat.
    prints = np.array([fingerprint(p, n % 4) for n, p in enumerate(listed)], dtype=np.uint64)
    candidates = repeated(fingerprint.unlabelled(prints))
    assert candidates == {fingerprint(names[2]), fingerprint(names[4])}
    assert exact_repeats(candidates, listed, fingerprint) == {names[2]: 2, names[4]: 3}
    assert repeated(np.array([], dtype=np.uint64)) == set()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=8), max_size=70))
def test_the_streamed_root_is_rfc6962s(entries: list[bytes]) -> None:
    hashes = [leaf_hash(e) for e in entries]
    found, size = streamed_root(iter(hashes))
    assert size == len(entries)
    assert found == root(hashes)
