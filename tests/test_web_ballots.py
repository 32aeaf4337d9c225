"""The cast API (issue 15, item 1) over HTTP (FastAPI's test client, the whole live site) on
SQLite and PostgreSQL: a ballot's proofs checked in the process pool before anything is
stored, the receipt's answer, and every refusal."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.attacks.casting_fixtures import ELECTION, Polling, polling_election
from tests.manifests import small_manifest_data
from tests.site_fixtures import csrf_of, national_code
from tests.store_fixtures import BACKENDS
from verivote.crypto.ballot import encrypt_ballot, opening_to_json
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.groups import get_group
from verivote.crypto.tracking import code_of, short
from verivote.crypto.written import encrypt_for_station
from verivote.election.polls import close_polls
from verivote.model.manifest import parse_manifest
from verivote.store.roll import import_voters, issue_token
from verivote.web.app import live_app
from verivote.web.asgi import SECURITY_HEADERS
from verivote.web.ballots import CAST_PATH, CHALLENGED_PATH, ballot_limit, body_limits
from verivote.web.site.qr import qr_svg

VOTERS = [national_code(n) for n in range(5001, 5011)]


@dataclass
class Api:
    client: TestClient
    polling: Polling
    tokens: dict[str, str]
    next_voter: int = 0

    def check_in(self, station: str) -> None:
        voter = VOTERS[self.next_voter]
        self.next_voter += 1
        body = {"national_code": voter, "request_id": f"req-{voter}"}
        r = self.client.post("/api/checkin", json=body, headers=self.auth(station))
        assert r.json() == {"status": "accepted"}, r.text

    def auth(self, station: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[station]}"}

    def ballot(self, station: str, choices: list[str]) -> tuple[dict[str, Any], Any]:
        ctx = self.polling.ctx
        assert ctx.key is not None
        return encrypt_for_station(ctx.manifest, ctx.key, ctx.base_hash, station, choices)

    def cast(self, token_of: str, ballot: object) -> tuple[int, dict[str, Any]]:
        r = self.client.post(CAST_PATH, json={"ballot": ballot}, headers=self.auth(token_of))
        for name, value in SECURITY_HEADERS.items():
            assert r.headers[name] == value
        return r.status_code, r.json()

    def code(self, ballot: dict[str, Any]) -> str:
        return code_of(self.polling.ctx.base_hash, ballot)

    def stored(self, code: str) -> bool:
        """Accepted: waiting in its station's batch, or on the board."""
        return self.polling.store.ballot_state(ELECTION, code) is not None


def _api(backend: str, tmp_path: Path, data: dict[str, Any] | None = None) -> Iterator[Api]:
    with polling_election(backend, tmp_path, data=data) as polling:
        engine = polling.store.engine
        import_voters(engine, ELECTION, [(c, "tabriz", None) for c in VOTERS])
        tokens = {s: issue_token(engine, ELECTION, s) for s in ("tabriz-001", "tabriz-002")}
        app = live_app(polling.store, polling.ctx, (), clock=lambda: 9, cast_workers=1)
        with TestClient(app) as client:
            yield Api(client, polling, tokens)


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    yield from _api(request.param, tmp_path)


@pytest.fixture(params=BACKENDS)
def written_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The same, with Tabriz counted by mixnet: its ballots are written (issue 16)."""
    data = small_manifest_data()
    data["districts"][0]["mode"] = "mixnet"
    yield from _api(request.param, tmp_path, data)


def test_a_checked_in_voter_casts_and_a_re_upload_is_the_same_receipt(api: Api) -> None:
    api.check_in("tabriz-001")
    ballot, _ = api.ballot("tabriz-001", ["1101", "1104"])
    code = api.code(ballot)
    status, doc = api.cast("tabriz-001", ballot)
    assert status == 200, doc
    assert doc["status"] == "accepted"
    assert doc["tracking_code"] == code
    assert (doc["election_id"], doc["district"]) == (ELECTION, "tabriz")
    assert doc["board_index"] is None or isinstance(doc["board_index"], int)
    assert api.stored(code)
    # the device's retry (or the upload of its journal): the same code, nothing recorded twice
    size = api.polling.store.entry_count(ELECTION)
    status, again = api.cast("tabriz-001", ballot)
    assert status == 200, again
    assert again["status"] == "already_accepted"
    assert again["tracking_code"] == code
    assert api.polling.store.entry_count(ELECTION) == size


def test_a_ballot_whose_proof_fails_is_refused_and_nothing_is_stored(api: Api) -> None:
    api.check_in("tabriz-001")
    ballot, _ = api.ballot("tabriz-001", ["1102"])
    forged = copy.deepcopy(ballot)
    proof = forged["selections"][1]["proof"]
    first = proof["responses"][0]
    proof["responses"][0] = ("0" if first[0] != "0" else "1") + first[1:]
    size = api.polling.store.entry_count(ELECTION)
    status, doc = api.cast("tabriz-001", forged)
    assert status == 422, doc
    assert doc["error"] == "unprocessable"
    assert "does not verify" in doc["detail"] or "scalar" in doc["detail"], doc
    assert not api.stored(api.code(forged))
    assert api.polling.store.entry_count(ELECTION) == size
    # the check-in it did not use still admits the voter's real ballot
    status, doc = api.cast("tabriz-001", ballot)
    assert (status, doc["status"]) == (200, "accepted")


def test_refusals_station_polls_check_ins_and_bodies(api: Api) -> None:
    api.check_in("tabriz-001")
    # a ballot of another station than the token's
    other, _ = api.ballot("tabriz-002", ["1101"])
    status, doc = api.cast("tabriz-001", other)
    assert (status, set(doc)) == (403, {"error", "detail"}), doc
    assert not api.stored(api.code(other))
    # one check-in admits one ballot: the second is refused
    first, _ = api.ballot("tabriz-001", ["1101"])
    assert api.cast("tabriz-001", first)[0] == 200
    second, _ = api.ballot("tabriz-001", ["1103"])
    status, doc = api.cast("tabriz-001", second)
    assert (status, doc["error"]) == (409, "no_checkin"), doc
    assert not api.stored(api.code(second))
    # a station whose polls are closed takes no ballot
    api.check_in("tabriz-002")
    close_polls(api.polling.store, api.polling.ctx, ["tabriz-002"])
    late, _ = api.ballot("tabriz-002", ["1105"])
    status, doc = api.cast("tabriz-002", late)
    assert (status, doc["error"]) == (409, "polls_closed"), doc
    assert doc["detail"]
    assert not api.stored(api.code(late))
    # no token, a body that is not {"ballot": {...}}, a body larger than any ballot
    assert api.client.post(CAST_PATH, json={"ballot": first}).status_code == 401
    r = api.client.post(CAST_PATH, json={"vote": first}, headers=api.auth("tabriz-001"))
    assert (r.status_code, r.json()["error"]) == (400, "bad_request")
    limit = body_limits(api.polling.ctx.manifest)[CAST_PATH]
    r = api.client.post(
        CAST_PATH, content=b" " * (limit + 1),
        headers={**api.auth("tabriz-001"), "Content-Type": "application/json"},
    )  # fmt: skip
    assert (r.status_code, r.json()["error"]) == (413, "too_large")


def test_a_challenged_ballot_is_published_with_its_opening(api: Api) -> None:
    ctx = api.polling.ctx
    assert ctx.key is not None
    ballot, opened = api.ballot("tabriz-001", ["1102", "1105"])
    body = {"ballot": ballot, **opening_to_json(ctx.key.group, opened)}
    wrong = {**body, "choices": ["1101"]}
    r = api.client.post(CHALLENGED_PATH, json=wrong, headers=api.auth("tabriz-001"))
    assert r.status_code == 422, r.text
    r = api.client.post(CHALLENGED_PATH, json=body, headers=api.auth("tabriz-001"))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["status"], doc["ballot_id"]) == ("challenged", api.code(ballot))
    assert api.polling.store.ballot_state(ELECTION, api.code(ballot)) == "pending"
    api.polling.store.flush_due(ELECTION, 0)  # its batch onto the board, as the timer does
    found = api.polling.store.ballot(ELECTION, api.code(ballot))
    assert found is not None
    assert found.state == "challenged"


@pytest.mark.parametrize("group", ["ristretto255", "eg4096"])
def test_the_body_limit_holds_the_largest_ballot_and_not_much_more(group: str) -> None:
    manifest = parse_manifest(small_manifest_data(group))
    g = get_group(manifest.group)
    key = ElectionKey(g, g.pow_g(12345))
    ballot, _ = encrypt_ballot(manifest, key, b"\x01" * 32, "tabriz-001", ["1101"])
    size = len(json.dumps({"ballot": ballot}, indent=1))
    limit = ballot_limit(manifest)
    assert size < limit < 2 * size + 8192


def test_the_printable_receipt_of_a_cast_ballot_has_its_code_as_an_svg_qr_code(api: Api) -> None:
    api.check_in("tabriz-001")
    ballot, _ = api.ballot("tabriz-001", ["1103"])
    code = api.cast("tabriz-001", ballot)[1]["tracking_code"]
    for lang, title in (("en", "QR code of the tracking code"), ("fa", "کد QR کد رهگیری")):
        r = api.client.get(f"/receipt/{code}?lang={lang}")
        assert r.status_code == 200, r.text
        assert "script" not in r.headers["content-security-policy"]
        html = r.text
        assert code in html
        assert short(code) in html
        assert "Test Majlis election" in html
        assert "Tabriz" in html
        # the QR code is segno's drawing of the code, inline: no image request, no script
        assert str(qr_svg(code, title)) in html
        assert "<script" not in html
    assert "Ballot receipt" in api.client.get(f"/receipt/{code.upper()}?lang=en").text
    # no receipt for a code never cast, a malformed one, or a challenged ballot
    assert api.client.get("/receipt/" + "0" * 64).status_code == 404
    assert api.client.get("/receipt/" + code[:16]).status_code == 404
    assert api.client.get("/receipt/not-a-code").status_code == 404
    ctx = api.polling.ctx
    assert ctx.key is not None
    challenged, opened = api.ballot("tabriz-001", ["1101"])
    body = {"ballot": challenged, **opening_to_json(ctx.key.group, opened)}
    r = api.client.post(CHALLENGED_PATH, json=body, headers=api.auth("tabriz-001"))
    assert r.status_code == 200, r.text
    assert api.client.get(f"/receipt/{api.code(challenged)}").status_code == 404


_VOTE_ID = re.compile(
    r'id="vote-form">\s*<input type="hidden" name="csrf" value="[0-9a-f]+">\s*'
    r'<input type="hidden" name="request_id" value="([A-Za-z0-9_-]+)"'
)
_RECEIPT = re.compile(r'href="/receipt/([0-9a-f]{64})" id="vote-receipt"')


def test_the_station_console_casts_a_checked_in_voters_ballot_and_links_the_receipt(
    api: Api,
) -> None:
    c = api.client
    csrf = csrf_of(c.get("/station").text)
    c.post("/station/login", data={"csrf": csrf, "token": api.tokens["tabriz-001"]})
    assert "the server never sees anyone" in c.get("/station?lang=en").text  # said plainly
    api.check_in("tabriz-001")
    page = c.get("/station?lang=en").text
    found = _VOTE_ID.search(page)
    assert found is not None, page
    form = {"csrf": csrf_of(page), "request_id": found.group(1), "choices": "1101 ۱۱۰۴"}
    # CSRF like the other console forms
    assert c.post("/station/vote", data={**form, "csrf": "0" * 64}).status_code == 403
    r = c.post("/station/vote", data=form)
    assert r.status_code == 200, r.text
    receipt = _RECEIPT.search(r.text)
    assert receipt is not None, r.text
    code = receipt.group(1)
    assert api.stored(code)
    assert c.get(f"/receipt/{code}").status_code == 200
    # the form sent twice is one ballot
    size = api.polling.store.entry_count(ELECTION)
    again = c.post("/station/vote", data=form)
    repeated = _RECEIPT.search(again.text)
    assert repeated is not None
    assert repeated.group(1) == code
    assert api.polling.store.entry_count(ELECTION) == size
    # one check-in, one ballot; and choices that are no ballot
    fresh = {**form, "request_id": "another-form-1"}
    r = c.post("/station/vote", data=fresh)
    assert r.status_code == 409
    assert "Check the voter in first" in r.text
    r = c.post("/station/vote", data={**fresh, "request_id": "another-form-2", "choices": "9999"})
    assert r.status_code == 400
    assert 'id="vote-error-detail"' in r.text


# --- written ballots (issue 16): a mixnet district through the same API and console ---------


def test_written_ballots_are_cast_and_challenged_through_the_api(written_api: Api) -> None:
    api = written_api
    ctx = api.polling.ctx
    assert ctx.key is not None
    api.check_in("tabriz-001")
    ballot, _ = api.ballot("tabriz-001", ["1101", "1101", "0042"])  # encrypted as ["1101"]
    assert "written" in ballot
    # a ballot marking candidates is not a ballot of this district
    plain = parse_manifest(small_manifest_data())
    marked, _ = encrypt_ballot(plain, ctx.key, ctx.base_hash, "tabriz-001", ["1101"])
    status, doc = api.cast("tabriz-001", marked)
    assert (status, doc["error"]) == (422, "unprocessable"), doc
    assert "counted by mixnet" in doc["detail"]
    status, doc = api.cast("tabriz-001", ballot)
    assert (status, doc["status"]) == (200, "accepted"), doc
    assert doc["tracking_code"] == api.code(ballot)
    challenged, opened = api.ballot("tabriz-002", ["1105", "7"])
    body = {"ballot": challenged, **opening_to_json(ctx.key.group, opened)}
    # the device encrypted the canonical ["1105"]: the codes as written do not open it
    wrong = {**body, "choices": ["1105", "7"]}
    r = api.client.post(CHALLENGED_PATH, json=wrong, headers=api.auth("tabriz-002"))
    assert r.status_code == 422, r.text
    assert "do not re-encrypt" in r.json()["detail"]
    r = api.client.post(CHALLENGED_PATH, json=body, headers=api.auth("tabriz-002"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "challenged"
    assert len(json.dumps({"ballot": ballot}, indent=1)) < body_limits(ctx.manifest)[CAST_PATH]


def test_the_body_limit_of_a_tehran_shaped_mixnet_district_is_a_few_kilobytes() -> None:
    data = small_manifest_data()
    data["districts"][0]["seats"] = 30
    data["districts"][0]["candidates"] = [
        {"code": str(1000 + i), "name": f"Candidate {i}"} for i in range(3545)
    ]
    assert parse_manifest(data).district("tabriz").counted_by == "mixnet"  # by default
    data["districts"] = data["districts"][:1]
    data["stations"] = data["stations"][:3]
    manifest = parse_manifest(data)
    g = get_group(manifest.group)
    key = ElectionKey(g, g.pow_g(12345))
    codes = [str(1000 + i) for i in range(30)]
    ballot, _ = encrypt_for_station(manifest, key, b"\x01" * 32, "tabriz-001", codes)
    size = len(json.dumps({"ballot": ballot}, indent=1))
    assert size < ballot_limit(manifest) < 8192


def test_the_station_console_encrypts_the_codes_typed(written_api: Api) -> None:
    api, c = written_api, written_api.client
    csrf = csrf_of(c.get("/station").text)
    c.post("/station/login", data={"csrf": csrf, "token": api.tokens["tabriz-001"]})
    api.check_in("tabriz-001")
    page = c.get("/station?lang=en").text
    found = _VOTE_ID.search(page)
    assert found is not None, page
    # a repeat and a code of no candidate: the device encrypts the canonical ["1101"]
    form = {"csrf": csrf_of(page), "request_id": found.group(1), "choices": "1101 ۱۱۰۱ 9999"}
    r = c.post("/station/vote", data=form)
    assert r.status_code == 200, r.text
    receipt = _RECEIPT.search(r.text)
    assert receipt is not None, r.text
    assert api.stored(receipt.group(1))
    api.check_in("tabriz-001")
    page = c.get("/station?lang=en").text
    found = _VOTE_ID.search(page)
    assert found is not None
    too_many = {"csrf": csrf_of(page), "request_id": found.group(1), "choices": "1 2 3 4"}
    r = c.post("/station/vote", data=too_many)
    assert r.status_code == 400
    assert 'id="vote-error-detail"' in r.text
