"""Attack (issue 15): a station probing whether, where and when anyone voted.

Any station's staff hold a station token. Checking a national code in at their own station,
they used to hear `already_voted` with the station and the hour of that voter's first check-in:
type a neighbour's code and learn that they voted, at which station and at what time. Every
answer a station gets (the check-in API, an offline upload's results, the console page and the
device's command line) must say only that the voter was already checked in; the supervisors'
conflict list, for which the supervisors hold their own tokens, keeps where and when.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.site_fixtures import TABRIZ_VOTERS, LiveElection, csrf_of, make_live, request_id_of
from tests.store_fixtures import BACKENDS, backend_database
from verivote.cli.app import app as cli
from verivote.election.polls import open_polls
from verivote.store.roll import issue_supervisor_token
from verivote.web.app import live_app
from verivote.web.serving import in_thread

FIRST_STATION, HOUR = "tabriz-001", 9
PROBED = TABRIZ_VOTERS[0]
_ANSWER = re.compile(r'<div [^>]*id="checkin-answer"[^>]*>(.*?)</div>', re.S)


@pytest.fixture(params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveElection]:
    with backend_database(request.param, tmp_path) as url:
        election = make_live(url, tmp_path)
        open_polls(election.store, election.ctx, ["tabriz-002"])
        yield election
        election.store.engine.dispose()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _leaks(text: str) -> bool:
    """Whether a station's answer names the first station or the hour (either script)."""
    return FIRST_STATION in text or re.search(r"\b9\b|۹", text) is not None


def test_a_station_learns_only_that_a_voter_was_checked_in(
    live: LiveElection, tmp_path: Path
) -> None:
    app = live_app(live.store, live.ctx, live.verifiers, clock=lambda: HOUR)
    prober = live.tokens["tabriz-002"]
    with TestClient(app) as c:
        first = c.post("/api/checkin", json={"national_code": PROBED, "request_id": "first-01"},
                       headers=_auth(live.tokens[FIRST_STATION]))  # fmt: skip
        assert first.json() == {"status": "accepted"}

        # The check-in API.
        probe = c.post("/api/checkin", json={"national_code": PROBED, "request_id": "probe-01"},
                       headers=_auth(prober))  # fmt: skip
        assert probe.json() == {"status": "already_voted"}

        # An offline upload (the hour is the prober's own, 10).
        upload = c.post(
            "/api/checkin/offline", headers=_auth(prober),
            json={"records": [{"national_code": PROBED, "request_id": "probe-02", "hour": 10}]},
        )  # fmt: skip
        [result] = upload.json()["results"]
        assert result["status"] == "already_voted"
        assert "station" not in result
        assert "hour" not in result
        assert not _leaks(upload.text)

        # The console page.
        page = c.get("/station").text
        page = c.post("/station/login", data={"csrf": csrf_of(page), "token": prober}).text
        form = {"csrf": csrf_of(page), "national_code": PROBED, "request_id": request_id_of(page)}
        page = c.post("/station/checkin", data=form).text
        answer = _ANSWER.search(page)
        assert answer is not None
        assert 'data-status="already_voted"' in page
        assert not _leaks(answer.group(1)), answer.group(1)

        # The supervisors still see where and when, for the conflict they must settle.
        supervisor = issue_supervisor_token(live.store.engine, live.ctx.election_id, "Ms S")
        [kept] = c.get("/api/conflicts", headers=_auth(supervisor)).json()["conflicts"]
        assert (kept["first_station_id"], kept["first_hour"]) == (FIRST_STATION, HOUR)

    # The device's command line, against a real server.
    token_file = tmp_path / "token"
    token_file.write_text(prober)
    token_file.chmod(0o600)
    with in_thread(app) as base:
        said = CliRunner().invoke(cli, [
            "device", "checkin", PROBED, "--server", base, "--token-file", str(token_file),
            "--journal", str(tmp_path / "journal.jsonl"),
        ])  # fmt: skip
    assert said.exit_code == 3, said.output
    assert "already checked in" in said.output
    assert not _leaks(said.output), said.output
