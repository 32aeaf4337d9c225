"""The website's audit pages (issue 18, item 2): `verivote serve --audit DIR` shows a
ballot-polling audit as its folder holds it on each request (GET /audit, /audit/{district},
/api/audit/{district}), from real audits of a real small election (`audit_site_fixtures`)."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from tests.audit_site_fixtures import AuditSite, audit_site, copy_audit, enter_round
from tests.demo_fixtures import demo_environment
from verivote.audit import audit_files
from verivote.web.app import record_app
from verivote.web.site.audit_chart import SeriesInput, risk_chart
from verivote.web.site.audit_pages import limit_text, progress
from verivote.web.site.audit_source import Audits, AuditUnusable
from verivote.web.site.guard import PAGE_CSP
from verivote.web.site.i18n import Lang, catalogue, language

EN, FA = language("en"), language("fa")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> AuditSite:
    return audit_site(tmp_path_factory)


@pytest.fixture(scope="module")
def client(site: AuditSite) -> Iterator[TestClient]:
    with TestClient(record_app(site.record, Audits([site.karaj, site.tehran]))) as c:
        yield c


def _state(folder: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((folder / audit_files.STATE).read_text())
    return state


def _message(lang: Lang, key: str) -> str:
    """A message as the pages show it (escaped as Jinja escapes)."""
    return str(escape(catalogue(lang)[key]))


def _rows(page: str, table: str) -> list[str]:
    body = page.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr[ >].*?</tr>", body, re.S)[1:]


def test_the_api_gives_the_state_its_folder_holds(client: TestClient, site: AuditSite) -> None:
    r = client.get("/api/audit/karaj")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    state = _state(site.karaj)
    # Everything audit.json holds but the server's path to the record.
    assert r.json() == {k: v for k, v in state.items() if k != "record"}
    assert r.json()["status"] == "confirmed"
    assert [x["size"] for x in r.json()["rounds"]] == [20, 40, 80]
    listed = client.get("/api/audit").json()
    assert listed == [{"district": "karaj", "status": "confirmed"},
                      {"district": "tehran", "status": "in progress"}]  # fmt: skip
    missing = client.get("/api/audit/nowhere")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert "/api/audit/{district}" in client.get("/openapi.json").json()["paths"]


def test_the_page_shows_every_assertion_with_its_risk_and_progress(
    client: TestClient, site: AuditSite
) -> None:
    r = client.get("/audit/karaj?lang=en")
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == PAGE_CSP
    page = r.text
    state = _state(site.karaj)
    last = state["rounds"][-1]["assertions"]
    assertions = state["assertions"]
    rows = _rows(page, "assertions")
    assert len(rows) == len(assertions)
    for a, row in zip(assertions, rows, strict=True):
        assert f'data-assertion="{html.escape(a["id"])}"' in row
        risk = last[a["id"]]["risk"]
        assert risk <= 0.05
        shown = re.search(r'class="num risk">([^<]+)<', row)
        assert shown is not None
        assert float(shown.group(1)) == pytest.approx(risk, rel=0.01)
        assert '<progress max="1" value="1.0"' in row
        assert "confirmed" in row
    beats = next(a for a in assertions if a["kind"] == "beats")
    assert f"{beats['winner']} beats {beats['loser']}" in page
    reached = next(a for a in assertions if a["kind"] == "reached")
    assert f"{reached['winner']} reached 20% of the valid ballots" in page
    assert 'data-status="confirmed"' in page
    assert state["seed"] in page
    assert ">5%<" in page  # the risk limit
    # One series per assertion, a point per round, and the risk limit's line.
    chart = page.split('id="risk-chart"', 1)[1].split("</svg>", 1)[0]
    assert chart.count('<g class="series ') == len(assertions)
    assert chart.count("<circle ") == 3 * len(assertions)
    assert chart.count("<polyline ") == len(assertions)
    assert '<g class="limit">' in chart
    assert "risk limit 5%" in chart
    # The rounds: entries recorded per round; the last round's pull list and entries.
    counts = [re.search(r'class="num entries">(\d+)<', row) for row in _rows(page, "rounds")]
    assert [int(c.group(1)) for c in counts if c] == [20, 20, 40]
    assert "Round 3: the ballots to pull" in page
    pulled = audit_files.pull_path(site.karaj, 3).read_text().splitlines()[1:]
    stations = {line.split(",")[1] for line in pulled}
    assert len(_rows(page, "pull")) == len(stations)
    assert len(_rows(page, "entries")) == 40
    # The nav links to the audits.
    assert '<a href="/audit" aria-current="page">Audit</a>' in page


def test_an_audit_in_progress_shows_its_current_pull_list(
    client: TestClient, site: AuditSite
) -> None:
    page = client.get("/audit/tehran?lang=en").text
    assert 'data-status="in_progress"' in page
    assert "reading the ballots of round 2" in page
    assert "Round 2: the ballots to pull" in page
    pulled = audit_files.pull_path(site.tehran, 2).read_text().splitlines()[1:]
    assert f"{len(pulled)} ballots, by polling station and box" in page
    assert "Round 1: the audit board&#39;s entries" in page
    state = _state(site.tehran)
    assert len(_rows(page, "assertions")) == len(state["assertions"])
    chart = page.split('id="risk-chart"', 1)[1].split("</svg>", 1)[0]
    assert chart.count('<g class="series ') == len(state["assertions"])
    assert "<polyline " not in chart  # one round: dots only
    # Another round's entries, and pages beyond the rounds: 404.
    assert client.get("/audit/tehran?round=1&page=1").status_code == 200
    assert client.get("/audit/tehran?round=2").status_code == 404
    assert client.get("/audit/tehran?round=1&page=2").status_code == 404
    assert client.get("/audit/tehran?round=0").status_code == 400


def test_the_list_and_persian_pages(client: TestClient) -> None:
    page = client.get("/audit?lang=en").text
    assert 'href="/audit/karaj"' in page
    assert 'href="/audit/tehran"' in page
    fa = client.get("/audit/karaj?lang=fa").text
    assert '<html lang="fa" dir="rtl">' in fa
    assert _message("fa", "audit_assertions_title") in fa
    assert "۵٪" in fa
    risks = re.findall(r'class="num risk">([^<]+)<', fa)
    assert risks
    assert all(not re.search(r"[0-9]", r) for r in risks)


def test_an_unknown_district_is_a_404_and_no_path_comes_from_the_url(
    client: TestClient,
) -> None:
    for url in ("/audit/nowhere", "/audit/..%2F..%2Fetc", "/audit/karaj%00", "/audit/KARAJ"):
        r = client.get(url + "?lang=en")
        assert r.status_code == 404, url
        assert _message("en", "error_no_audit") in r.text or "no such page" in r.text, url
    r = client.get("/api/audit/..%2Faudit-karaj")
    assert r.status_code == 404


def test_a_state_that_cannot_be_read_is_a_friendly_page(site: AuditSite, tmp_path: Path) -> None:
    folder = copy_audit(site.tehran, tmp_path / "tehran")
    good = (folder / audit_files.STATE).read_text()
    with TestClient(record_app(site.record, Audits([site.karaj, folder]))) as c:
        for bad in ("{not json", '{"district": "tehran"}', "[]",
                    good.replace('"population": ', '"population": -')):  # fmt: skip
            (folder / audit_files.STATE).write_text(bad)
            r = c.get("/audit/tehran?lang=en")
            assert r.status_code == 503, bad
            assert _message("en", "audit_unreadable") in r.text
            assert "Traceback" not in r.text
            api = c.get("/api/audit/tehran")
            assert api.status_code == 503
            assert "cannot be read" in api.json()["detail"]
            assert str(folder) not in api.json()["detail"]  # no server path
            assert c.get("/api/audit").json()[1] == {"district": "tehran", "status": None}
            listed = c.get("/audit?lang=en")
            assert listed.status_code == 200
            assert _message("en", "audit_unreadable") in listed.text
        (folder / audit_files.STATE).write_text(good)
        assert c.get("/audit/tehran").status_code == 200
        # A damaged entries file or pull list: the same page.
        entries = audit_files.entries_path(folder, 1)
        kept = entries.read_text()
        entries.write_text(kept.replace("station,box", "station,boxes", 1))
        assert c.get("/audit/tehran").status_code == 503
        entries.write_text(kept + "tehran-001,1\n")
        assert c.get("/audit/tehran").status_code == 503
        entries.write_text(kept)
        audit_files.pull_path(folder, 2).unlink()
        assert c.get("/audit/tehran").status_code == 503


def test_the_page_follows_the_audit_as_it_goes_on(site: AuditSite, tmp_path: Path) -> None:
    folder = copy_audit(site.tehran, tmp_path / "tehran")
    with TestClient(record_app(site.record, Audits([folder]))) as c:
        before = c.get("/audit?lang=en").text  # one audit: /audit is its page
        assert "Round 2: the ballots to pull" in before
        enter_round(folder, site.paper)
        after = c.get("/audit?lang=en").text
        assert len(_rows(after, "rounds")) == 2
        assert "Round 2: the audit board&#39;s entries" in after
        assert len(c.get("/api/audit/tehran").json()["rounds"]) == 2


def test_no_audit_no_pages_and_no_link(site: AuditSite, tmp_path: Path) -> None:
    with TestClient(record_app(site.record)) as c:
        assert 'href="/audit"' not in c.get("/").text
        assert c.get("/audit").status_code == 404
        assert c.get("/api/audit/karaj").status_code == 404
    with pytest.raises(AuditUnusable, match="no audit the site can read"):
        Audits([tmp_path])
    with pytest.raises(AuditUnusable, match="a second audit of district karaj"):
        Audits([site.karaj, copy_audit(site.karaj, tmp_path / "again")])


def test_serve_refuses_an_audit_folder_it_cannot_read(site: AuditSite, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "verivote", "serve", "--record", str(site.record),
         "--audit", str(tmp_path), "--port", "1"],
        capture_output=True, text=True, env=demo_environment(), timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "no audit the site can read" in done.stderr
    assert "Traceback" not in done.stderr


def test_progress_and_the_risk_limits_text() -> None:
    assert progress(None, 0.05) == 0.0
    assert progress(1.0, 0.05) == 0.0
    assert progress(0.05, 0.05) == 1.0
    assert progress(0.001, 0.05) == 1.0
    assert progress(0.05**0.5, 0.05) == pytest.approx(0.5)
    assert limit_text(EN, 0.05) == "5%"
    assert limit_text(EN, 0.025) == "2.5%"
    assert limit_text(FA, 0.1) == "۱۰٪"


def test_the_risk_plot_is_on_a_log_scale_and_mirrored_right_to_left() -> None:
    series = [SeriesInput("a", "A", [0.5, 0.1, 0.01]), SeriesInput("b", "B", [0.9, None, 0.0])]
    labels = ("risk", "round", "limit")
    ltr = risk_chart(EN, "t", series, 3, 0.05, labels)
    assert [len(s.points) for s in ltr.series] == [3, 2]
    a = ltr.series[0].points
    assert a[0].x < a[1].x < a[2].x
    assert a[0].y < a[1].y < a[2].y  # lower risk, lower on the plot
    # Equal steps on the log scale: 0.1 → 0.01 is one decade, as on the axis.
    decades = {g.label: g.y for g in ltr.grid}
    assert decades["1"] < decades["0.1"] < decades["0.01"]
    assert a[2].y - a[1].y == pytest.approx(decades["0.01"] - decades["0.1"])
    assert a[1].y == decades["0.1"]
    assert decades["0.1"] < ltr.limit.y < decades["0.01"]
    # A risk of 0 is drawn on the floor.
    assert ltr.series[1].points[1].y == max(decades.values())
    rtl = risk_chart(FA, "t", series, 3, 0.05, labels)
    b = rtl.series[0].points
    assert b[0].x > b[1].x > b[2].x
    assert b[0].x == pytest.approx(ltr.width - a[0].x)
    assert [p.y for p in b] == [p.y for p in a]
    assert rtl.direction == "rtl"
    assert all(not re.search(r"[0-9]", g.label) for g in rtl.grid)
    tiny = risk_chart(EN, "t", [SeriesInput("c", "C", [1e-40])], 1, 0.05, labels)
    assert len(tiny.grid) <= 7
    assert tiny.series[0].points[0].y == max(g.y for g in tiny.grid)
