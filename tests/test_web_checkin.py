"""The check-in API over HTTP (FastAPI's test client) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.manifests import small_manifest_data
from tests.store_fixtures import BACKENDS, backend_database
from verivote.model.manifest import parse_manifest
from verivote.store import Store, make_engine, migrate
from verivote.store.roll import import_voters, issue_token
from verivote.web.checkin import SECURITY_HEADERS, create_app

TABRIZ_VOTER = "0012345679"
ARMENIAN_VOTER = "0000000019"


@pytest.fixture(params=BACKENDS)
def client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with backend_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        migrate(engine)
        manifest = parse_manifest(small_manifest_data())
        store = Store(engine)
        store.create_election(manifest.election_id, "ab" * 32, b"{}")
        for station in ("tabriz-001", "tabriz-002"):  # tabriz-003 is never opened
            store.set_polls(manifest.election_id, station, "open", b"{}")
        import_voters(
            engine,
            manifest.election_id,
            [(TABRIZ_VOTER, "tabriz", None), (ARMENIAN_VOTER, "armenians-south", "armenian-south")],
        )
        tokens = {
            s: issue_token(engine, manifest.election_id, s)
            for s in ("tabriz-001", "tabriz-002", "tabriz-003")
        }
        app = create_app(engine, manifest, clock=lambda: 9)
        with TestClient(app) as c:
            yield c, tokens
        engine.dispose()


def post(c: TestClient, token: str | None, body: object) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = c.post("/api/checkin", json=body, headers=headers)
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value
    return r.status_code, r.json()


def test_a_voter_is_accepted_once_and_refused_at_another_station(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    c, tokens = client

    def checkin(station: str, request_id: str) -> tuple[int, dict[str, object]]:
        body = {"national_code": TABRIZ_VOTER, "request_id": request_id}
        return post(c, tokens[station], body)

    assert checkin("tabriz-001", "req-0001") == (200, {"status": "accepted"})
    status, doc = checkin("tabriz-002", "req-0002")
    assert (status, doc) == (200, {"status": "already_voted"})
    # the device's retry of the first request gets the first answer, and no second record
    assert checkin("tabriz-001", "req-0001") == (200, {"status": "accepted"})
    assert c.get("/api/turnout").json()["stations"] == {"tabriz-001": 1}


def test_voters_not_on_the_roll_or_of_another_district(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    c, tokens = client
    token = tokens["tabriz-001"]
    assert post(c, token, {"national_code": "0000000027", "request_id": "req-0003"})[1] == {
        "status": "not_eligible"}  # fmt: skip
    assert post(c, token, {"national_code": ARMENIAN_VOTER, "request_id": "req-0004"})[1] == {
        "status": "wrong_district"}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"national_code": "0012345676", "request_id": "req-0005"}, "check digit"),
        ({"national_code": "12345", "request_id": "req-0005"}, "national_code"),
        ({"national_code": TABRIZ_VOTER}, "request_id"),
        ({"national_code": TABRIZ_VOTER, "request_id": "x y z !!!!"}, "request_id"),
        ({"national_code": TABRIZ_VOTER, "request_id": "req-0005", "extra": 1}, "extra"),
        ("not json at all", "body"),
    ],
)
def test_bad_input_is_a_400_with_a_json_error_and_changes_nothing(
    client: tuple[TestClient, dict[str, str]], body: object, detail: str
) -> None:
    c, tokens = client
    status, doc = post(c, tokens["tabriz-001"], body)
    assert status == 400
    assert doc["error"] == "bad_request"
    assert detail in str(doc["detail"])
    assert c.get("/api/turnout").json()["stations"] == {}


@pytest.mark.parametrize("token", [None, "not-a-station"])
def test_a_station_token_is_required(
    client: tuple[TestClient, dict[str, str]], token: str | None
) -> None:
    c, _ = client
    status, doc = post(c, token, {"national_code": TABRIZ_VOTER, "request_id": "req-0006"})
    assert status == 401
    assert doc["error"] == "unauthorized"
    assert c.get("/api/turnout").json()["stations"] == {}


def test_no_check_in_at_a_station_never_opened_nor_once_it_has_closed(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    """Issue 15: a station never opened took check-ins, and a closed one took them for up to
    2 s (the server's list of closed stations was read at most every 2 s)."""
    c, tokens = client
    body = {"national_code": TABRIZ_VOTER, "request_id": "req-0101"}
    assert post(c, tokens["tabriz-003"], body)[0] == 409  # never opened
    other = {"national_code": "0000000027", "request_id": "req-0102"}
    assert post(c, tokens["tabriz-001"], other)[1] == {"status": "not_eligible"}
    engine = c.app.app.station_of.__self__.engine  # type: ignore[attr-defined]
    Store(engine).set_polls("test-2024", "tabriz-001", "closed", b"{}")
    status, doc = post(c, tokens["tabriz-001"], body)  # at once, not 2 s later
    assert (status, doc["error"]) == (409, "conflict")
    assert c.get("/api/turnout").json()["stations"] == {}


def test_turnout_by_station_district_and_province(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    c, tokens = client
    post(c, tokens["tabriz-002"], {"national_code": TABRIZ_VOTER, "request_id": "req-0007"})
    assert c.get("/api/turnout").json() == {
        "stations": {"tabriz-002": 1},
        "districts": {"tabriz": 1},
        "provinces": {"East Azerbaijan": 1},
    }


def test_oversized_and_non_json_bodies_are_refused_unread(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    c, tokens = client
    auth = {"Authorization": f"Bearer {tokens['tabriz-001']}"}
    big = c.post("/api/checkin", content=b"{" + b" " * 5000 + b"}",
                 headers={**auth, "Content-Type": "application/json"})  # fmt: skip
    assert (big.status_code, big.json()["error"]) == (413, "too_large")
    form = c.post("/api/checkin", data={"national_code": TABRIZ_VOTER}, headers=auth)
    assert (form.status_code, form.json()["error"]) == (415, "unsupported_media_type")
    for r in (big, form):
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert c.get("/api/turnout").json()["stations"] == {}


@pytest.mark.slow
def test_the_checkin_benchmark_drives_a_real_server_and_counts_no_double_vote(
    tmp_path: Path,
) -> None:
    from verivote.web.benchcheckin import measure_checkin

    with backend_database("postgresql", tmp_path) as url:
        figures = measure_checkin(url, voters=2000, clients=4, seconds=2)
    assert figures["double_votes"] == 0
    assert figures["errors"] == 0
    assert figures["statuses"]["accepted"] > 0
    assert figures["checkins_per_s"] > 0


@pytest.mark.slow
def test_the_checkin_benchmark_command_leaves_nothing_in_the_database(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from sqlalchemy import text

    from tests.store_fixtures import POSTGRES_URL
    from verivote.cli.app import run

    def schemas() -> tuple[set[str], int]:
        """Every table of the database (schema.table) and how many elections it holds, but
        for the scratch schemas of tests that may run beside this one (their own prefix:
        benchmarks use `verivote_bench`)."""
        engine = make_engine(POSTGRES_URL)
        with engine.begin() as conn:
            tables = {
                f"{schema}.{name}"
                for schema, name in conn.execute(text(
                    "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN "
                    "('pg_catalog', 'information_schema') "
                    "AND schemaname NOT LIKE 'verivote\\_scratch\\_%'"
                ))
            }  # fmt: skip
            elections = sum(
                conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in tables
                if t.endswith(".elections")
            )
        engine.dispose()
        return tables, elections

    before = schemas()
    status = run(["bench", "checkin", "--db", POSTGRES_URL, "--voters", "1000", "--clients", "2",
                  "--seconds", "1", "--workers", "1", "--json"])  # fmt: skip
    assert status == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["double_votes"], figures["errors"]) == (0, 0)
    assert schemas() == before


def test_public_turnout_is_counted_once_per_interval_not_per_visitor(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    c, tokens = client
    assert c.get("/api/turnout").json()["stations"] == {}
    post(c, tokens["tabriz-001"], {"national_code": TABRIZ_VOTER, "request_id": "req-0101"})
    # within the interval visitors get the count already made (at most 5 s old)
    assert c.get("/api/turnout").json()["stations"] == {}


def test_a_kept_value_is_computed_again_once_its_time_is_up() -> None:
    import time

    from verivote.web.ttl import Ttl

    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    ttl = Ttl(0.2)
    assert ttl.peek("k") is None
    assert (ttl.get("k", compute), ttl.get("k", compute), ttl.peek("k")) == (1, 1, 1)
    time.sleep(0.25)
    assert ttl.peek("k") is None
    assert ttl.get("k", compute) == 2
