"""A database outage (issue 15, "Faults"): every route answers 503 with Retry-After in its own
error shape, the log gets one line when it starts and one when it ends, and a station's device
keeps the check-in in its journal.

The outages are real ones: a PostgreSQL engine pointed at a port where nothing listens, and a
SQLite database whose folder is not there (then put back, for the recovery).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.site_fixtures import TABRIZ_VOTERS, LiveElection, make_live
from verivote.polling import station
from verivote.store import Store, make_engine
from verivote.web.app import live_app
from verivote.web.serving import in_thread

DEAD_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/test"
REQUESTS = 4


@pytest.fixture
def election(tmp_path: Path) -> Iterator[LiveElection]:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    live = make_live(url, tmp_path)
    yield live
    live.store.engine.dispose()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _every_route(c: TestClient, token: str) -> list[tuple[str, Response]]:
    """One request to each kind of route: the check-in fast path, the check-in API, the site
    API, the station API, the guardians' API, and pages."""
    checkin = {"national_code": TABRIZ_VOTERS[0], "request_id": "outage-01"}
    offline = {"records": [{**checkin, "hour": 9}]}
    return [
        ("api", c.post("/api/checkin", json=checkin, headers=_auth(token))),
        ("api", c.post("/api/checkin/offline", json=offline, headers=_auth(token))),
        ("api", c.get("/api/conflicts", headers=_auth(token))),
        ("api", c.get("/api/turnout")),
        ("api", c.get("/api/participation")),
        ("api", c.get("/api/board/entries/0")),
        ("api", c.get("/api/board/entries?start=0")),
        ("api", c.get("/api/station", headers=_auth(token))),
        ("api", c.get("/api/ceremony")),
        ("page", c.get("/")),
        ("page", c.get("/board")),
    ]


def _assert_unavailable(kind: str, r: Response) -> None:
    where = (r.request.method, r.request.url.path, r.status_code, r.text[:200])
    assert r.status_code == 503, where
    assert r.headers.get("retry-after", "").isdigit(), where
    if kind == "api":
        assert r.headers["content-type"] == "application/json", where
        assert r.json()["error"] == "unavailable", where
        assert set(r.json()) == {"error", "detail"}, where
    else:
        assert r.headers["content-type"].startswith("text/html"), where
        assert 'id="error"' in r.text, where
        assert "Traceback" not in r.text, where


def _logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_postgresql_unreachable_is_a_503_everywhere_logged_once(
    election: LiveElection, caplog: pytest.LogCaptureFixture
) -> None:
    dead = Store(make_engine(DEAD_POSTGRES))
    caplog.set_level(logging.WARNING)
    try:
        with TestClient(live_app(dead, election.ctx, election.verifiers, clock=lambda: 9)) as c:
            for _ in range(REQUESTS):
                for kind, r in _every_route(c, election.tokens["tabriz-001"]):
                    _assert_unavailable(kind, r)
    finally:
        dead.engine.dispose()
    [line] = _logged(caplog)
    assert "database unreachable" in line.getMessage()
    assert TABRIZ_VOTERS[0] not in caplog.text


def test_sqlite_unreachable_then_back_logs_the_outage_twice_in_all(
    election: LiveElection, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "moved"
    gone = Store(make_engine(f"sqlite:///{folder / 'live.db'}"))
    caplog.set_level(logging.WARNING)
    app = live_app(gone, election.ctx, election.verifiers, clock=lambda: 9)
    try:
        with TestClient(app) as c:
            for _ in range(REQUESTS):
                for kind, r in _every_route(c, election.tokens["tabriz-001"]):
                    _assert_unavailable(kind, r)
            assert len(_logged(caplog)) == 1
            # The database is back (the same file, in the folder the server reads).
            election.store.engine.dispose()
            folder.mkdir()
            shutil.copy(tmp_path / "live.db", folder / "live.db")
            assert c.get("/api/turnout").status_code == 200
            checkin = {"national_code": TABRIZ_VOTERS[1], "request_id": "back-0001"}
            r = c.post("/api/checkin", json=checkin, headers=_auth(election.tokens["tabriz-001"]))
            assert r.json() == {"status": "accepted"}
    finally:
        gone.engine.dispose()
    down, back = _logged(caplog)
    assert "database unreachable" in down.getMessage()
    assert "reachable again" in back.getMessage()


def test_a_device_keeps_a_check_in_made_during_an_outage_in_its_journal(
    election: LiveElection, tmp_path: Path
) -> None:
    dead = Store(make_engine(DEAD_POSTGRES))
    journal = tmp_path / "journal.jsonl"
    try:
        app = live_app(dead, election.ctx, election.verifiers, clock=lambda: 9)
        with in_thread(app) as base:
            server = station.Server(base, election.tokens["tabriz-001"])
            answer = station.check_in(server, journal, TABRIZ_VOTERS[2], lambda: 9)
    finally:
        dead.engine.dispose()
    assert answer["status"] == "recorded_offline"
    assert answer["reason"] == "the server failed (HTTP 503; retry after 5 s)"
    assert [r["national_code"] for r in station.pending(journal)] == [TABRIZ_VOTERS[2]]
