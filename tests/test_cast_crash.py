"""A server killed while a station's batch is open loses no accepted ballot (issue 15, "Done
means"): `verivote serve` is killed with SIGKILL after accepting ballots that wait in the
station's batch; a new server finds them, the device's re-upload of every ballot is answered
`already_accepted` with the same tracking codes and records nothing twice, and the closing
puts each ballot on the board exactly once. On SQLite and PostgreSQL, with real processes."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.attacks.casting_fixtures import ELECTION, Polling, polling_election
from tests.serve_fixtures import serving
from tests.site_fixtures import national_code
from tests.store_fixtures import BACKENDS
from verivote.crypto.ballot import encrypt_ballot
from verivote.election.polls import close_polls
from verivote.polling.station import Server
from verivote.store.access import issue_token
from verivote.store.roll import import_voters

STATION = "tabriz-001"
DISTRICT = "tabriz"
"""The station's district: its ballots and polls statements are in that log (issue 17)."""
VOTERS = [national_code(n) for n in range(7001, 7007)]
SRC = Path(__file__).resolve().parent.parent / "src"


@pytest.fixture(params=BACKENDS)
def polling(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Polling]:
    with polling_election(request.param, tmp_path) as polling:
        import_voters(polling.store.engine, ELECTION, [(c, "tabriz", None) for c in VOTERS])
        yield polling


def _ballot(polling: Polling, *choices: str) -> dict[str, Any]:
    ctx = polling.ctx
    assert ctx.key is not None
    ballot, _ = encrypt_ballot(ctx.manifest, ctx.key, ctx.base_hash, STATION, list(choices))
    return ballot


def test_a_server_killed_mid_batch_loses_no_accepted_ballot(
    polling: Polling, tmp_path: Path
) -> None:
    store, engine = polling.store, polling.store.engine
    db = engine.url.render_as_string(hide_password=False)
    token = issue_token(engine, ELECTION, STATION)
    ballots = [_ballot(polling, code) for code in ("1101", "1102", "1103", "1101", "1102")]
    with serving(db, ELECTION, tmp_path) as (base, process):
        device = Server(base, token)
        for n, voter in enumerate(VOTERS):
            answer = device.post("/api/checkin", {"national_code": voter,
                                                  "request_id": f"crash-{n:04d}"})  # fmt: skip
            assert answer == {"status": "accepted"}
        first = [device.post("/api/ballots", {"ballot": b}) for b in ballots]
        assert {a["status"] for a in first} == {"accepted"}
        assert {a["board_index"] for a in first} == {None}  # the batch of 20 is open
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
    codes = [a["tracking_code"] for a in first]
    assert [store.ballot_state(ELECTION, c) for c in codes] == ["pending"] * len(codes)

    with serving(db, ELECTION, tmp_path) as (base, _):
        device = Server(base, token)
        again = [device.post("/api/ballots", {"ballot": b}) for b in ballots]
        assert [(a["status"], a["tracking_code"]) for a in again] == [
            ("already_accepted", c) for c in codes
        ]
        last = device.post("/api/ballots", {"ballot": _ballot(polling, "1103")})
        assert last["status"] == "accepted"
    assert store.station_counts(ELECTION)[STATION] == (6, 6)

    close_polls(store, polling.ctx, [STATION])
    on_board = Counter(
        doc["tracking_code"]
        for doc in (json.loads(e) for e in store.entries(ELECTION, log=DISTRICT))
        if doc["type"] == "ballot-cast"
    )
    assert on_board == Counter([*codes, last["tracking_code"]])
    closing = json.loads(store.entries_of_type(ELECTION, "polls-close", log=DISTRICT)[-1][1])
    assert (closing["ballots_cast"], closing["checked_in"]) == (6, 6)
