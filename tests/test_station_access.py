"""Station access (issue 15, item 4): tokens that expire and are revoked, console sessions kept
in the database, and rate limits on failed logins and bad tokens.

The attacks themselves (a revoked token or session still working) are in
tests/attacks/test_station_access.py; here are the store's functions on SQLite and PostgreSQL,
the `verivote stations` commands, and the rate limits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tests.manifests import small_manifest_data
from tests.site_fixtures import TABRIZ_VOTERS, LiveElection, csrf_of, make_live
from tests.store_fixtures import BACKENDS, backend_database
from verivote.cli.app import run
from verivote.election.service import init_election
from verivote.model.manifest import parse_manifest
from verivote.store import Store, make_engine, migrate
from verivote.store.access import (
    access_epoch,
    end_session,
    grant_of_token,
    issue_token,
    open_session,
    revoke_station,
    session_station,
    station_of_token,
    token_hash,
)
from verivote.store.schema import console_sessions, station_tokens
from verivote.web.app import live_app
from verivote.web.throttle import ADDRESS_FAILURES, STATION_FAILURES, Throttle, TooManyFailures
from verivote.web.tokens import Revocations, TokenCache

E = "test-2024"


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with backend_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        migrate(engine)
        Store(engine).create_election(E, "ab" * 32, b"{}")
        yield engine
        engine.dispose()


# -- the store ----------------------------------------------------------------------------------


def test_tokens_expire_and_only_their_hashes_are_kept(engine: Engine) -> None:
    now = time.time()
    token = issue_token(engine, E, "s1", expires_at=int(now) + 60)
    forever = issue_token(engine, E, "s1")
    assert station_of_token(engine, token, now) == (E, "s1")
    assert station_of_token(engine, token, now + 61) is None
    assert station_of_token(engine, forever, now + 10**6) == (E, "s1")
    assert station_of_token(engine, "not-a-token") is None
    with engine.connect() as conn:
        stored = {r[0] for r in conn.execute(select(station_tokens.c.token_hash))}
    assert stored == {token_hash(token), token_hash(forever)}


def test_revoking_a_station_deletes_its_tokens_and_sessions_and_bumps_the_counter(
    engine: Engine,
) -> None:
    assert access_epoch(engine, E) == 0
    mine = [issue_token(engine, E, "s1") for _ in range(2)]
    other = issue_token(engine, E, "s2")
    sid, station = open_session(engine, E, mine[0], int(time.time()) + 600) or ("", "")
    assert station == "s1"
    assert session_station(engine, E, sid) == "s1"
    done = revoke_station(engine, E, "s1")
    assert (done.tokens, done.sessions) == (2, 1)
    assert access_epoch(engine, E) == 1
    assert all(grant_of_token(engine, t) is None for t in mine)
    assert grant_of_token(engine, other) is not None
    assert session_station(engine, E, sid) is None
    assert revoke_station(engine, E, "s1") == type(done)(0, 0)
    assert access_epoch(engine, E) == 2


def test_console_sessions_end_at_logout_at_expiry_and_with_their_token(engine: Engine) -> None:
    now = time.time()
    short = issue_token(engine, E, "s1", expires_at=int(now) + 30)
    found = open_session(engine, E, short, int(now) + 3600, now)
    assert found is not None
    sid = found[0]
    assert session_station(engine, E, sid, now) == "s1"
    assert session_station(engine, E, sid, now + 31) is None  # the token's end, not 12 h
    assert session_station(engine, "other-election", sid, now) is None
    end_session(engine, sid)
    assert session_station(engine, E, sid, now) is None
    # the session's own expiry, and sessions already over are cleared at the next login
    found = open_session(engine, E, short, int(now) + 5, now)
    assert found is not None
    assert session_station(engine, E, found[0], now + 6) is None
    assert open_session(engine, E, short, int(now) + 3600, now + 10) is not None
    with engine.connect() as conn:
        assert len(conn.execute(select(console_sessions.c.session_hash)).all()) == 1
        # only the hashes of session ids are kept
        assert conn.execute(select(console_sessions.c.session_hash)).scalar() != sid
    # no session for an expired, unknown or other station's token
    assert open_session(engine, E, short, int(now) + 3600, now + 31) is None
    assert open_session(engine, E, "nope", int(now) + 3600, now) is None
    assert open_session(engine, E, short, int(now) + 3600, now, station_id="s2") is None


# -- the process's caches -----------------------------------------------------------------------


def test_one_revocation_read_serves_every_request_waiting_for_it() -> None:
    reads: list[int] = []

    def read() -> int:
        reads.append(1)
        time.sleep(0.05)
        return 0

    async def main() -> None:
        revocations = Revocations(read)
        await asyncio.gather(*(revocations.check() for _ in range(50)))
        await asyncio.gather(*(revocations.check() for _ in range(50)))

    asyncio.run(main())
    assert len(reads) == 1


def test_a_moved_counter_empties_the_token_cache() -> None:
    epoch = [0]
    lookups: list[str] = []

    def lookup(token: str) -> tuple[tuple[str, str], int | None] | None:
        lookups.append(token)
        return ((E, "s1"), None)

    async def main() -> None:
        revocations = Revocations(lambda: epoch[0])
        cache = TokenCache(lookup, revocations)
        assert await cache.owner("t") == (E, "s1")
        assert await cache.owner("t") == (E, "s1")
        assert lookups == ["t"]
        epoch[0] = 1
        await asyncio.sleep(0.55)
        assert await cache.owner("t") == (E, "s1")
        assert lookups == ["t", "t"]

    asyncio.run(main())


# -- rate limits --------------------------------------------------------------------------------


def test_the_throttle_counts_failures_only_and_says_when_to_retry() -> None:
    throttle = Throttle("3/minute", "2/minute")
    for _ in range(100):
        throttle.check("10.0.0.1", "s1")  # nothing failed: never refused
    for _ in range(3):
        throttle.failed("10.0.0.1")
    with pytest.raises(TooManyFailures) as refused:
        throttle.check("10.0.0.1")
    assert refused.value.status == 429
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    throttle.check("10.0.0.2")  # another address
    throttle.failed("10.0.0.3", "s1")
    throttle.failed("10.0.0.4", "s1")
    with pytest.raises(TooManyFailures):
        throttle.check("10.0.0.5", "s1")  # the station, from anywhere
    throttle.check("10.0.0.5", "s2")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveElection]:
    with backend_database("sqlite", tmp_path) as url:
        election = make_live(url, tmp_path)
        yield election
        election.store.engine.dispose()


def _limit(spec: str) -> int:
    return int(spec.split("/")[0])


def test_bad_bearer_tokens_are_rate_limited_per_address(live: LiveElection) -> None:
    app = live_app(live.store, live.ctx, live.verifiers, b"s" * 32, clock=lambda: 9)
    good = {"Authorization": f"Bearer {live.tokens['tabriz-001']}"}
    with TestClient(app, client=("10.0.0.1", 1)) as c, TestClient(app, client=("10.0.0.2", 1)) as d:
        # successful requests never count
        for n in range(_limit(ADDRESS_FAILURES) + 5):
            assert c.get("/api/station", headers=good).status_code == 200, n
        bad = {"Authorization": "Bearer guess"}
        for n in range(_limit(ADDRESS_FAILURES)):
            assert c.get("/api/station", headers=bad).status_code == 401, n
        for path, method in (("/api/checkin", "post"), ("/api/station", "get"),
                             ("/api/conflicts", "get")):  # fmt: skip
            r = c.request(method, path, headers=bad, json={"national_code": TABRIZ_VOTERS[0],
                                                           "request_id": "req-00001"})  # fmt: skip
            assert r.status_code == 429, path
            assert set(r.json()) == {"error", "detail"}
            assert r.json()["error"] == "too_many_requests"
            assert 1 <= int(r.headers["Retry-After"]) <= 60
            assert r.headers["Cache-Control"] == "no-store"
        # refused before the token is looked at, so a right guess is not told apart
        assert c.get("/api/station", headers=good).status_code == 429
        # another address is not affected
        assert d.get("/api/station", headers=good).status_code == 200
        assert d.get("/api/station", headers=bad).status_code == 401


def test_failed_console_logins_are_rate_limited_per_address_and_per_station(
    live: LiveElection,
) -> None:
    app = live_app(live.store, live.ctx, live.verifiers, b"s" * 32, clock=lambda: 9)

    def login(c: TestClient, token: str, station: str = "") -> int:
        csrf = csrf_of(c.get("/station").text)
        return c.post("/station/login", data={"csrf": csrf, "token": token,
                                              "station": station}).status_code  # fmt: skip

    clients = [TestClient(app, client=(f"10.0.1.{n}", 1)) for n in range(3)]
    with clients[0] as a, clients[1] as b, clients[2] as z:
        # a token of another station than the one named is refused, and counts
        assert login(a, live.tokens["tabriz-002"], "tabriz-001") == 401
        for _ in range(_limit(STATION_FAILURES) - 1):
            assert login(b, "guess", "tabriz-001") == 401
        # the station is over its limit, from any address, even with its right token
        r_status = login(z, live.tokens["tabriz-001"], "tabriz-001")
        assert r_status == 429
        csrf = csrf_of(z.get("/station").text)
        r = z.post("/station/login", data={"csrf": csrf, "token": "x", "station": "tabriz-001"})
        assert r.status_code == 429
        assert 'id="login-error"' in r.text
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        # another station logs in from the same address
        assert login(z, live.tokens["tabriz-002"], "tabriz-002") == 200
        # per address: failures naming no station still count against the address
        for _ in range(_limit(ADDRESS_FAILURES) - _limit(STATION_FAILURES) + 1):
            login(b, "guess")
        assert login(b, live.tokens["tabriz-002"]) == 429


# -- the commands -------------------------------------------------------------------------------


def test_stations_issue_token_expires_at_the_end_of_polling_day_and_revoke_cuts_it_off(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = small_manifest_data()
    data["polling"] = {"ends": "2099-03-01T20:00+03:30"}
    url = f"sqlite:///{tmp_path / 'e.db'}"
    engine = make_engine(url)
    migrate(engine)
    init_election(Store(engine), parse_manifest(data))
    db = ["--db", url, "--election", E]
    assert run(["stations", "issue-token", "tabriz-001", *db]) == 0
    token = capsys.readouterr().out.strip()
    grant = grant_of_token(engine, token)
    ends = parse_manifest(data).polling.ends
    assert grant is not None
    assert ends is not None
    assert grant.expires_at == int(ends.timestamp())
    assert run(["stations", "revoke", "tabriz-001", *db]) == 0
    out, _ = capsys.readouterr()
    assert out == "revoked tabriz-001: 1 token(s) and 0 console session(s) ended\n"
    assert grant_of_token(engine, token) is None
    assert run(["stations", "revoke", "nowhere-9", *db]) != 0
    out, err = capsys.readouterr()
    assert "nowhere-9" in err
    assert "not in the manifest" in err
    assert len(err.strip().splitlines()) == 1
    engine.dispose()
