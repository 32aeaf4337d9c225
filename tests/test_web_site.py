"""The public website over a published record (`verivote serve --record`): no database at all.

The records are the session's two-round election (`verify_fixtures`): round 1 elects two of
Tabriz's three seats, sends two candidates to a runoff chosen by lot among three tied, and
holds a challenged ballot; round 2 elects the last seat.
"""

from __future__ import annotations

import html
import io
import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.verify_fixtures import (
    VerifyElection,
    board_lines,
    copy_record,
    read_entries,
    write_entries,
)
from verivote.board.checkpoint import Checkpoint, sign_checkpoint
from verivote.board.districts import district_origin, seal_entry
from verivote.board.inclusion import DistrictInclusion, check_in_district
from verivote.board.merkle import leaf_hash
from verivote.board.note import generate_signer, parse_verifier
from verivote.board.record import check_record
from verivote.cli.app import run
from verivote.election.publishing import check_inclusion
from verivote.model.canonical import canonical_json
from verivote.rules.lot import draw
from verivote.verify import verify_record
from verivote.web.app import record_app
from verivote.web.asgi import SECURITY_HEADERS
from verivote.web.site import views
from verivote.web.site.guard import PAGE_CSP
from verivote.web.site.pages import create_pages
from verivote.web.site.record_source import RecordSource, RecordUnusable
from verivote.web.site.source import BallotHit, Proof

PERSIAN_DIGIT = re.compile(r"[۰-۹]")
_LINK = re.compile(r'\b(?:href|src|action|formaction|xlink:href|poster|data)="([^"]*)"')


@pytest.fixture(scope="module")
def client(verify_election: VerifyElection) -> Iterator[TestClient]:
    with TestClient(record_app(verify_election.round1)) as c:
        yield c


@pytest.fixture(scope="module")
def round2(verify_election: VerifyElection) -> Iterator[TestClient]:
    with TestClient(record_app(verify_election.round2)) as c:
        yield c


def _docs(record: Path, kind: str) -> list[dict[str, object]]:
    return [d for d in read_entries(record) if d["type"] == kind]


def _cast_code(record: Path, n: int = 0) -> str:
    return str(_docs(record, "ballot-cast")[n]["tracking_code"])


def _page(c: TestClient, url: str, status: int = 200) -> str:
    r = c.get(url)
    assert r.status_code == status, (url, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/html")
    assert "Traceback" not in r.text
    return r.text


# --- pages, languages, headers -----------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/", "/districts/tabriz", "/districts/armenians-south", "/track", "/board",
            "/board?type=ballot-cast", "/api-docs"],
)  # fmt: skip
def test_every_page_speaks_persian_by_default_and_english_on_request(
    client: TestClient, url: str
) -> None:
    client.cookies.clear()
    persian = _page(client, url)
    assert '<html lang="fa" dir="rtl">' in persian
    assert PERSIAN_DIGIT.search(persian) or url == "/api-docs"  # the API list has no figures
    sep = "&" if "?" in url else "?"
    english = _page(client, f"{url}{sep}lang=en")
    assert '<html lang="en" dir="ltr">' in english
    assert not PERSIAN_DIGIT.search(english)
    # The choice is remembered: the next page without the parameter is English too.
    assert '<html lang="en" dir="ltr">' in _page(client, "/")
    assert client.get("/?lang=fa").status_code == 200
    client.cookies.clear()


def test_the_language_switch_links_to_the_same_page_in_the_other_language(
    client: TestClient,
) -> None:
    text = _page(client, "/board?type=ballot-cast&lang=fa")
    switch = re.search(r'id="lang-switch" href="([^"]+)"', text)
    assert switch is not None
    assert html.unescape(switch.group(1)) == "/board?type=ballot-cast&lang=en"
    cookie = client.get("/?lang=en").headers["set-cookie"].lower()
    assert "vv_lang=en" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    client.cookies.clear()


def test_pages_carry_a_strict_csp_and_the_api_its_own_headers(client: TestClient) -> None:
    for url in ("/", "/districts/nowhere", "/static/site.css", "/station"):
        r = client.get(url)
        assert r.headers["content-security-policy"] == PAGE_CSP
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
    assert "script-src" not in PAGE_CSP
    assert "'unsafe-inline'" not in PAGE_CSP
    assert "default-src 'none'" in PAGE_CSP
    assert "frame-ancestors 'none'" in PAGE_CSP
    for url in ("/api/election", "/api/ballots/zz", "/openapi.json"):
        r = client.get(url)
        for name, value in SECURITY_HEADERS.items():
            assert r.headers[name] == value


def _crawl(c: TestClient, start: list[str]) -> dict[str, str]:
    """Every page reachable from `start` by the site's own links (HTML pages only)."""
    seen: dict[str, str] = {}
    queue = list(start)
    while queue and len(seen) < 200:
        url = queue.pop()
        if url in seen:
            continue
        r = c.get(url)
        if not r.headers.get("content-type", "").startswith("text/html"):
            seen[url] = ""
            continue
        seen[url] = r.text
        for link in _LINK.findall(r.text):
            target = html.unescape(link)
            parts = urlsplit(urljoin(url, target))
            if not parts.scheme and not parts.netloc and not target.startswith("data:"):
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return seen


def test_no_page_loads_or_links_anything_from_outside_the_site(
    client: TestClient, verify_election: VerifyElection
) -> None:
    code = _cast_code(verify_election.round1)
    start = ["/", "/?lang=en", f"/track?code={code}", f"/track?code={code}&lang=en",
             "/track?code=zz", "/districts/nowhere", "/station"]  # fmt: skip
    pages = _crawl(client, start)
    assert len([p for p in pages.values() if p]) >= 20
    assert "/districts/tabriz" in pages
    assert "/board?type=count" in pages
    for url, text in pages.items():
        if not text:
            continue
        assert not re.search(r"(?i)\b(?:https?|ftp|wss?):", text), url
        for link in _LINK.findall(text):
            target = html.unescape(link)
            assert not target.startswith("//"), (url, target)
            assert target.startswith(("/", "?", "#", "data:")), (url, target)
    css = client.get("/static/site.css").text
    assert "url(" not in css
    assert "@import" not in css
    assert "http" not in css


# --- friendly errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "status", "persian"),
    [
        ("/track?code=not-a-code", 400, "این کد رهگیری نیست"),
        ("/track?code=" + "ab" * 40, 400, "این کد رهگیری نیست"),
        ("/track?code=" + "0" * 64, 404, "هیچ رأیی با این کد رهگیری"),
        ("/track?code=0000-0000-0000-0000", 404, "هیچ رأیی با این کد رهگیری"),
        ("/districts/no-such-district", 404, "چنین حوزه انتخابیه"),
        ("/districts/%3Cscript%3E", 404, "چنین حوزه انتخابیه"),
        ("/board?page=0", 400, "درخواست معتبر نیست"),
        ("/board?page=abc", 400, "درخواست معتبر نیست"),
        ("/board?page=99", 404, "چنین صفحه"),
        ("/board?type=no-such-type", 404, "مدخلی از این نوع"),
        ("/board?type=%3Cb%3E", 400, "درخواست معتبر نیست"),
        ("/no/such/page", 404, "چنین صفحه"),
    ],
)
def test_bad_input_gets_a_friendly_page_in_the_visitors_language(
    client: TestClient, url: str, status: int, persian: str
) -> None:
    text = _page(client, url, status)
    assert persian in text
    assert '<html lang="fa" dir="rtl">' in text
    assert "<script" not in text.lower()
    assert "&lt;script" not in text
    english = _page(client, url + ("&" if "?" in url else "?") + "lang=en", status)
    assert '<html lang="en"' in english
    client.cookies.clear()


def test_a_wrong_method_or_a_non_form_post_is_a_friendly_page(client: TestClient) -> None:
    r = client.post("/board", data={"x": "1"})
    assert r.status_code == 405
    assert "text/html" in r.headers["content-type"]
    r = client.post("/station/login", content=b"{}", headers={"content-type": "application/json"})
    assert r.status_code == 415
    assert "text/html" in r.headers["content-type"]
    assert r.headers["content-security-policy"] == PAGE_CSP
    big = client.post("/station/login", data={"token": "x" * 5000})
    assert big.status_code == 413


@pytest.mark.parametrize(
    ("url", "status", "error"),
    [
        ("/api/ballots/zz", 400, "bad_request"),
        ("/api/ballots/" + "0" * 64, 404, "not_found"),
        ("/api/ballots/" + "0" * 64 + "/proof", 404, "not_found"),
        ("/api/districts/nowhere", 404, "not_found"),
        ("/api/board?page=0", 400, "bad_request"),
        ("/api/board/entries/100000", 404, "not_found"),
        ("/api/no-such-thing", 404, "not_found"),
        ("/api/station", 404, "not_found"),
        ("/api/record?x=1", 200, None),
    ],
)
def test_the_json_api_answers_errors_in_json(
    client: TestClient, url: str, status: int, error: str | None
) -> None:
    r = client.get(url)
    assert r.status_code == status
    if error is not None:
        assert r.json()["error"] == error


# --- results ----------------------------------------------------------------------------------


def test_a_district_shows_its_result_with_badges_threshold_and_lot(client: TestClient) -> None:
    api = client.get("/api/districts/tabriz").json()
    # 1103, 1104 and 1105 tie for the two places of the runoff: the lot decides, from a seed
    # that the session's board fixed. The page's lot is the one anyone can recompute.
    [lot] = api["lots"]
    assert lot["order"] == draw(bytes.fromhex(lot["seed"]), "tabriz", lot["tied"], "runoff",
                                1).order  # fmt: skip
    first, second, last = lot["order"]
    standing = {c["code"]: c["status"] for c in api["candidates"]}
    assert standing == {"1101": "elected", "1102": "elected", first: "runoff",
                        second: "runoff", last: "not_elected"}  # fmt: skip
    assert (api["valid"], api["void"], api["threshold"]) == (8, 1, 0.2)
    assert [c["code"] for c in api["candidates"]][:2] == ["1101", "1102"]
    text = _page(client, "/districts/tabriz?lang=en")
    for code, badge in (("1101", "elected"), (first, "in the runoff"), (last, "not elected")):
        row = re.search(rf'data-code="{code}">(.*?)</tr>', text, re.S)
        assert row is not None
        assert f">{badge}</span>" in row.group(1)
    assert api["lots"][0]["seed"] in text
    assert api["seed"] in text
    # The chart: five bars and the threshold line at 1.6 of the 5 votes of the longest bar.
    svg = re.search(r"<svg.*?</svg>", text, re.S)
    assert svg is not None
    widths = [float(w) for w in re.findall(r'<rect class="bar[^"]*"[^>]*width="([\d.]+)"', svg[0])]
    assert len(widths) == 5
    bars_x = [float(x) for x in re.findall(r'<rect class="bar[^"]*" x="([\d.]+)"', svg[0])]
    line = re.search(r'<line x1="([\d.]+)"', svg[0])
    assert line is not None
    assert float(line.group(1)) - bars_x[0] == pytest.approx(max(widths) * 1.6 / 5, abs=0.05)
    assert "threshold 20%" in svg[0]
    persian = _page(client, "/districts/tabriz?lang=fa")
    assert "برگزیده" in persian
    assert "راه‌یافته به دور دوم" in persian
    assert "۸" in persian
    assert "حد نصاب ۲۰٪" in persian
    client.cookies.clear()


def test_a_runoff_record_shows_round_two_without_a_threshold(
    round2: TestClient, verify_election: VerifyElection
) -> None:
    api = round2.get("/api/districts/tabriz").json()
    assert api["round"] == 2
    assert api["threshold"] is None
    # Round 2's voters chose the first of the runoff field twice, the second once.
    [manifest] = _docs(verify_election.round2, "manifest")
    published: Any = manifest["manifest"]
    field = [c["code"] for c in published["districts"][0]["candidates"]]
    assert api["elected"] == field[:1]
    assert [(c["code"], c["votes"], c["status"]) for c in api["candidates"]] == [
        (field[0], 2, "elected"), (field[1], 1, "not_elected")]  # fmt: skip
    text = _page(round2, "/districts/tabriz?lang=en")
    assert "second round" in text
    assert "<line" not in text
    assert _page(round2, "/districts/armenians-south", 404)
    # Round 2 has no roll: turnout is the ballots cast that the closing statements publish.
    turnout = round2.get("/api/participation").json()
    assert (turnout["source"], turnout["national"]) == ("closing-ballots", 4)


def test_home_shows_the_election_turnout_and_the_latest_checkpoint(client: TestClient) -> None:
    text = _page(client, "/?lang=en")
    assert "Test Majlis election" in text
    assert "1 March 2024" in text
    turnout = client.get("/api/participation").json()
    # Round 1 has a voter roll: its stations' closing statements publish the voters checked in.
    assert turnout["source"] == "closing-check-ins"
    assert turnout["national"] == 12
    assert {d["id"]: d["voted"] for d in turnout["districts"]} == {
        "tabriz": 9,
        "armenians-south": 3,
    }
    assert re.search(r'id="turnout-national">\s*<span class="figure">12</span>', text)
    assert "witness/reformists" in text
    assert "signature valid" in text
    persian = _page(client, "/?lang=fa")
    assert "۱۱ اسفند ۱۴۰۲" in persian
    assert re.search(r'<span class="figure">۱۲</span>', persian)
    client.cookies.clear()


def test_the_checkpoint_view_checks_every_signature(
    client: TestClient, verify_election: VerifyElection
) -> None:
    [checkpoint] = client.get("/api/checkpoints").json()
    roles = [(s["role"], s["verified"]) for s in checkpoint["signatures"]]
    assert roles == [("authority", True)] + [("witness", True)] * 3
    # The national checkpoint signs the national log (the seals included); the board's
    # positions are the entries of every log, the seals left out.
    board = client.get("/api/board").json()
    national = (verify_election.round1 / "log/entries.jsonl").read_bytes().count(b"\n")
    assert checkpoint["size"] == board["logs"][""] == national
    assert board["size"] == len(board_lines(verify_election.round1)) == 43


# --- the ballot tracker --------------------------------------------------------------------


def test_a_voter_finds_a_ballot_by_its_code_in_any_spelling(
    client: TestClient, verify_election: VerifyElection
) -> None:
    code = _cast_code(verify_election.round1, 3)
    short = "-".join(code[i : i + 4] for i in range(0, 16, 4)).upper()
    persian = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    for typed in (code, short, f"  {persian} ", short.replace("-", " ")):
        doc = client.get("/api/ballots/" + typed.replace(" ", "%20")).json()
        assert doc["code"] == code
        assert doc["state"] == "cast"
        assert doc["proof_valid"]
        assert doc["signature_valid"]
        assert doc["witnesses"] == 3
    text = _page(client, f"/track?code={short}&lang=en")
    assert "Your ballot is on the board" in text
    assert 'id="proof-valid"' in text
    assert f"/api/ballots/{code}/proof" in text
    client.cookies.clear()


def test_the_downloaded_proof_checks_and_a_changed_one_does_not(
    client: TestClient, verify_election: VerifyElection
) -> None:
    code = _cast_code(verify_election.round1, 5)
    r = client.get(f"/api/ballots/{code}/proof")
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    doc = r.json()
    keys = (verify_election.round1 / "log" / "keys").read_text().splitlines()
    assert check_inclusion(doc, keys)
    assert json.loads(doc["entry"])["tracking_code"] == code
    assert not check_inclusion({**doc, "index": doc["index"] + 1}, keys)
    other = _cast_code(verify_election.round1, 6)
    assert not check_inclusion({**doc, "entry": client.get(f"/api/ballots/{other}/proof").json()[
        "entry"]}, keys)  # fmt: skip


def test_a_challenged_ballot_is_found_as_challenged(
    client: TestClient, verify_election: VerifyElection
) -> None:
    [challenged] = _docs(verify_election.round1, "ballot-challenged")
    doc = client.get(f"/api/ballots/{challenged['ballot_id']}").json()
    assert doc["state"] == "challenged"
    assert doc["proof_valid"]
    text = _page(client, f"/track?code={challenged['ballot_id']}&lang=en")
    assert "never counted" in text
    client.cookies.clear()


def _district_lines(record: Path, district: str) -> list[bytes]:
    return (record / "districts" / district / "entries.jsonl").read_bytes().split(b"\n")[:-1]


def test_a_district_ballot_has_its_two_proofs(
    client: TestClient, verify_election: VerifyElection
) -> None:
    record = verify_election.round1
    code = _cast_code(record, 4)
    doc = client.get(f"/api/ballots/{code}").json()
    # In its district's log, at the index its line there has ...
    district = doc["district"]
    lines = _district_lines(record, district)
    assert doc["log"] == district
    assert json.loads(lines[doc["index"]])["tracking_code"] == code
    # ... at its place in the board's one sequence ...
    assert json.loads(board_lines(record)[doc["position"]])["tracking_code"] == code
    # ... under the seal of its district that first covers it.
    seal = doc["seal"]
    national = (record / "log/entries.jsonl").read_bytes().split(b"\n")[:-1]
    sealed = json.loads(national[seal["index"]])
    assert (sealed["type"], sealed["district"]) == ("district-checkpoint", district)
    assert sealed["checkpoint"].split("\n")[1] == str(seal["district_size"])
    assert seal["district_size"] > doc["index"]
    assert seal["district_proof_valid"]
    assert seal["seal_proof_valid"]
    assert (doc["proof_valid"], doc["signature_valid"], doc["witnesses"]) == (True, True, 3)
    assert doc["checkpoint_size"] == len(national)
    text = _page(client, f"/track?code={code}&lang=en")
    for check in ("district-proof-valid", "seal-proof-valid", "proof-valid", "signature-valid"):
        assert re.search(rf'class="ok" id="{check}"', text), check
    assert f"Entry {doc['index']} of the log of Tabriz" in text
    assert f"Sealed by entry {seal['index']} of the national log" in text
    # The download is the two proofs, which the voter's check takes (and the library's).
    proof = client.get(f"/api/ballots/{code}/proof").json()
    keys = (record / "log" / "keys").read_text().splitlines()
    assert check_inclusion(proof, keys)
    assert check_in_district(DistrictInclusion.from_json(proof), keys[0])
    assert (proof["district"], proof["index"], proof["seal"]["index"]) == (
        district, doc["index"], seal["index"])  # fmt: skip
    assert not check_inclusion({**proof, "index": proof["index"] + 1}, keys)
    client.cookies.clear()


def _proved(source: RecordSource, code: str) -> tuple[BallotHit, DistrictInclusion]:
    [hit] = source.find_ballots(code)
    proof = source.inclusion(hit)
    assert isinstance(proof, DistrictInclusion)
    return hit, proof


def test_the_trackers_check_refuses_a_forged_seal_or_district_proof(
    verify_election: VerifyElection,
) -> None:
    record = verify_election.round1
    source = RecordSource(record)
    keys = source.verifier_keys
    hit, proof = _proved(source, _cast_code(record, 2))
    seal, valid, signed = views.check_proof(proof, hit, keys)
    assert seal is not None
    assert (seal.district_proof_valid, seal.seal_proof_valid, valid, signed) == (True,) * 4

    def refused(forged: DistrictInclusion) -> tuple[bool, bool]:
        seal, valid, signed = views.check_proof(forged, hit, keys)
        assert seal is not None
        assert valid is False
        assert signed is False
        return seal.district_proof_valid, seal.seal_proof_valid

    # A district proof with one hash changed.
    path = list(proof.district_proof)
    path[0] = bytes(b ^ 1 for b in path[0])
    assert refused(replace(proof, district_proof=tuple(path))) == (False, True)
    # Another ballot's entry, or this ballot at another index of its log.
    other_hit, other = _proved(source, _cast_code(record, 3))
    assert refused(replace(proof, entry=other.entry)) == (False, True)
    assert refused(replace(proof, index=proof.index + 1)) == (False, True)
    # The genuine seal of another district, with its genuine path in the national log.
    elsewhere = next(str(d["tracking_code"]) for d in _docs(record, "ballot-cast")
                     if d["ballot"]["district"] != hit.district)  # fmt: skip
    _, foreign = _proved(source, elsewhere)
    moved = replace(proof, seal_index=foreign.seal_index, seal_entry=foreign.seal_entry,
                    national_proof=foreign.national_proof)  # fmt: skip
    assert refused(moved) == (True, False)
    # A seal that holds another checkpoint of the district than the one the ballot is in.
    assert refused(replace(proof, district_note=foreign.district_note)) == (False, False)
    # A seal at another index of the national log.
    assert refused(replace(proof, seal_index=proof.seal_index + 1)) == (True, False)
    # Whole forged logs: the ballot in a district log of one entry and its seal in a national
    # log of one entry, each checkpoint signed with a key of the authority's name but not its
    # key. Every path then leads to its root: only the signatures refuse it.
    origin = parse_verifier(keys[0]).name
    forger, _ = generate_signer(origin)
    district_note = sign_checkpoint(
        Checkpoint(district_origin(origin, hit.log), 1, leaf_hash(proof.entry)), [forger]
    )
    forged_seal = seal_entry(source.base_hash, hit.log, district_note)
    national_note = sign_checkpoint(Checkpoint(origin, 1, leaf_hash(forged_seal)), [forger])
    forged = DistrictInclusion(hit.log, 0, proof.entry, 1, (), district_note, 0, forged_seal, 1,
                               (), national_note)  # fmt: skip
    forged_hit = replace(hit, index=0)
    seal, valid, signed = views.check_proof(forged, forged_hit, keys)
    assert seal is not None
    assert (valid, signed) == (True, False)
    assert other_hit.code != hit.code


class ForgingSource(RecordSource):
    """A hostile server: it serves an honest record, but gives each district ballot a proof
    through another district's seal (a genuine seal, genuinely in the national log)."""

    def inclusion(self, hit: BallotHit) -> Proof | None:
        proof = super().inclusion(hit)
        assert isinstance(proof, DistrictInclusion)
        elsewhere = next(h for d in self.manifest.districts if d.id != hit.district
                         for h in self.find_ballots(_first_cast_in(self, d.id)))  # fmt: skip
        foreign = super().inclusion(elsewhere)
        assert isinstance(foreign, DistrictInclusion)
        return replace(proof, seal_index=foreign.seal_index, seal_entry=foreign.seal_entry,
                       national_proof=foreign.national_proof)  # fmt: skip


def _first_cast_in(source: RecordSource, district: str) -> str:
    found = source.entries("ballot-cast", 0, 100)
    return next(json.loads(e.raw)["tracking_code"] for e in found if e.log == district)


def test_the_tracker_page_shows_a_forged_seal_as_failed(verify_election: VerifyElection) -> None:
    source = ForgingSource(verify_election.round1)
    code = _cast_code(verify_election.round1, 1)
    with TestClient(create_pages(source, None, dict)) as c:
        text = _page(c, f"/track?code={code}&lang=en")
    assert 'class="ok" id="district-proof-valid"' in text
    assert 'class="bad" id="seal-proof-valid"' in text
    assert 'class="bad" id="proof-valid"' in text
    assert 'class="bad" id="signature-valid"' in text
    assert "do NOT check" in text


# --- the board -----------------------------------------------------------------------------


def test_the_board_pages_entries_by_type(
    client: TestClient, verify_election: VerifyElection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "PER_PAGE", 5)
    casts = [d["tracking_code"] for d in _docs(verify_election.round1, "ballot-cast")]
    pages = []
    for page in (1, 2, 3):
        doc = client.get(f"/api/board?type=ballot-cast&page={page}").json()
        assert (doc["pages"], doc["total"]) == (3, 12)
        pages += [e["code"] for e in doc["entries"]]
    assert pages == casts
    text = _page(client, "/board?type=ballot-cast&page=2")
    assert 'rel="prev" href="/board?type=ballot-cast&amp;page=1"' in text
    assert 'rel="next" href="/board?type=ballot-cast&amp;page=3"' in text
    raw = client.get("/api/board/entries/0")
    assert raw.content + b"\n" == (verify_election.round1 / "log/entries.jsonl").read_bytes()[
        : len(raw.content) + 1]  # fmt: skip


def test_the_whole_record_downloads_and_verifies(
    client: TestClient, verify_election: VerifyElection, tmp_path: Path
) -> None:
    r = client.get("/api/record")
    assert r.status_code == 200
    assert int(r.headers["content-length"]) == len(r.content)
    with tarfile.open(fileobj=io.BytesIO(r.content)) as archive:
        archive.extractall(tmp_path, filter="data")
    folder = tmp_path / "test-2024-record"
    names = ["log/entries.jsonl", "log/checkpoint", "log/keys"]
    for district in ("armenians-south", "tabriz"):
        names += [f"districts/{district}/entries.jsonl", f"districts/{district}/checkpoint"]
    # Every file of the record but what is derived from its entries, its tiles and the
    # tracker's index of codes (a record without them checks the same).
    published = {str(p.relative_to(verify_election.round1))
                 for p in verify_election.round1.rglob("*") if p.is_file()
                 and not {"tile", "track"} & set(p.parts) and p.name != "results.md"}  # fmt: skip
    assert published == set(names)
    got = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert got == set(names)
    for name in names:
        assert (folder / name).read_bytes() == (verify_election.round1 / name).read_bytes()
    assert check_record(folder) == []
    assert verify_record(folder).valid


# --- record mode: read-only, no database ---------------------------------------------------


def test_record_mode_has_no_station_console_and_needs_no_database(
    client: TestClient, verify_election: VerifyElection
) -> None:
    text = _page(client, "/station?lang=en", 404)
    assert "There is no station console here" in text
    assert client.post("/station/login", data={"token": "x", "csrf": "y"}).status_code == 404
    assert client.get("/api/election").json()["mode"] == "record"
    assert client.post("/api/checkin", json={}).status_code in (404, 405)
    assert not list(verify_election.round1.glob("*.db"))
    client.cookies.clear()


def test_a_record_that_does_not_check_is_refused(
    verify_election: VerifyElection, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = copy_record(verify_election.round1, tmp_path / "record")
    national = record / "log" / "entries.jsonl"
    lines = national.read_bytes().split(b"\n")[:-1]
    count = json.loads(lines[-1])
    assert count["type"] == "count"
    count["districts"]["tabriz"]["elected"] = ["1104"]
    lines[-1] = canonical_json(count)
    national.write_bytes(b"".join(line + b"\n" for line in lines))  # the root no longer matches
    with pytest.raises(RecordUnusable, match="root hash"):
        record_app(record)
    assert run(["serve", "--record", str(record)]) == 1
    assert "root hash" in capsys.readouterr().err
    assert run(["serve", "--record", str(tmp_path / "nowhere")]) == 1
    # The same board rewritten as a single log under the district record's checkpoint.
    docs = read_entries(copy_record(verify_election.round1, tmp_path / "single"))
    write_entries(tmp_path / "single", docs)
    with pytest.raises(RecordUnusable, match="tree size"):
        record_app(tmp_path / "single")


def test_a_head_request_gets_the_headers_of_the_page_and_no_body(client: TestClient) -> None:
    got = client.get("/board")
    head = client.head("/board")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-security-policy"] == got.headers["content-security-policy"]
    assert client.head("/districts/nowhere").status_code == 404


@pytest.mark.parametrize(
    "path", ["//evil.example/", "///evil.example/board", "//evil.example/%2F..", "/\\evil.example/"]
)
def test_no_link_on_a_page_leaves_the_site_whatever_the_path(client: TestClient, path: str) -> None:
    # `GET //host/` once rendered a language switch to `//host/?lang=en`: a scheme-relative
    # link, that is, an open redirect to any host a link's author chose.
    page_url = f"http://testserver{path}"
    text = client.get(page_url).text
    for link in _LINK.findall(text):
        target = urlsplit(urljoin(page_url, html.unescape(link)))
        assert target.netloc in ("", "testserver"), (path, link)


@pytest.mark.parametrize("url", ["/", "/board", "/track", "/api-docs", "/no-such-page"])
def test_a_record_site_links_to_no_page_it_does_not_have(client: TestClient, url: str) -> None:
    # A record has no station console; every page once linked to /station all the same (404).
    text = client.get(url).text
    for link in _LINK.findall(text):
        target = urlsplit(urljoin(f"http://testserver{url}", html.unescape(link)))
        if target.netloc == "testserver" and target.path not in (url, "/static/site.css"):
            assert client.get(target.path).status_code != 404, (url, link)


def test_a_record_site_over_https_carries_hsts(verify_election: VerifyElection) -> None:
    with TestClient(record_app(verify_election.round1), base_url="https://testserver") as c:
        for url in ("/", "/api/election", "/api/nothing", "/nothing"):
            value = c.get(url).headers.get("strict-transport-security", "")
            assert "max-age=31536000" in value, url
