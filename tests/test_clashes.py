"""`verivote.verify.clashes`: the `ballots` check finds a ballot or a nonce used twice from the
chunks' 12-byte keys, parsing again only the entries whose keys clash, and says exactly what
comparing every ballot's facts would say (issue 17)."""

from __future__ import annotations

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.manifests import small_manifest_data
from verivote.crypto.ballot import encrypt_ballot
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.groups import get_group
from verivote.crypto.hashing import election_base_hash
from verivote.crypto.tracking import tracking_code
from verivote.model.canonical import canonical_json
from verivote.model.manifest import parse_manifest
from verivote.verify.ballot_chunk import Setup, check_chunk
from verivote.verify.ballot_facts import Facts
from verivote.verify.check_ballots import _check_duplicates
from verivote.verify.clashes import BUCKETS, find_clashes, pack
from verivote.verify.report import Check

facts_of = st.builds(
    Facts,
    st.one_of(st.none(), st.sampled_from([bytes([i]) * 32 for i in range(4)])),
    st.booleans(),
    st.one_of(st.none(), st.sampled_from(["n0", "n1", "n2", "n3", "n4"])),
)


def _failures(facts: dict[int, Facts], opened: set[int]) -> list[tuple[str, int | None, str]]:
    cast, challenged = Check("ballots"), Check("challenged")
    _check_duplicates(facts, cast, challenged, opened)
    return [(c.id, f.entry, f.reason) for c in (cast, challenged) for f in c.failures]


@settings(max_examples=300, deadline=None)
@given(st.lists(facts_of, max_size=25), st.sets(st.integers(0, 24)))
def test_the_clashing_entries_give_the_full_comparisons_report(
    found: list[Facts], opened: set[int]
) -> None:
    every = dict(enumerate(found))
    buckets = [bytearray() for _ in range(BUCKETS)]
    for bucket, keys in zip(buckets, pack(every.items()), strict=True):
        bucket += keys
    clashes = find_clashes(buckets, None)
    assert _failures({i: every[i] for i in clashes}, opened) == _failures(every, opened)


def test_entries_with_distinct_ballots_and_nonces_do_not_clash() -> None:
    found = {i: Facts(bytes([i]) * 32, True, f"n{i}") for i in range(200)}
    buckets = [bytearray() for _ in range(BUCKETS)]
    for bucket, keys in zip(buckets, pack(found.items()), strict=True):
        bucket += keys
    assert find_clashes(buckets, None) == []
    assert sum(map(len, buckets)) == 200 * 2 * 12


def test_a_chunk_sends_back_no_facts_per_ballot() -> None:
    """What a chunk of ballots returns to the main process grows by its keys (24 bytes a
    ballot) and not by each ballot's facts (a digest, a nonce, a station)."""
    manifest = parse_manifest(small_manifest_data("ristretto255"))
    base_hash = election_base_hash(manifest.canonical())
    group = get_group("ristretto255")
    key = ElectionKey(group, group.pow_g(group.random_scalar()))

    def returned(count: int) -> int:
        chunk = []
        for i in range(count):
            ballot, _ = encrypt_ballot(manifest, key, base_hash, "tabriz-001", ["1101"])
            code = tracking_code(base_hash, canonical_json(ballot))
            doc = {"type": "ballot-cast", "ballot": ballot, "tracking_code": code}
            chunk.append((10 + i, canonical_json(doc)))
        result = check_chunk(Setup(manifest, base_hash, key, None), chunk)
        assert not result.refused
        return len(pickle.dumps(result))

    per_ballot = (returned(60) - returned(20)) / 40
    assert per_ballot <= 40, per_ballot
