"""Outages (issue 7): a station records check-ins offline and uploads them later; the server
reconciles them, keeps every refused record for the supervisors, and loses nothing."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.manifests import small_manifest_data
from tests.store_fixtures import BACKENDS, backend_database
from verivote.cli.app import app as cli
from verivote.cli.app import run
from verivote.election.polls import open_polls
from verivote.election.service import init_election, load_context
from verivote.model.manifest import parse_manifest
from verivote.polling import station
from verivote.polling.roll import check_digit
from verivote.store import Store, make_engine, migrate
from verivote.store.roll import import_voters, issue_supervisor_token, issue_token
from verivote.web.checkin import create_app

VOTER, OTHER, ARMENIAN = "0012345679", "0000000027", "0000000019"
UNLISTED = "0000000035"  # a valid code that is not on the roll


def _election(url: str) -> tuple[dict[str, str], str]:
    engine = make_engine(url)
    migrate(engine)
    manifest = parse_manifest(small_manifest_data())
    store = Store(engine)
    init_election(store, manifest)
    # check-ins only at open stations (issue 15); tabriz-003 stays unopened
    open_polls(store, load_context(store, manifest.election_id), ["tabriz-001", "tabriz-002"])
    import_voters(engine, manifest.election_id, [
        (VOTER, "tabriz", None), (OTHER, "tabriz", None),
        (ARMENIAN, "armenians-south", "armenian-south"),
    ])  # fmt: skip
    tokens = {s: issue_token(engine, manifest.election_id, s) for s in ("tabriz-001", "tabriz-002")}
    tokens["ghost"] = issue_token(engine, manifest.election_id, "ghost-station")
    supervisor = issue_supervisor_token(engine, manifest.election_id, "Ms Supervisor")
    engine.dispose()
    return tokens, supervisor


@pytest.fixture(params=BACKENDS)
def api(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[TestClient, dict[str, str], str]]:
    with backend_database(request.param, tmp_path) as url:
        tokens, supervisor = _election(url)
        engine = make_engine(url)
        app = create_app(engine, parse_manifest(small_manifest_data()), clock=lambda: 14)
        with TestClient(app) as client:
            yield client, tokens, supervisor
        engine.dispose()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_voter_accepted_offline_at_two_stations_is_kept_twice_and_reported(
    api: tuple[TestClient, dict[str, str], str],
) -> None:
    c, tokens, supervisor = api
    # tabriz-002 was online and checked the voter in at 14:00 ...
    online = c.post("/api/checkin", json={"national_code": VOTER, "request_id": "online-1"},
                    headers=auth(tokens["tabriz-002"]))  # fmt: skip
    assert online.json() == {"status": "accepted"}
    # ... while tabriz-001, cut off, let the same voter vote at 10:00 and uploads it now
    records = [
        {"national_code": VOTER, "request_id": "offline-1", "hour": 10},
        {"national_code": OTHER, "request_id": "offline-2", "hour": 10},
        {"national_code": UNLISTED, "request_id": "offline-3", "hour": 11},
        {"national_code": ARMENIAN, "request_id": "offline-4", "hour": 11},
    ]
    report = c.post("/api/checkin/offline", json={"records": records},
                    headers=auth(tokens["tabriz-001"])).json()  # fmt: skip
    assert (report["accepted"], report["conflicts"], report["errors"]) == (1, 3, 0)
    assert [(r["status"], r["conflict"]) for r in report["results"]] == [
        ("already_voted", True), ("accepted", False), ("not_eligible", True),
        ("wrong_district", True)]  # fmt: skip
    assert "station" not in report["results"][0]  # where and when: the supervisors' only

    seen = c.get("/api/conflicts", headers=auth(supervisor)).json()
    assert seen["count"] == 3
    double = next(x for x in seen["conflicts"] if x["kind"] == "already_voted")
    assert double == {"kind": "already_voted", "national_code": VOTER, "station_id": "tabriz-001",
                      "hour": 10, "first_station_id": "tabriz-002", "first_hour": 14,
                      "request_id": "offline-1"}  # fmt: skip
    # the accepted offline record counts in turnout, with the station's own hour kept
    assert c.get("/api/turnout").json()["stations"] == {"tabriz-001": 1, "tabriz-002": 1}

    # uploading the same journal again (the answer was lost) changes nothing
    again = c.post("/api/checkin/offline", json={"records": records},
                   headers=auth(tokens["tabriz-001"])).json()  # fmt: skip
    assert [r["status"] for r in again["results"]] == [r["status"] for r in report["results"]]
    assert c.get("/api/conflicts", headers=auth(supervisor)).json()["count"] == 3
    assert c.get("/api/turnout").json()["stations"] == {"tabriz-001": 1, "tabriz-002": 1}


def test_conflicts_are_for_supervisors_only(api: tuple[TestClient, dict[str, str], str]) -> None:
    c, tokens, _ = api
    for headers in ({}, auth(tokens["tabriz-001"]), auth("made-up")):
        r = c.get("/api/conflicts", headers=headers)
        assert (r.status_code, r.json()["error"]) == (401, "unauthorized")


def test_an_upload_with_a_malformed_code_is_refused_whole(
    api: tuple[TestClient, dict[str, str], str],
) -> None:
    c, tokens, supervisor = api
    records = [{"national_code": OTHER, "request_id": "offline-5", "hour": 9},
               {"national_code": "0012345670", "request_id": "offline-6", "hour": 9}]  # fmt: skip
    r = c.post(
        "/api/checkin/offline", json={"records": records}, headers=auth(tokens["tabriz-001"])
    )
    assert r.status_code == 400
    assert "records [1]" in r.json()["detail"]
    bad_hour = c.post("/api/checkin/offline", headers=auth(tokens["tabriz-001"]), json={
        "records": [{"national_code": OTHER, "request_id": "offline-7", "hour": 24}]})  # fmt: skip
    assert bad_hour.status_code == 400
    assert c.get("/api/turnout").json()["stations"] == {}
    assert c.get("/api/conflicts", headers=auth(supervisor)).json()["count"] == 0


def test_a_station_missing_from_the_manifest_is_refused(
    api: tuple[TestClient, dict[str, str], str],
) -> None:
    c, tokens, _ = api
    r = c.post("/api/checkin", json={"national_code": VOTER, "request_id": "ghost-001"},
               headers=auth(tokens["ghost"]))  # fmt: skip
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")
    assert "ghost-station" in r.json()["detail"]
    assert c.get("/api/turnout").json()["stations"] == {}


def test_other_methods_on_the_checkin_path_get_a_json_405(
    api: tuple[TestClient, dict[str, str], str],
) -> None:
    c, _, _ = api
    r = c.get("/api/checkin")
    assert (r.status_code, r.json()["error"]) == (405, "method_not_allowed")
    assert r.headers["X-Frame-Options"] == "DENY"


def test_the_openapi_description_lists_every_endpoint(
    api: tuple[TestClient, dict[str, str], str],
) -> None:
    c, _, _ = api
    paths = c.get("/openapi.json").json()["paths"]
    assert {"/api/checkin", "/api/checkin/offline", "/api/conflicts", "/api/turnout"} <= set(paths)
    assert "CheckinRequest" in json.dumps(paths["/api/checkin"])


# --- the station's device, against a real server ---


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], str, str]]:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    tokens, supervisor = _election(url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = make_engine(url)
    server = uvicorn.Server(uvicorn.Config(
        create_app(engine, parse_manifest(small_manifest_data()), clock=lambda: 15),
        host="127.0.0.1", port=port, log_level="warning", access_log=False,
    ))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}", tokens, supervisor, url
    server.should_exit = True
    thread.join(10)
    engine.dispose()


def _token_file(tmp_path: Path, name: str, token: str) -> Path:
    path = tmp_path / name
    path.write_text(token)
    path.chmod(0o600)
    return path


def test_a_device_cut_off_records_locally_and_its_upload_reports_the_conflict(
    live: tuple[str, dict[str, str], str, str], tmp_path: Path
) -> None:
    base, tokens, _, db = live
    runner = CliRunner()
    journal = tmp_path / "journal.jsonl"
    t1 = _token_file(tmp_path, "t1", tokens["tabriz-001"])
    t2 = _token_file(tmp_path, "t2", tokens["tabriz-002"])
    with socket.socket() as s:  # a port where nothing listens: the network is down
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    cut_off = runner.invoke(
        cli,
        [
            "device",
            "checkin",
            VOTER,
            "--server",
            dead,
            "--token-file",
            str(t1),
            "--journal",
            str(journal),
            "--json",
        ],
    )
    assert cut_off.exit_code == 0, cut_off.output
    assert json.loads(cut_off.output)["status"] == "recorded_offline"
    assert runner.invoke(cli, ["device", "pending", "--journal", str(journal)]).output == "1\n"

    online = runner.invoke(cli, ["device", "checkin", VOTER, "--server", base, "--token-file",
                                 str(t2), "--journal", str(tmp_path / "j2.jsonl")])  # fmt: skip
    assert online.exit_code == 0, online.output
    assert "accepted" in online.output
    refused = runner.invoke(cli, ["device", "checkin", VOTER, "--server", base, "--token-file",
                                  str(t2), "--journal", str(tmp_path / "j2.jsonl")])  # fmt: skip
    assert refused.exit_code == 3
    assert "already checked in" in refused.output

    uploaded = runner.invoke(cli, ["device", "upload", "--server", base, "--token-file", str(t1),
                                   "--journal", str(journal)])  # fmt: skip
    assert uploaded.exit_code == 0, uploaded.output
    assert "uploaded 1: 0 accepted, 1 kept as conflicts" in uploaded.output
    assert runner.invoke(cli, ["device", "pending", "--journal", str(journal)]).output == "0\n"
    again = runner.invoke(cli, ["device", "upload", "--server", base, "--token-file", str(t1),
                                "--journal", str(journal)])  # fmt: skip
    assert "uploaded 0" in again.output

    listed = runner.invoke(cli, ["supervisors", "conflicts", "--db", db, "--json"])
    assert listed.exit_code == 0, listed.output
    [conflict] = json.loads(listed.output)
    assert (conflict["station_id"], conflict["first_station_id"]) == ("tabriz-001", "tabriz-002")


def test_a_token_file_readable_by_others_is_refused(
    live: tuple[str, dict[str, str], str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, tokens, _, _ = live
    loose = tmp_path / "loose"
    loose.write_text(tokens["tabriz-001"])
    loose.chmod(0o644)
    status = run(["device", "checkin", VOTER, "--server", base, "--token-file", str(loose),
                  "--journal", str(tmp_path / "j.jsonl")])  # fmt: skip
    assert status == 1
    assert "0600" in capsys.readouterr().err
    assert not (tmp_path / "j.jsonl").exists()


def test_a_journal_line_cut_short_by_a_crash_is_not_counted(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    station.append(journal, {"record": {"national_code": VOTER, "request_id": "r-00000001",
                                        "hour": 9}})  # fmt: skip
    with journal.open("a") as fh:
        fh.write('{"record": {"national_code": "00')  # the crash
    assert [r["request_id"] for r in station.pending(journal)] == ["r-00000001"]
    assert journal.stat().st_mode & 0o777 == 0o600


def test_a_station_whose_polls_closed_checks_no_one_in_but_still_uploads(
    tmp_path: Path,
) -> None:
    from verivote.election.polls import close_polls, open_polls
    from verivote.election.service import load_context

    url = f"sqlite:///{tmp_path / 'closed.db'}"
    tokens, _ = _election(url)
    engine = make_engine(url)
    store = Store(engine)
    manifest = parse_manifest(small_manifest_data())
    ctx = load_context(store, manifest.election_id)
    open_polls(store, ctx, ["tabriz-001", "tabriz-002"])
    close_polls(store, ctx, ["tabriz-001"])
    with TestClient(create_app(engine, manifest, clock=lambda: 19)) as c:
        late = c.post("/api/checkin", json={"national_code": VOTER, "request_id": "late-0001"},
                      headers=auth(tokens["tabriz-001"]))  # fmt: skip
        assert (late.status_code, late.json()["detail"]) == (
            409, "the polls are not open at tabriz-001")  # fmt: skip
        still_open = c.post("/api/checkin", headers=auth(tokens["tabriz-002"]),
                            json={"national_code": VOTER, "request_id": "open-0001"})  # fmt: skip
        assert still_open.json() == {"status": "accepted"}
        record = {"national_code": OTHER, "request_id": "made-while-open", "hour": 16}
        upload = c.post("/api/checkin/offline", json={"records": [record]},
                        headers=auth(tokens["tabriz-001"]))  # fmt: skip
        assert upload.json()["accepted"] == 1
    engine.dispose()


# --- many conflicts (issue 15) ---


def _unlisted(n: int) -> str:
    """The n-th valid national code that is not on the roll."""
    nine = f"{500_000_000 + n:09d}"
    return nine + check_digit(nine)


def test_the_conflicts_come_in_pages_with_a_cursor(
    api: tuple[TestClient, dict[str, str], str],
) -> None:
    c, tokens, supervisor = api
    records = [{"national_code": _unlisted(n), "request_id": f"page-{n:04d}", "hour": 10 + n % 3}
               for n in range(5)]  # fmt: skip
    upload = c.post("/api/checkin/offline", json={"records": records},
                    headers=auth(tokens["tabriz-001"]))  # fmt: skip
    assert upload.json()["conflicts"] == 5
    whole = c.get("/api/conflicts", headers=auth(supervisor)).json()
    assert (whole["count"], len(whole["conflicts"]), whole["next"]) == (5, 5, None)
    seen: list[dict[str, object]] = []
    url = "/api/conflicts?limit=2"
    while True:
        page = c.get(url, headers=auth(supervisor)).json()
        assert set(page) == {"election_id", "count", "conflicts", "next"}
        assert page["count"] == 5
        assert len(page["conflicts"]) <= 2
        seen += page["conflicts"]
        if page["next"] is None:
            break
        url = f"/api/conflicts?limit=2&after={page['next']}"
    assert seen == whole["conflicts"]
    # the last three: 12, {"a":1} and ["a","b","c"], base64url
    for bad in (
        "limit=0",
        f"limit={10**6}",
        "after=not-a-cursor",
        "after=" + "A" * 5000,
        "after=MTI",
        "after=eyJhIjoxfQ",
        "after=WyJhIiwiYiIsImMiXQ",
    ):
        r = c.get(f"/api/conflicts?{bad}", headers=auth(supervisor))
        assert r.status_code == 400, bad
        assert set(r.json()) == {"error", "detail"}


def test_an_upload_that_would_be_mostly_conflicts_is_refused_whole(
    api: tuple[TestClient, dict[str, str], str],
) -> None:
    # 2,000 records none of which is on the roll once added 2,000 rows to the supervisors'
    # list in one request.
    c, tokens, supervisor = api
    records = [{"national_code": _unlisted(n), "request_id": f"flood-{n:05d}", "hour": 12}
               for n in range(2000)]  # fmt: skip
    records[0] = {"national_code": OTHER, "request_id": "flood-real", "hour": 12}
    r = c.post("/api/checkin/offline", json={"records": records},
               headers=auth(tokens["tabriz-001"]))  # fmt: skip
    assert r.status_code == 422, r.text[:300]
    assert set(r.json()) == {"error", "detail"}
    assert c.get("/api/conflicts", headers=auth(supervisor)).json()["count"] == 0
    # nothing of it was written: the one voter on the roll is still free to check in
    again = c.post("/api/checkin", json={"national_code": OTHER, "request_id": "after-flood"},
                   headers=auth(tokens["tabriz-002"]))  # fmt: skip
    assert again.json() == {"status": "accepted"}
