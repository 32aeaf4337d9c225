"""The merged order of an election's logs in the store (README, "National scale (issue 17)":
Order): national entries take board positions as they are appended, a district's entries when
it is sealed, seals none; what `Store.merged_entries` reads is what the verifier's merge of the
logs gives (`board.split.merge_logs`, `board.sealing.open_sealed`), on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from verivote.board import merkle
from verivote.board.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from verivote.board.districts import SEAL_TYPE, district_origin, seal_entry
from verivote.board.note import generate_signer
from verivote.board.sealing import open_sealed
from verivote.board.split import merge_logs
from verivote.store import Store

E = "majlis-2024"
BASE = "cd" * 32
ORIGIN = f"verivote/{E}"
SIGNER, VERIFIER = generate_signer(ORIGIN)
DISTRICTS = ("d1", "d2", "d3")


@pytest.fixture
def store(engine: Engine) -> Store:
    store = Store(engine)
    store.create_election(E, BASE, b'{"election_id":"majlis-2024"}')
    return store


def seal(store: Store, district: str) -> tuple[int, int] | None:
    def make(size: int, root: bytes) -> tuple[bytes, str]:
        note = sign_checkpoint(Checkpoint(district_origin(ORIGIN, district), size, root), [SIGNER])
        return seal_entry(BASE, district, note), note

    return store.seal(E, district, make)


def logs_of(store: Store) -> tuple[list[bytes], dict[str, list[bytes]]]:
    """The national log and each district's log up to its last seal."""
    national = store.entries(E)
    sealed: dict[str, int] = {}
    for raw in national:
        doc = json.loads(raw)
        if doc.get("type") == SEAL_TYPE:
            sealed[doc["district"]] = int(doc["checkpoint"].split("\n")[1])
    return national, {d: store.entries(E, 0, n, log=d) for d, n in sealed.items()}


def test_national_entries_have_their_index_as_position(store: Store) -> None:
    for i in range(5):
        assert store.append_entry(E, b'{"n":%d}' % i, "x") == i
    store.bulk_append(E, (b'{"m":%d}' % i for i in range(3)), "y")
    assert store.merged_size(E) == store.entry_count(E) == 8
    assert store.merged_entries(E) == store.entries(E)
    assert [store.position(E, i) for i in range(8)] == list(range(8))


def test_district_entries_join_the_board_when_sealed(store: Store) -> None:
    store.append_entry(E, b'{"type":"manifest"}', "manifest")
    store.append_entry(E, b'{"b":0}', "ballot-cast", log="d1")
    store.append_entry(E, b'{"b":1}', "ballot-cast", log="d1")
    assert store.merged_size(E) == 1
    assert store.position(E, 0, "d1") is None
    assert store.unsealed(E) == {"d1": (0, 2)}
    store.append_entry(E, b'{"type":"later"}', "later")  # a national entry before the seal
    assert seal(store, "d1") == (2, 2)
    assert seal(store, "d1") is None  # nothing new since
    assert store.unsealed(E) == {}
    # the seal is national entry 2 and takes no position; d1's entries stand before it
    assert store.merged_entries(E) == [b'{"type":"manifest"}', b'{"type":"later"}',
                                       b'{"b":0}', b'{"b":1}']  # fmt: skip
    assert [store.position(E, i, "d1") for i in (0, 1)] == [2, 3]
    assert store.position(E, 2) is None  # the seal
    run = store.sealing_of(E, "d1", 1)
    assert run is not None
    assert (run.seal_idx, run.idx + run.count) == (2, 2)
    stored = store.latest_checkpoint(E, log="d1")
    assert stored is not None
    assert stored[0] == 2
    checkpoint, _ = open_checkpoint(stored[1], [generate_signer(ORIGIN)[1], VERIFIER])
    assert checkpoint.root == store.tree_root(E, log="d1")
    assert checkpoint.origin == f"{ORIGIN}/d1"


def test_a_seal_goes_on_only_by_sealing(store: Store) -> None:
    with pytest.raises(ValueError, match="sealing"):
        store.append_entry(E, seal_entry(BASE, "d1", "x"), SEAL_TYPE)
    with pytest.raises(ValueError, match=SEAL_TYPE):
        store.bulk_append(E, [b"{}"], SEAL_TYPE)
    with pytest.raises(ValueError, match="national"):
        store.seal(E, "", lambda size, root: (b"{}", ""))
    assert store.entry_count(E) == 0


def test_a_refused_seal_writes_nothing(store: Store) -> None:
    store.append_entry(E, b'{"b":0}', "ballot-cast", log="d1")

    def broken(size: int, root: bytes) -> tuple[bytes, str]:
        raise RuntimeError("the signer is unreachable")

    with pytest.raises(RuntimeError):
        store.seal(E, "d1", broken)
    assert (store.entry_count(E), store.merged_size(E)) == (0, 0)
    assert store.unsealed(E) == {"d1": (0, 1)}
    assert store.latest_checkpoint(E, log="d1") is None


_ELECTIONS = itertools.count()
Step = tuple[str, str]  # ("national" | "district" | "seal", district)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.lists(st.tuples(st.sampled_from(["national", "district", "seal"]),
                          st.sampled_from(DISTRICTS)), max_size=30))  # fmt: skip
def test_the_merged_board_is_the_verifiers_merge_of_the_logs(
    engine: Engine, steps: list[Step]
) -> None:
    election = f"e{next(_ELECTIONS)}"  # one database for every example
    store = Store(engine)
    store.create_election(election, BASE, b"{}")
    for n, (kind, district) in enumerate(steps):
        if kind == "national":
            store.append_entry(election, b'{"n":%d}' % n, "x")
        elif kind == "district":
            store.append_entry(election, b'{"d":"%s","n":%d}' % (district.encode(), n), "y",
                               log=district)  # fmt: skip
        else:

            def make(size: int, root: bytes, d: str = district) -> tuple[bytes, str]:
                cp = Checkpoint(district_origin(ORIGIN, d), size, root)
                note = sign_checkpoint(cp, [SIGNER])
                return seal_entry(BASE, d, note), note

            store.seal(election, district, make)
    national = store.entries(election)
    sealed: dict[str, int] = {}
    for raw in national:
        doc = json.loads(raw)
        if doc.get("type") == SEAL_TYPE:
            sealed[doc["district"]] = int(doc["checkpoint"].split("\n")[1])
    districts = {d: store.entries(election, 0, k, log=d) for d, k in sealed.items()}
    merged = store.merged_entries(election)
    assert merged == merge_logs(national, districts)
    assert merged == open_sealed(national, districts, VERIFIER, BASE)
    assert store.merged_size(election) == len(merged)
    # reading in pieces gives the same sequence
    pieces = [e for s in range(0, len(merged), 3) for e in store.merged_entries(election, s, s + 3)]
    assert pieces == merged


def test_sealing_while_a_district_appends_keeps_every_entry(store: Store) -> None:
    """Casting into d1 while d1 and d2 are sealed again and again: every entry is sealed once,
    in order, and the merged board is the verifier's merge."""
    store.append_entry(E, b'{"type":"manifest"}', "manifest")

    def cast(district: str) -> None:
        for i in range(60):
            store.append_entry(E, b'{"d":"%s","i":%d}' % (district.encode(), i), "y",
                               log=district)  # fmt: skip

    def sealer() -> None:
        for _ in range(40):
            for district in ("d1", "d2"):
                seal(store, district)

    with ThreadPoolExecutor(max_workers=3) as pool:
        for future in [pool.submit(cast, "d1"), pool.submit(cast, "d2"), pool.submit(sealer)]:
            future.result()
    for district in ("d1", "d2"):
        seal(store, district)
    national, districts = logs_of(store)
    assert {d: len(e) for d, e in districts.items()} == {"d1": 60, "d2": 60}
    merged = store.merged_entries(E)
    assert merged == open_sealed(national, districts, VERIFIER, BASE)
    assert len(merged) == 121
    leaves = [merkle.leaf_hash(e) for e in districts["d1"]]
    assert store.tree_root(E, log="d1") == merkle.MerkleLog(leaves).root()
