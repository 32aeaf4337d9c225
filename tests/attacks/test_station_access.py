"""Attack: a station's access that cannot be cut off (issue 15, item 4), on SQLite and
PostgreSQL.

A stolen station token or console session must stop working when the station is revoked
(`verivote stations revoke`), on every server process within a second; a logged-out session
must be worthless even to whoever copied its cookie; and a revoked token must not buy a fresh
console session through a cache that still trusts it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.site_fixtures import TABRIZ_VOTERS, LiveElection, csrf_of, make_live, request_id_of
from tests.store_fixtures import BACKENDS, backend_database
from verivote.store.access import issue_token, revoke_station
from verivote.web.app import live_app

STATION = "tabriz-001"


@pytest.fixture(params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveElection]:
    with backend_database(request.param, tmp_path) as url:
        election = make_live(url, tmp_path)
        yield election
        election.store.engine.dispose()


def _client(live: LiveElection, secret: bytes = b"s" * 32) -> TestClient:
    """One server process (its own token cache), sharing the database and session secret."""
    return TestClient(live_app(live.store, live.ctx, live.verifiers, secret, clock=lambda: 9))


def _checkin(c: TestClient, token: str, n: int) -> int:
    body = {"national_code": TABRIZ_VOTERS[n], "request_id": f"req-{n:05d}"}
    r = c.post("/api/checkin", json=body, headers={"Authorization": f"Bearer {token}"})
    return r.status_code


def _login(c: TestClient, token: str) -> tuple[int, str]:
    csrf = csrf_of(c.get("/station").text)
    r = c.post("/station/login", data={"csrf": csrf, "token": token})
    return r.status_code, r.text


def _console_checkin(c: TestClient, page: str, n: int) -> int:
    r = c.post("/station/checkin", data={"csrf": csrf_of(page), "national_code": TABRIZ_VOTERS[n],
                                         "request_id": request_id_of(page)})  # fmt: skip
    return r.status_code


def test_a_revoked_token_fails_on_every_server_process_within_a_second(
    live: LiveElection,
) -> None:
    token = live.tokens[STATION]
    with _client(live) as one, _client(live) as two:
        # both processes have used the token, so both trust it from their caches
        assert _checkin(one, token, 0) == 200
        assert _checkin(two, token, 1) == 200
        revoke_station(live.store.engine, live.ctx.election_id, STATION)
        time.sleep(1.0)
        assert _checkin(one, token, 2) == 401
        assert _checkin(two, token, 3) == 401
        # the other station's token is untouched
        assert _checkin(one, live.tokens["tabriz-002"], 4) == 200


def test_an_expired_token_fails_at_once_even_from_the_cache(live: LiveElection) -> None:
    ends = int(time.time()) + 2
    token = issue_token(live.store.engine, live.ctx.election_id, STATION, expires_at=ends)
    with _client(live) as c:
        assert _checkin(c, token, 0) == 200
        time.sleep(max(0.0, ends - time.time()) + 0.05)
        assert _checkin(c, token, 1) == 401
        assert _login(c, token)[0] == 401


def test_a_revoked_token_cannot_log_in_inside_the_cache_window(live: LiveElection) -> None:
    token = live.tokens[STATION]
    with _client(live) as c:
        assert _checkin(c, token, 0) == 200  # the token is in this process's cache
        revoke_station(live.store.engine, live.ctx.election_id, STATION)
        status, page = _login(c, token)  # at once, well inside any cache window
        assert status == 401
        assert 'id="checkin-form"' not in page


def test_revoking_a_station_ends_its_console_sessions_on_every_process(
    live: LiveElection,
) -> None:
    with _client(live) as one, _client(live) as two:
        status, page = _login(one, live.tokens[STATION])
        assert status == 200
        # the session cookie is good on the other worker too (the same secret)
        two.cookies.set("vv_station", one.cookies["vv_station"])
        two.cookies.set("vv_csrf", one.cookies["vv_csrf"])
        assert 'id="checkin-form"' in two.get("/station").text
        revoke_station(live.store.engine, live.ctx.election_id, STATION)
        for c in (one, two):
            assert 'id="checkin-form"' not in c.get("/station").text
            assert _console_checkin(c, page, 0) == 401
        assert one.get("/api/participation").json()["national"] == 0


def test_a_copied_session_cookie_is_worthless_after_logout(live: LiveElection) -> None:
    with _client(live) as c, _client(live) as thief:
        status, page = _login(c, live.tokens[STATION])
        assert status == 200
        stolen = {name: c.cookies[name] for name in ("vv_station", "vv_csrf")}
        r = c.post("/station/logout", data={"csrf": csrf_of(page)})
        assert r.status_code == 200  # the login form, after the redirect
        for name, value in stolen.items():
            thief.cookies.set(name, value)
        assert 'id="checkin-form"' not in thief.get("/station").text
        assert _console_checkin(thief, page, 0) == 401
        assert thief.get("/api/participation").json()["national"] == 0
