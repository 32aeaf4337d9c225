"""Issue 14, item 5: after ANY sequence of calls to the casting path, however hostile, the
exported record still verifies. A hypothesis state machine drives honest casts and challenges
mixed with replays, copies to other stations, copies under a fresh nonce, tampered proofs and
ciphertexts, ballots at closed or unknown stations and malformed shapes; every hostile call
must be refused with a casting error (never another exception) and leave the board as it was,
and at the end the election is finished (tally, decryption, count), checkpointed, exported and
verified, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    rule,
    run_state_machine_as_test,
)

from tests.attacks.casting_fixtures import Polling, close_and_verify, polling_election
from tests.store_fixtures import BACKENDS
from verivote.crypto.ballot import BallotError, OpenedBallot, encrypt_ballot
from verivote.election.polls import close_polls
from verivote.election.service import ElectionError, cast, challenge
from verivote.store import StoreError

REFUSALS = (BallotError, ElectionError, StoreError)
STATIONS = ("tabriz-001", "tabriz-002", "tabriz-003", "isfahan-arm-1")
CHOICES = {"tabriz": ["1101", "1102", "1103", "1104", "1105"], "armenians-south": ["2201", "2202"]}
DISTRICT = {"tabriz-001": "tabriz", "tabriz-002": "tabriz", "tabriz-003": "tabriz",
            "isfahan-arm-1": "armenians-south"}  # fmt: skip
SEATS = {"tabriz": 3, "armenians-south": 1}

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=8)
    | st.sampled_from(["00" * 32, "ff" * 32, "tabriz", "tabriz-002", "1101"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                  max_size=3),
    max_leaves=6,
)  # fmt: skip


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside `node` (the root excluded)."""
    out: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(
        node, list) else []  # fmt: skip
    for key, value in items:
        out.append((*path, key))
        out.extend(_paths(value, (*path, key)))
    return out


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _delete(node: Any, path: tuple[Any, ...]) -> None:
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]


class CastingMachine(RuleBasedStateMachine):
    published = Bundle("published")

    def __init__(self, backend: str) -> None:
        super().__init__()
        self.backend = backend
        self.directory = Path(tempfile.mkdtemp(prefix="casting-machine-"))
        self.election = polling_election(backend, self.directory)
        self.polling: Polling = self.election.__enter__()
        self.closed: set[str] = set()
        self.seen_nonces: set[str | None] = set()

    # -- helpers ---------------------------------------------------------------------------

    def size(self) -> int:
        return self.polling.store.entry_count(self.polling.ctx.election_id)

    def encrypt(self, station: str, data: st.DataObject) -> tuple[dict[str, Any], OpenedBallot]:
        district = DISTRICT[station]
        choices = data.draw(
            st.lists(st.sampled_from(CHOICES[district]), unique=True, max_size=SEATS[district])
        )
        ctx = self.polling.ctx
        assert ctx.key is not None
        return encrypt_ballot(ctx.manifest, ctx.key, ctx.base_hash, station, choices)

    def refused(self, attempt: Any) -> None:
        """`attempt()` must be refused with a casting error and leave the board as it was."""
        before = self.size()
        with pytest.raises(REFUSALS):
            attempt()
        assert self.size() == before

    def hostile_cast(self, ballot: Any) -> None:
        """A ballot that must not be accepted, cast (or challenged with any opening)."""
        self.refused(lambda: cast(self.polling.store, self.polling.ctx, ballot))

    # -- honest voters ---------------------------------------------------------------------

    @rule(target=published, station=st.sampled_from(STATIONS), data=st.data(),
          decide=st.sampled_from(["cast", "challenge"]))  # fmt: skip
    def honest(self, station: str, data: st.DataObject, decide: str) -> Any:
        ballot, opened = self.encrypt(station, data)  # encrypted, code shown, then decided
        store, ctx = self.polling.store, self.polling.ctx
        if station in self.closed:
            self.refused(lambda: cast(store, ctx, ballot))
            self.refused(lambda: challenge(store, ctx, ballot, opened))
            return (copy.deepcopy(ballot), opened)
        before = self.size()
        receipt = cast(store, ctx, ballot) if decide == "cast" else challenge(
            store, ctx, ballot, opened)  # fmt: skip
        # in its station's batch, or on the board if it filled the batch
        assert (receipt.board_index is None) == (self.size() == before)
        state = store.ballot_state(ctx.election_id, receipt.code)
        assert state == ("pending" if receipt.board_index is None else receipt.state)
        assert ballot.get("nonce") not in self.seen_nonces
        self.seen_nonces.add(ballot.get("nonce"))
        return (copy.deepcopy(ballot), opened)

    @rule(station=st.sampled_from(STATIONS))
    def close_station(self, station: str) -> None:
        if station not in self.closed:
            close_polls(self.polling.store, self.polling.ctx, [station])
            self.closed.add(station)

    # -- hostile calls ---------------------------------------------------------------------

    @rule(item=published, challenged=st.booleans())
    def replay(self, item: tuple[dict[str, Any], OpenedBallot], challenged: bool) -> None:
        ballot, opened = item
        store, ctx = self.polling.store, self.polling.ctx
        if challenged:
            self.refused(lambda: challenge(store, ctx, copy.deepcopy(ballot), opened))
        else:
            self.hostile_cast(copy.deepcopy(ballot))

    @rule(item=published, station=st.sampled_from((*STATIONS, "nowhere", "")))
    def copy_to_station(self, item: tuple[dict[str, Any], OpenedBallot], station: str) -> None:
        ballot = copy.deepcopy(item[0])
        ballot["station"] = station
        self.hostile_cast(ballot)

    @rule(item=published, data=st.data())
    def copy_with_new_nonce(self, item: tuple[dict[str, Any], OpenedBallot], data: Any) -> None:
        ballot = copy.deepcopy(item[0])
        nonce = str(ballot.get("nonce", "ab" * 32))
        ballot["nonce"] = data.draw(
            st.sampled_from([secrets.token_hex(32), nonce.upper(), nonce[:-2], nonce + "00", "", 7])
        )
        self.hostile_cast(ballot)

    @rule(station=st.sampled_from(STATIONS), data=st.data(),
          where=st.sampled_from(["response", "challenge", "alpha", "swap", "blank", "contest",
                                 "district", "election", "candidate"]))  # fmt: skip
    def tampered(self, station: str, data: st.DataObject, where: str) -> None:
        ballot, opened = self.encrypt(station, data)
        s = ballot["selections"]
        if where == "response":
            r = s[0]["proof"]["responses"][0]
            s[0]["proof"]["responses"][0] = ("1" if r[0] != "1" else "2") + r[1:]
        elif where == "challenge":
            s[-1]["proof"]["challenges"].reverse()
        elif where == "alpha":
            s[0]["ciphertext"]["alpha"] = s[1]["ciphertext"]["alpha"]
        elif where == "swap":
            s[0]["ciphertext"], s[1]["ciphertext"] = s[1]["ciphertext"], s[0]["ciphertext"]
        elif where == "blank":
            ballot["blank"]["ciphertext"] = s[0]["ciphertext"]
        elif where == "contest":
            c = ballot["contest"]
            c["at_most"], c["at_least"] = c["at_least"], c["at_most"]
        elif where == "district":
            ballot["district"] = "armenians-south" if DISTRICT[station] == "tabriz" else "tabriz"
        elif where == "election":
            ballot["election"] = "11" * 32
        elif where == "candidate":
            s[0]["candidate"] = "9999"
        self.hostile_cast(ballot)
        self.refused(lambda: challenge(self.polling.store, self.polling.ctx, ballot, opened))

    @rule(station=st.sampled_from(STATIONS), data=st.data())
    def wrong_opening(self, station: str, data: st.DataObject) -> None:
        ballot, _ = self.encrypt(station, data)
        _, other_opened = self.encrypt(station, data)
        self.refused(lambda: challenge(self.polling.store, self.polling.ctx, ballot,
                                       other_opened))  # fmt: skip

    @rule(station=st.sampled_from(STATIONS), data=st.data())
    def malformed(self, station: str, data: st.DataObject) -> None:
        """A valid ballot with one part replaced by any JSON value, or deleted, or a key added:
        refused, or (if the change happens to keep it valid) accepted; never anything else."""
        ballot, _ = self.encrypt(station, data)
        path = data.draw(st.sampled_from(_paths(ballot)))
        how = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if how == "replace":
            _set(ballot, path, data.draw(JSON))
        elif how == "delete":
            _delete(ballot, path)
        else:
            ballot[data.draw(st.text(min_size=1, max_size=5))] = data.draw(JSON)
        before = self.size()
        try:
            cast(self.polling.store, self.polling.ctx, ballot)
        except REFUSALS:
            assert self.size() == before

    @rule(value=JSON)
    def not_a_ballot(self, value: Any) -> None:
        self.hostile_cast(value)

    # -- the invariant ---------------------------------------------------------------------

    def teardown(self) -> None:
        try:
            report = close_and_verify(self.polling, self.directory / "record")
            assert report.valid, report.to_json()
        finally:
            self.election.__exit__(None, None, None)
            shutil.rmtree(self.directory, ignore_errors=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_sequence_of_casting_calls_breaks_the_record(backend: str) -> None:
    run_state_machine_as_test(
        lambda: CastingMachine(backend),
        settings=settings(
            # VERIVOTE_CASTING_EXAMPLES=500 for a long search; the suite keeps it short.
            max_examples=int(os.environ.get("VERIVOTE_CASTING_EXAMPLES", "6")),
            stateful_step_count=12,
            deadline=None,
            report_multiple_bugs=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
