"""The website served from the election's database (`verivote serve --db URL --election ID`),
on SQLite and PostgreSQL: turnout from check-ins, the tracker against the latest checkpoint,
the station console (token, session cookie, CSRF, check-in, polls), and the check-in API
composed into the same application."""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.sealing_helpers import authority_key
from tests.site_fixtures import (
    ARMENIAN_VOTER,
    NOT_ON_ROLL,
    TABRIZ_VOTERS,
    LiveElection,
    counted_database,
    csrf_of,
    make_live,
    request_id_of,
)
from tests.store_fixtures import BACKENDS, backend_database
from tests.verify_fixtures import VerifyElection
from verivote.board.inclusion import DistrictInclusion, check_in_district
from verivote.board.merkle import leaf_hash
from verivote.board.record import check_record
from verivote.election.district_logs import seal_districts
from verivote.election.publishing import check_inclusion, export_record, make_checkpoint
from verivote.election.service import load_context
from verivote.model.canonical import canonical_json
from verivote.store import Store, make_engine
from verivote.verify.loader import load_board
from verivote.web.app import live_app, read_verifiers
from verivote.web.site import views
from verivote.web.site.guard import PAGE_CSP
from verivote.web.site.live_board import RunTypes


@pytest.fixture(params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveElection]:
    with backend_database(request.param, tmp_path) as url:
        election = make_live(url, tmp_path)
        yield election
        election.store.engine.dispose()


def _client(election: LiveElection, https: bool = False) -> TestClient:
    app = live_app(election.store, election.ctx, election.verifiers, clock=lambda: 9)
    return TestClient(app, base_url="https://testserver" if https else "http://testserver")


def _login(c: TestClient, token: str) -> str:
    """Log in at the console; returns the console page."""
    csrf = csrf_of(c.get("/station").text)
    r = c.post("/station/login", data={"csrf": csrf, "token": token})
    assert r.status_code == 200, r.text[:500]
    assert 'id="checkin-form"' in r.text
    return r.text


def _check_in(c: TestClient, page: str, code: str) -> tuple[int, str]:
    r = c.post("/station/checkin", data={"csrf": csrf_of(page), "national_code": code,
                                         "request_id": request_id_of(page)})  # fmt: skip
    return r.status_code, r.text


def test_a_station_checks_voters_in_from_the_console(live: LiveElection) -> None:
    with _client(live) as c:
        page = _login(c, live.tokens["tabriz-001"])
        status, page = _check_in(c, page, TABRIZ_VOTERS[0])
        assert status == 200
        assert 'data-status="accepted"' in page
        # The same voter again, at any station: refused, and no more than that (issue 15:
        # where and when are for the supervisors, tests/attacks/test_checkin_probe.py).
        status, page = _check_in(c, page, TABRIZ_VOTERS[0])
        assert status == 200
        assert 'data-status="already_voted"' in page
        assert "پذیرفته نشد" in page
        # Persian digits typed by the staff are read as the national code they are.
        persian = TABRIZ_VOTERS[1].translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
        status, page = _check_in(c, page, persian)
        assert 'data-status="accepted"' in page
        status, page = _check_in(c, page, NOT_ON_ROLL)
        assert 'data-status="not_eligible"' in page
        status, page = _check_in(c, page, ARMENIAN_VOTER)
        assert 'data-status="wrong_district"' in page
        status, page = _check_in(c, page, "0012345670")
        assert status == 400
        assert 'id="console-error"' in page
        assert 'id="station-checkins">۲<' in page
        # The check-ins are the API's: a second station hears the same answer over JSON.
        r = c.post("/api/checkin", json={"national_code": TABRIZ_VOTERS[0],
                                         "request_id": "api-0001"},
                   headers={"Authorization": f"Bearer {live.tokens['tabriz-002']}"})  # fmt: skip
        assert r.json() == {"status": "already_voted"}
        assert c.get("/api/turnout").json()["stations"] == {"tabriz-001": 2}


def test_a_resent_form_is_a_retry_not_a_second_check_in(live: LiveElection) -> None:
    with _client(live) as c:
        page = _login(c, live.tokens["tabriz-002"])
        form = {"csrf": csrf_of(page), "national_code": TABRIZ_VOTERS[2],
                "request_id": request_id_of(page)}  # fmt: skip
        first = c.post("/station/checkin", data=form)
        again = c.post("/station/checkin", data=form)
        assert 'data-status="accepted"' in first.text
        assert 'data-status="accepted"' in again.text
        other = c.post("/station/checkin", data={**form, "national_code": TABRIZ_VOTERS[3]})
        assert other.status_code == 409
        assert 'id="console-error"' in other.text
        assert c.get("/api/participation").json()["national"] == 1


def test_the_console_needs_its_token_a_session_and_csrf(live: LiveElection) -> None:
    with _client(live) as c:
        login = c.get("/station")
        assert 'name="token"' in login.text
        assert 'id="checkin-form"' not in login.text
        csrf = csrf_of(login.text)
        # A wrong token is refused on the page.
        r = c.post("/station/login", data={"csrf": csrf, "token": "not-a-token"})
        assert r.status_code == 401
        assert 'id="login-error"' in r.text
        assert "vv_station" not in r.headers.get("set-cookie", "")
        # A form without the CSRF token, or with another visitor's, is refused: nothing done.
        r = c.post("/station/login", data={"token": live.tokens["tabriz-001"]})
        assert r.status_code == 403
        assert "vv_station" not in r.headers.get("set-cookie", "")
        r = c.post("/station/login", data={"csrf": "0" * 64, "token": live.tokens["tabriz-001"]})
        assert r.status_code == 403
        page = _login(c, live.tokens["tabriz-001"])
        r = c.post("/station/checkin", data={"national_code": TABRIZ_VOTERS[0],
                                             "request_id": request_id_of(page)})  # fmt: skip
        assert r.status_code == 403
        assert c.post("/station/polls", data={"action": "close"}).status_code == 403
        assert c.get("/api/participation").json()["national"] == 0
        # Without the session cookie the console asks for the token again.
        c.cookies.delete("vv_station")
        status, text = _check_in(c, page, TABRIZ_VOTERS[0])
        assert status == 401
        assert 'name="token"' in text
        assert c.get("/api/participation").json()["national"] == 0
        # A forged session cookie is no session.
        c.cookies.set("vv_station", "tabriz-001~99999999999~nonce~" + "0" * 64)
        assert 'name="token"' in c.get("/station").text


def test_console_cookies_are_httponly_samesite_strict_and_secure_over_https(
    live: LiveElection,
) -> None:
    with _client(live, https=True) as c:
        first = c.get("/station")
        csrf_cookie = first.headers["set-cookie"].lower()
        assert "vv_csrf=" in csrf_cookie
        for flag in ("httponly", "samesite=strict", "secure", "path=/"):
            assert flag in csrf_cookie
        r = c.post("/station/login", data={"csrf": csrf_of(first.text),
                                           "token": live.tokens["tabriz-001"]},
                   follow_redirects=False)  # fmt: skip
        assert r.status_code == 303
        session = r.headers["set-cookie"].lower()
        assert "vv_station=" in session
        for flag in ("httponly", "samesite=strict", "secure", "max-age="):
            assert flag in session
        page = c.get("/station")
        assert page.headers["content-security-policy"] == PAGE_CSP
        assert page.headers["cache-control"] == "no-store"
        logout = c.post("/station/logout", data={"csrf": csrf_of(page.text)},
                        follow_redirects=False)  # fmt: skip
        assert logout.status_code == 303
        assert 'vv_station=""' in logout.headers["set-cookie"]
    with _client(live) as c:
        assert "secure" not in c.get("/station").headers["set-cookie"].lower()


def _message(lang: str, key: str) -> str:
    import html
    import json

    from verivote.web.site import i18n

    path = Path(i18n.__file__).parent / "messages" / f"{lang}.json"
    return html.escape(json.loads(path.read_text(encoding="utf-8"))[key], quote=False)


def test_the_console_opens_and_closes_the_polls_on_the_board(live: LiveElection) -> None:
    with _client(live) as c:
        page = _login(c, live.tokens["tabriz-003"])  # never opened yet
        assert 'id="polls-open"' in page
        r = c.post("/station/polls", data={"csrf": csrf_of(page), "action": "open"})
        assert r.status_code == 200
        assert 'id="polls-close"' in r.text
        r = c.post("/station/polls", data={"csrf": csrf_of(r.text), "action": "close"})
        assert r.status_code == 200
        assert 'id="polls-open"' not in r.text
        # The statements are in Tabriz's log, not yet sealed: counted, listed once sealed.
        board = c.get("/api/board").json()
        assert board["unsealed"]["tabriz"] == 3  # the late ballot, the opening, the closing
        assert "polls-close" not in board["types"]
        make_checkpoint(live.store, live.ctx, live.keys)
        with _client(live) as fresh:  # the counts are kept for a few seconds: a new server
            closing = fresh.get("/api/board?type=polls-close").json()["entries"]
            assert [(e["station"], e["log"]) for e in closing] == [("tabriz-003", "tabriz")]
            tabriz = live.store.entries(live.ctx.election_id, log="tabriz")
            assert json.loads(tabriz[closing[0]["log_index"]])["type"] == "polls-close"
            raw = fresh.get(f"/api/board/entries/{closing[0]['index']}").content
            assert raw == tabriz[closing[0]["log_index"]]
            assert fresh.get("/api/board").json()["unsealed"] == {}
        # A closed station checks no one in any more: the console says so.
        assert 'id="checkin-form"' not in r.text
        form = {"csrf": csrf_of(r.text), "request_id": "req-closed",
                "national_code": TABRIZ_VOTERS[4]}  # fmt: skip
        refused = c.post("/station/checkin", data=form)
        assert refused.status_code == 409
        assert _message("fa", "checkin_polls_closed") in refused.text
        assert "checks no one in any more" in c.get("/station?lang=en").text
        assert c.get("/api/participation").json()["national"] == 0
        r = c.post("/station/polls", data={"csrf": csrf_of(r.text), "action": "open"})
        assert r.status_code == 409
        assert 'id="console-error"' in r.text
        # The same over JSON, for a station's device.
        auth = {"Authorization": f"Bearer {live.tokens['tabriz-001']}"}
        assert c.get("/api/station", headers=auth).json()["polls"] == "open"
        done = c.post("/api/station/polls", json={"action": "close"}, headers=auth).json()
        assert done["polls"] == "closed"
        assert done["station"] == "tabriz-001"
        again = c.post("/api/station/polls", json={"action": "open"}, headers=auth)
        assert again.status_code == 409
        assert again.json()["error"] == "conflict"
        assert c.get("/api/station").status_code == 401
        assert c.get("/api/station", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_home_shows_turnout_from_the_check_ins(live: LiveElection) -> None:
    with _client(live) as c:
        auth = {"Authorization": f"Bearer {live.tokens['tabriz-001']}"}
        for n, code in enumerate(TABRIZ_VOTERS[:3]):
            body = {"national_code": code, "request_id": f"req-{n:04d}"}
            assert c.post("/api/checkin", json=body, headers=auth).json()["status"] == "accepted"
        turnout = c.get("/api/participation").json()
        assert turnout["source"] == "check-ins"
        assert turnout["national"] == 3
        assert turnout["eligible"] == 11
        assert {d["id"]: (d["voted"], d["eligible"]) for d in turnout["districts"]} == {
            "tabriz": (3, 10), "armenians-south": (0, 1)}  # fmt: skip
        text = c.get("/?lang=en").text
        assert '<span class="figure">3</span>' in text
        assert "27.3% of 11 eligible voters" in text
        assert "3 open, 0 closed, 1 not yet opened" in text
        assert c.get("/api/election").json()["mode"] == "live"


def test_the_tracker_proves_against_the_latest_checkpoint(live: LiveElection) -> None:
    election = live.ctx.election_id
    with _client(live) as c:
        for code in live.signed:
            doc = c.get(f"/api/ballots/{code}").json()
            assert doc["in_checkpoint"]
            assert doc["proof_valid"]
            assert doc["signature_valid"]
            # In its district's log, under that log's seal in the national checkpoint.
            ballot = live.store.ballot(election, code)
            assert ballot is not None
            assert (doc["log"], doc["index"]) == (ballot.board_log, ballot.board_idx)
            assert doc["log"] == doc["district"]
            assert doc["position"] == live.store.position(election, doc["index"], doc["log"])
            run = live.store.sealing_of(election, doc["log"], doc["index"])
            assert run is not None
            assert doc["seal"]["index"] == run.seal_idx
            assert doc["seal"]["district_size"] == run.idx + run.count
            assert doc["seal"]["district_proof_valid"]
            assert doc["seal"]["seal_proof_valid"]
            proof = c.get(f"/api/ballots/{code}/proof").json()
            assert check_inclusion(proof, list(live.verifiers))
            assert check_in_district(DistrictInclusion.from_json(proof), live.verifiers[0])
            assert proof["seal"]["index"] == run.seal_idx
            text = c.get(f"/track?code={code}&lang=en").text
            for check in ("district-proof-valid", "seal-proof-valid", "proof-valid"):
                assert re.search(rf'class="ok" id="{check}"', text), check
        late = c.get(f"/api/ballots/{live.unsigned}").json()
        assert not late["in_checkpoint"]
        assert late["proof_valid"] is None
        assert (late["log"], late["position"], late["seal"]) == ("tabriz", None, None)
        assert c.get(f"/api/ballots/{live.unsigned}/proof").status_code == 404
        text = c.get(f"/track?code={live.unsigned}&lang=en").text
        assert "no signed checkpoint covers it yet" in text
        assert "that log has not yet been sealed into a signed national checkpoint" in text
        assert c.get(f"/api/ballots/{live.signed[0][:16]}").json()["code"] == live.signed[0]
        assert c.get("/track?code=" + "f" * 64).status_code == 404


def test_a_ballot_sealed_after_the_latest_checkpoint_waits_for_the_next(
    live: LiveElection,
) -> None:
    election = live.ctx.election_id
    # Tabriz's log is sealed into the national log, but no national checkpoint signs the seal
    # yet: the ballot has its board position, not yet its proof.
    sealed = seal_districts(live.store, live.ctx, authority_key(live.keys, live.ctx))
    assert "tabriz" in sealed
    with _client(live) as c:
        late = c.get(f"/api/ballots/{live.unsigned}").json()
        assert late["position"] is not None
        assert not late["in_checkpoint"]
        assert c.get(f"/api/ballots/{live.unsigned}/proof").status_code == 404
        assert 'id="not-sealed"' in c.get(f"/track?code={live.unsigned}&lang=en").text
        board = c.get("/api/board?type=ballot-cast").json()
        assert [e["code"] for e in board["entries"]].count(live.unsigned) == 1
        make_checkpoint(live.store, live.ctx, live.keys)
        late = c.get(f"/api/ballots/{live.unsigned}").json()
        assert late["in_checkpoint"]
        assert late["proof_valid"]
        assert late["signature_valid"]
        size = live.store.latest_checkpoint(election)
        assert size is not None
        assert late["seal"]["index"] < late["checkpoint_size"] == size[0]
        assert check_inclusion(c.get(f"/api/ballots/{live.unsigned}/proof").json(),
                               list(live.verifiers))  # fmt: skip


def test_the_board_lists_every_log_in_the_merged_order(
    live: LiveElection, monkeypatch: pytest.MonkeyPatch
) -> None:
    election = live.ctx.election_id
    monkeypatch.setattr(views, "PER_PAGE", 3)
    merged = live.store.merged_entries(election)
    with _client(live) as c:
        first = c.get("/api/board").json()
        assert first["size"] == len(merged) == live.store.merged_size(election)
        assert first["logs"] == live.store.logs(election)
        assert first["unsealed"] == {"tabriz": 1}  # the ballot cast after the checkpoint
        types = [json.loads(raw)["type"] for raw in merged]
        assert first["types"] == dict(sorted(Counter(types).items()))
        rows = [e for page in range(1, first["pages"] + 1)
                for e in c.get(f"/api/board?page={page}").json()["entries"]]  # fmt: skip
        assert [e["index"] for e in rows] == list(range(len(merged)))
        assert [e["leaf_hash"] for e in rows] == [leaf_hash(raw).hex() for raw in merged]
        for e in rows:
            assert live.store.position(election, e["log_index"], e["log"]) == e["index"]
        assert {e["log"] for e in rows} == {"", "tabriz", "armenians-south"}
        for kind in ("ballot-cast", "polls-open", "ceremony"):
            doc = c.get(f"/api/board?type={kind}").json()
            listed = [
                e
                for page in range(1, doc["pages"] + 1)
                for e in c.get(f"/api/board?type={kind}&page={page}").json()["entries"]
            ]
            assert listed == [e for e in rows if e["type"] == kind], kind  # fmt: skip
        text = c.get("/board?lang=en").text
        assert 'id="logs"' in text
        assert '<tr data-log="tabriz">' in text


def test_the_live_type_counts_follow_the_board_as_it_grows(live: LiveElection) -> None:
    election = live.ctx.election_id
    counter = RunTypes(election)

    def counted() -> dict[str, int]:
        with live.store.engine.begin() as conn:
            return counter.type_counts(conn)

    def expected() -> dict[str, int]:
        return dict(Counter(json.loads(raw)["type"] for raw in live.store.merged_entries(election)))

    assert counted() == expected()
    make_checkpoint(live.store, live.ctx, live.keys)  # seals the late ballot: a new run
    assert counted() == expected()
    notes = [canonical_json({"type": "note", "n": n}) for n in range(3)]
    for note in notes:  # the last national run grows: counted again each time
        live.store.append_entry(election, note, "note")
        assert counted() == expected()
    with live.store.engine.begin() as conn:
        listed = counter.of_type(conn, "note", 1, 5)
        cast = counter.of_type(conn, "ballot-cast", 0, 10)
    assert [e.raw for e in listed] == notes[1:]
    merged = live.store.merged_entries(election)
    assert [merged[e.position] for e in listed + cast] == [e.raw for e in listed + cast]
    assert {json.loads(e.raw)["tracking_code"] for e in cast} == {*live.signed, live.unsigned}


def test_without_verifier_keys_the_signature_is_left_to_the_voter(live: LiveElection) -> None:
    app = live_app(live.store, live.ctx, ())
    with TestClient(app) as c:
        doc = c.get(f"/api/ballots/{live.signed[0]}").json()
        assert doc["proof_valid"]
        assert doc["signature_valid"] is None
        assert "cannot check the checkpoint" in c.get(f"/track?code={live.signed[0]}&lang=en").text
        assert c.get("/api/record").status_code == 404


def test_an_uncounted_district_lists_its_candidates(live: LiveElection) -> None:
    with _client(live) as c:
        result = c.get("/api/districts/tabriz").json()
        assert not result["counted"]
        assert result["candidates"][0]["status"] is None
        assert "Not counted yet" in c.get("/districts/tabriz?lang=en").text


def test_the_live_record_downloads_as_of_the_latest_checkpoint(
    live: LiveElection, tmp_path: Path
) -> None:
    with _client(live) as c:
        r = c.get("/api/record")
        assert r.status_code == 200
        size = c.get("/api/checkpoints").json()[0]["size"]
    with tarfile.open(fileobj=io.BytesIO(r.content)) as archive:
        archive.extractall(tmp_path / "download", filter="data")
    folder = tmp_path / "download" / "test-2024-record"
    assert check_record(folder) == []
    assert len((folder / "log/entries.jsonl").read_bytes().splitlines()) == size
    # The district logs up to their last seals within that checkpoint, as the authority's
    # export writes them (the ballot cast after the checkpoint is not in it).
    exported = tmp_path / "exported"
    export_record(live.store, live.ctx, live.keys, exported)
    names = {str(p.relative_to(exported)) for p in exported.rglob("*")  # derived files aside
             if p.is_file() and not {"tile", "track"} & set(p.parts)}  # fmt: skip
    assert {n for n in names if n.startswith("districts/")} == {
        f"districts/{d}/{f}" for d in ("tabriz", "armenians-south")
        for f in ("entries.jsonl", "checkpoint")
    }  # fmt: skip
    got = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert got == names
    for name in names:
        assert (folder / name).read_bytes() == (exported / name).read_bytes(), name
    board = load_board(folder)
    assert board.logs is not None
    codes = [json.loads(raw).get("tracking_code") for raw in board.entries]
    assert set(live.signed) <= set(codes)
    assert live.unsigned not in codes


def test_a_counted_election_served_live(verify_election: VerifyElection, tmp_path: Path) -> None:
    db = counted_database(verify_election, tmp_path)
    engine = make_engine(db.url)
    store = Store(engine)
    try:
        ctx = load_context(store, "test-2024")
        app = live_app(store, ctx, read_verifiers(db.keys, "test-2024"))
        with TestClient(app) as c:
            result = c.get("/api/districts/tabriz").json()
            assert result["elected"] == ["1101", "1102"]
            assert len(result["lots"]) == 1
            assert c.get("/districts/tabriz").status_code == 200
            checkpoints = c.get("/api/checkpoints").json()
            assert len(checkpoints) >= 2
            assert checkpoints[0]["size"] > checkpoints[1]["size"]
            assert all(s["verified"] for cp in checkpoints for s in cp["signatures"])
            board = c.get("/api/board").json()
            assert board["types"]["ballot-cast"] == 12
    finally:
        engine.dispose()


def test_one_openapi_document_describes_every_endpoint(live: LiveElection) -> None:
    with _client(live) as c:
        paths = c.get("/openapi.json").json()["paths"]
        for path in ("/api/checkin", "/api/checkin/offline", "/api/turnout", "/api/election",
                     "/api/districts/{district_id}", "/api/ballots/{code}", "/api/board",
                     "/api/record", "/api/station", "/api/station/polls"):  # fmt: skip
            assert path in paths, path
        assert not any(p.startswith(("/station", "/track", "/board")) for p in paths)
        docs = c.get("/api-docs").text
        assert "/api/ballots/{code}/proof" in docs
        assert "/api/checkin" in docs
        # No interactive page that would load its scripts from a CDN.
        assert c.get("/docs").status_code == 404


BIG = 2**63 - 1


@pytest.mark.parametrize(
    "url",
    [f"/api/board/entries/{BIG}", f"/api/board/entries/{BIG + 1}", f"/api/board/entries/{10**40}",
     "/api/board/entries/-1", f"/api/board/entries?start={BIG}",
     f"/api/board/entries?start={BIG - 1}&end={BIG}", f"/api/board/entries?start={BIG + 1}",
     f"/api/board/entries?end={10**40}", f"/api/board?page={BIG}", f"/api/board?page={10**40}"],
)  # fmt: skip
def test_an_index_out_of_range_is_a_json_refusal_not_a_crash(live: LiveElection, url: str) -> None:
    # 2^63-1 once reached the database as index + 1, past a 64-bit integer: a plain-text 500.
    with _client(live) as c:
        r = c.get(url)
    assert r.status_code in (200, 400, 404), (url, r.status_code, r.text[:200])
    if r.status_code == 200:
        assert r.content == b""  # an empty range
    else:
        assert r.headers["content-type"] == "application/json"
        assert set(r.json()) == {"error", "detail"}


def _hsts_max_age(headers: httpx.Headers) -> int | None:
    value = headers.get("strict-transport-security")
    if value is None:
        return None
    found = re.search(r"max-age=(\d+)", value)
    return int(found.group(1)) if found else 0


@pytest.mark.parametrize("https", [True, False])
def test_https_answers_carry_hsts_for_a_year_and_http_ones_none(
    live: LiveElection, https: bool
) -> None:
    with _client(live, https=https) as c:
        answers = [
            c.get("/"), c.get("/no-such-page"), c.get("/api/election"), c.get("/api/nothing"),
            c.post("/api/checkin", json={"national_code": TABRIZ_VOTERS[0],
                                         "request_id": "hsts-0001"}),  # fast path, no token
            c.post("/api/checkin", json={"national_code": TABRIZ_VOTERS[0],
                                         "request_id": "hsts-0001"},
                   headers={"Authorization": f"Bearer {live.tokens['tabriz-001']}"}),
            c.post("/station/login", content=b"x", headers={"content-type": "text/plain"}),
            c.post("/api/checkin/offline", content=b"x"),
        ]  # fmt: skip
    for r in answers:
        age = _hsts_max_age(r.headers)
        if https:
            assert age is not None, (r.request.url, r.status_code)
            assert age >= 365 * 24 * 3600
        else:
            assert age is None, (r.request.url, r.status_code)
