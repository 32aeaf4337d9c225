"""Polling day to decrypted counts on a real database (SQLite and PostgreSQL): polls that gate
casting and the tally, the encrypted tally (challenged ballots never counted, the same on one
core or two, resumed after a kill), and threshold decryption by any 3 of 5 guardians."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from tests import tally_worker
from tests.manifests import small_manifest_data
from tests.sealing_helpers import authority_key
from tests.store_fixtures import BACKENDS, backend_database
from verivote.crypto import wire
from verivote.crypto.ballot import encrypt_ballot
from verivote.crypto.elgamal import add
from verivote.crypto.keyfile import read_key_share
from verivote.crypto.threshold import QuorumError
from verivote.election.decryption import (
    combine,
    combine_partials,
    decrypt_as_guardian,
)
from verivote.election.district_logs import seal_districts
from verivote.election.lot import contribute_lot, lot_of_board
from verivote.election.polls import close_polls, open_polls
from verivote.election.service import (
    ElectionContext,
    ElectionError,
    cast,
    challenge,
    hold_ceremony,
    init_election,
    load_context,
)
from verivote.election.tally import accumulate, products_to_json, run_tally
from verivote.model.manifest import parse_manifest
from verivote.store import PollsClosed, Store, make_engine, migrate

E = "test-2024"
STATIONS = ["tabriz-001", "tabriz-002", "tabriz-003", "isfahan-arm-1"]
CAST = [
    ("tabriz-001", ["1101", "1102"]),
    ("tabriz-001", ["1101"]),
    ("tabriz-001", []),
    ("tabriz-002", ["1103", "1104", "1105"]),
    ("tabriz-002", ["1101", "1105"]),
    ("tabriz-002", []),
    ("tabriz-003", ["1102"]),
    ("tabriz-003", ["1101", "1102", "1103"]),
    ("tabriz-003", ["1104"]),
    ("tabriz-001", ["1105"]),
    ("tabriz-002", ["1101"]),
    ("tabriz-003", []),
    ("tabriz-001", ["1102", "1104"]),
    ("isfahan-arm-1", ["2201"]),
    ("isfahan-arm-1", ["2202"]),
    ("isfahan-arm-1", ["2201"]),
    ("isfahan-arm-1", []),
    ("isfahan-arm-1", ["2201"]),
    ("isfahan-arm-1", ["2202"]),
    ("tabriz-003", ["1103"]),
]
# Challenged ballots: counted, they would change every total they touch.
CHALLENGED = [("tabriz-001", ["1103", "1104", "1105"]), ("isfahan-arm-1", ["2202"])]
DISTRICT = {"tabriz-001": "tabriz", "tabriz-002": "tabriz", "tabriz-003": "tabriz",
            "isfahan-arm-1": "armenians-south"}  # fmt: skip


def expected() -> dict[str, Any]:
    """The counts of CAST, as the decrypted tally states them."""
    out: dict[str, Any] = {}
    for district, codes in (("tabriz", ["1101", "1102", "1103", "1104", "1105"]),
                            ("armenians-south", ["2201", "2202"])):  # fmt: skip
        mine = [choices for station, choices in CAST if DISTRICT[station] == district]
        votes = Counter(code for choices in mine for code in choices)
        out[district] = {
            "ballots": len(mine),
            "blank": sum(1 for choices in mine if not choices),
            "votes": {code: votes[code] for code in codes},
        }
    return out


@dataclass
class Election:
    url: str
    store: Store
    keys: Path

    @property
    def ctx(self) -> ElectionContext:
        return load_context(self.store, E)

    def key(self, guardian: int) -> Path:
        return self.keys / f"guardian-{guardian}.key"


@pytest.fixture(params=BACKENDS)
def election(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Election]:
    """5 guardians (quorum 3), polls open everywhere, CAST cast and CHALLENGED challenged."""
    with backend_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        migrate(engine)
        store = Store(engine)
        manifest = parse_manifest(small_manifest_data())
        init_election(store, manifest)
        hold_ceremony(store, load_context(store, E), 5, 3, tmp_path / "keys")
        ctx = load_context(store, E)
        assert ctx.key is not None
        for g in range(1, 6):  # the lot (issue 14, item 4): contributions before the tally
            contribute_lot(store, ctx, read_key_share(tmp_path / "keys" / f"guardian-{g}.key"))
        assert open_polls(store, ctx, STATIONS) == STATIONS
        for i, (station, choices) in enumerate(CAST):
            cast(store, ctx, encrypt_ballot(manifest, ctx.key, ctx.base_hash, station, choices)[0])
            if i in (3, 15):
                ballot, opened = encrypt_ballot(
                    manifest, ctx.key, ctx.base_hash, *CHALLENGED[i // 10]
                )
                challenge(store, ctx, ballot, opened)
        yield Election(url, store, tmp_path / "keys")
        engine.dispose()


def of_type(store: Store, kind: str) -> list[dict[str, Any]]:
    """The board's entries of type `kind`, in the merged order of its logs (sealed ones)."""
    docs = [json.loads(raw) for raw in store.merged_entries(E)]
    return [doc for doc in docs if doc["type"] == kind]


def closed(e: Election) -> ElectionContext:
    """The polls closed everywhere and every district log sealed (as the tally needs)."""
    ctx = e.ctx
    assert close_polls(e.store, ctx, STATIONS) == STATIONS
    seal_districts(e.store, ctx, authority_key(e.keys, ctx))
    return ctx


def decrypted_counts(doc: dict[str, Any]) -> dict[str, Any]:
    return {d: dict(v) for d, v in doc["districts"].items()}


def test_the_polls_gate_casting_and_the_tally(election: Election) -> None:
    store, ctx = election.store, election.ctx
    assert ctx.key is not None
    assert store.polls(E) == dict.fromkeys(STATIONS, "open")
    with pytest.raises(ElectionError, match=r"still open at 4 station\(s\): isfahan-arm-1, tabriz"):
        run_tally(store, ctx)
    with pytest.raises(ElectionError, match="not a station"):
        close_polls(store, ctx, ["nowhere"])
    assert close_polls(store, ctx, ["tabriz-001"]) == ["tabriz-001"]
    with pytest.raises(ElectionError, match="still open at 3 station"):
        run_tally(store, ctx)
    assert close_polls(store, ctx, STATIONS) == STATIONS[1:]  # tabriz-001 already closed
    seal_districts(store, ctx, authority_key(election.keys, ctx))  # the board, in its order
    closes = of_type(store, "polls-close")
    assert {doc["station"]: doc["ballots_cast"] for doc in closes} == Counter(s for s, _ in CAST)
    first = next(doc for doc in closes if doc["station"] == "tabriz-001")
    assert first == {"type": "polls-close", "election": ctx.base_hash.hex(),
                         "station": "tabriz-001", "ballots_cast": 5}  # fmt: skip
    opens = of_type(store, "polls-open")
    opened = next(doc for doc in opens if doc["station"] == "tabriz-001")
    assert opened == {"type": "polls-open", "election": ctx.base_hash.hex(),
                      "station": "tabriz-001"}  # fmt: skip
    size = store.merged_size(E)
    ballot, opened = encrypt_ballot(ctx.manifest, ctx.key, ctx.base_hash, "tabriz-002", ["1101"])
    with pytest.raises(PollsClosed, match="tabriz-002 are not open"):
        cast(store, ctx, ballot)
    with pytest.raises(PollsClosed):
        challenge(store, ctx, ballot, opened)
    with pytest.raises(ElectionError, match="closed for good at: tabriz-002"):
        open_polls(store, ctx, ["tabriz-002"])
    assert store.merged_size(E) == size
    assert store.unsealed(E) == {}  # nothing was written for the refused ballots
    tally = run_tally(store, ctx)
    assert tally["cutoff"] == size
    assert {d: v["ballots"] for d, v in tally["districts"].items()} == {
        "tabriz": 14,
        "armenians-south": 6,
    }


def test_the_decrypted_tally_equals_the_plaintext_counts(election: Election) -> None:
    store, ctx = election.store, closed(election)
    assert ctx.key is not None
    seen: list[tuple[int, int]] = []
    tally = run_tally(store, ctx, processes=1, chunk=3, progress=lambda d, t: seen.append((d, t)))
    size = store.merged_size(E)
    assert tally["cutoff"] == size - 1  # the tally entry itself is the last one
    assert seen[0] == (0, size - 1)
    assert seen[-1] == (size - 1, size - 1)
    # Two processes, recomputed from scratch under another id: the same products.
    again = accumulate(store, ctx, tally["cutoff"], "check", processes=2, chunk=3)
    assert products_to_json(ctx.key.group, again) == tally["districts"]
    # And the same as multiplying the cast ballots' ciphertexts here, directly.
    group = ctx.key.group
    cts = [doc["ballot"] for doc in of_type(store, "ballot-cast")]
    blanks = [wire.ciphertext_from_json(group, b["blank"]["ciphertext"]) for b in cts
              if b["district"] == "tabriz"]  # fmt: skip
    assert tally["districts"]["tabriz"]["blank"] == wire.ciphertext_to_json(
        group, add(group, blanks)
    )
    assert run_tally(store, ctx) == tally  # published once, returned after
    assert store.merged_size(E) == size
    for g in (5, 2, 4):
        assert decrypt_as_guardian(store, ctx, read_key_share(election.key(g))) == 2
    assert decrypt_as_guardian(store, ctx, read_key_share(election.key(2))) == 0
    result = combine(store, ctx)
    assert result["type"] == "decrypted-tally"
    assert result["guardians"] == [2, 4, 5]
    assert decrypted_counts(result) == expected()
    assert "rejected" not in result
    assert combine(store, ctx) == result
    assert len(store.entries_of_type(E, "decrypted-tally")) == 1


def test_any_three_of_five_guardians_decrypt_and_two_cannot(election: Election) -> None:
    store, ctx = election.store, closed(election)
    tally = run_tally(store, ctx)
    for g in (1, 3):
        decrypt_as_guardian(store, ctx, read_key_share(election.key(g)))
    with pytest.raises(QuorumError, match=r"needs 3 guardians; present: 1, 3; missing: 2, 4, 5$"):
        combine(store, ctx)
    assert store.entries_of_type(E, "decrypted-tally") == []
    for g in (2, 4, 5):
        decrypt_as_guardian(store, ctx, read_key_share(election.key(g)))
    partials = [(i, json.loads(raw)) for i, raw in store.entries_of_type(E, "partial-decryption")]
    assert len(partials) == 10
    lot = lot_of_board(store, ctx)
    lots = [(i, json.loads(raw)) for i, raw in store.entries_of_type(E, "lot-decryption")]
    assert len(lots) == 5
    elements = set()
    for subset in itertools.combinations(range(1, 6), 3):
        mine = [(i, doc) for i, doc in partials if doc["guardian"] in subset]
        mine_lot = [(i, doc) for i, doc in lots if doc["guardian"] in subset]
        result = combine_partials(ctx, tally, mine, lot, mine_lot)
        elements.add(result["lot"])
        assert result["guardians"] == list(subset)
        assert decrypted_counts(result) == expected()
    # A guardian's forged share is refused and reported; the next guardians stand in.
    forged = json.loads(json.dumps(partials[0][1]))
    assert forged["guardian"] == 1
    forged["shares"]["blank"]["share"] = forged["shares"]["1101"]["share"]
    swapped = [(partials[0][0], forged), *partials[1:]]
    assert len(elements) == 1  # any three guardians open the same lot
    result = combine_partials(ctx, tally, swapped, lot, lots)
    assert decrypted_counts(result) == expected()
    assert result["rejected"] == [
        {"index": partials[0][0], "guardian": 1, "district": forged["district"],
         "reason": "the proof of the share of blank does not verify"}
    ]  # fmt: skip
    assert result["guardians"] == [1, 2, 3, 4]  # 1 still counts in the other district
    two = [(i, doc) for i, doc in partials if doc["guardian"] in (2, 4)]
    with pytest.raises(QuorumError, match="present: 2, 4; missing: 1, 3, 5"):
        combine_partials(ctx, tally, two, lot, lots)
    with pytest.raises(QuorumError, match="the lot needs 3 guardians; present: 2, 4; missing"):
        combine_partials(
            ctx, tally, partials, lot, [(i, d) for i, d in lots if d["guardian"] in (2, 4)]
        )


def test_a_key_share_of_another_election_is_refused(election: Election) -> None:
    store, ctx = election.store, closed(election)
    with pytest.raises(ElectionError, match="no tally"):
        decrypt_as_guardian(store, ctx, read_key_share(election.key(1)))
    with pytest.raises(ElectionError, match="no tally"):
        combine(store, ctx)
    run_tally(store, ctx)
    share = read_key_share(election.key(1))
    with pytest.raises(ElectionError, match="another election"):
        decrypt_as_guardian(store, ctx, replace(share, base_hash="00" * 32))
    with pytest.raises(ElectionError, match="another key ceremony"):
        decrypt_as_guardian(store, ctx, replace(share, joint_key="11" * 32))
    with pytest.raises(ElectionError, match="does not match its public share"):
        decrypt_as_guardian(store, ctx, replace(share, secret=share.secret + 1))
    assert store.entries_of_type(E, "partial-decryption") == []


def kill_when(target: Any, args: tuple[Any, ...], what: str) -> None:
    """Run `target(*args, event)` in a child process and SIGKILL it once it sets the event."""
    ctx = multiprocessing.get_context("spawn")
    event = ctx.Event()
    child = ctx.Process(target=target, args=(*args, event))
    child.start()
    try:
        assert event.wait(60), f"the child never {what}"
    finally:
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join(30)
    assert child.exitcode == -signal.SIGKILL


def test_a_killed_tally_resumes_where_it_stopped(election: Election) -> None:
    store, ctx = election.store, closed(election)
    cutoff = store.merged_size(E)
    kill_when(tally_worker.tally_until_killed, (election.url, E, 2), "stored two chunks")
    assert [(s, e) for s, e, _ in store.tally_parts(E, f"tally-{cutoff}")] == [(0, 3), (3, 6)]
    assert store.entries_of_type(E, "tally") == []
    seen: list[tuple[int, int]] = []
    tally = run_tally(store, ctx, chunk=3, progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (6, cutoff)  # the two stored chunks were not computed again
    assert tally["cutoff"] == cutoff
    fresh = accumulate(store, ctx, cutoff, "uninterrupted", processes=1, chunk=3)
    assert ctx.key is not None
    assert products_to_json(ctx.key.group, fresh) == tally["districts"]


def test_a_killed_guardian_resumes_with_the_districts_left(election: Election) -> None:
    store, ctx = election.store, closed(election)
    run_tally(store, ctx)
    key = election.key(3)
    kill_when(tally_worker.decrypt_until_killed, (election.url, E, key), "published a district")
    first = [json.loads(raw) for _, raw in store.entries_of_type(E, "partial-decryption")]
    assert [(doc["guardian"], doc["district"]) for doc in first] == [(3, "tabriz")]
    assert decrypt_as_guardian(store, ctx, read_key_share(key)) == 1
    docs = [json.loads(raw) for _, raw in store.entries_of_type(E, "partial-decryption")]
    assert [(doc["guardian"], doc["district"]) for doc in docs] == [
        (3, "tabriz"),
        (3, "armenians-south"),
    ]
    for g in (1, 5):
        decrypt_as_guardian(store, ctx, read_key_share(election.key(g)))
    assert decrypted_counts(combine(store, ctx)) == expected()
