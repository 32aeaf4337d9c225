"""The website in a real browser: Debian's headless Chromium (/usr/bin/chromium, installed by
`scripts/setup test`) driven by Playwright, against the application under uvicorn on a
loopback port. Playwright's own browser download is never used.

Each test saves a screenshot in its output folder (pytest's tmp_path) and fails if a page asked
for anything outside the site.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright

from tests.audit_site_fixtures import AuditSite, audit_site
from tests.site_fixtures import (
    TABRIZ_VOTERS,
    LiveElection,
    counted_database,
    make_live,
    serving,
)
from tests.verify_fixtures import VerifyElection, read_entries
from verivote.audit.audit_files import read_state
from verivote.election.publishing import check_inclusion
from verivote.election.service import load_context
from verivote.store import Store, make_engine
from verivote.web.app import live_app, read_verifiers, record_app
from verivote.web.site.audit_source import Audits
from verivote.web.site.i18n import persian_digits, to_ascii_digits

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip
ASCII_DIGIT = re.compile(r"[0-9]")
PERSIAN_DIGITS = re.compile(r"^[۰-۹٬]+$")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: `scripts/setup test` installs Debian's chromium",
                    pytrace=False)  # fmt: skip
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def record_site(verify_election: VerifyElection) -> Iterator[str]:
    """The session's round-1 record, served read-only (`serve --record`)."""
    with serving(record_app(verify_election.round1)) as url:
        yield url


@pytest.fixture(scope="module")
def counted_site(
    verify_election: VerifyElection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The counted election served live from (a copy of) its database."""
    db = counted_database(verify_election, tmp_path_factory.mktemp("browser-counted"))
    engine = make_engine(db.url)
    store = Store(engine)
    app = live_app(store, load_context(store, "test-2024"), read_verifiers(db.keys, "test-2024"))
    with serving(app) as url:
        yield url
    engine.dispose()


@pytest.fixture(scope="module")
def polling_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, LiveElection]]:
    """An election on polling day, served live from its database, with its station console."""
    folder = tmp_path_factory.mktemp("browser-polling")
    election = make_live(f"sqlite:///{folder / 'polling.db'}", folder)
    with serving(live_app(election.store, election.ctx, election.verifiers)) as url:
        yield url, election
    election.store.engine.dispose()


@pytest.fixture(scope="module")
def audits(tmp_path_factory: pytest.TempPathFactory) -> AuditSite:
    """Two audits of a small election's record (`audit_site_fixtures`): Karaj's, confirmed
    after 3 rounds, and Tehran's, in progress after one."""
    return audit_site(tmp_path_factory)


@pytest.fixture(scope="module")
def audit_site_url(audits: AuditSite) -> Iterator[str]:
    """That record served with its audits (`serve --record DIR --audit A --audit B`)."""
    with serving(record_app(audits.record, Audits([audits.karaj, audits.tehran]))) as url:
        yield url


class Visit:
    """A browser context that lets requests to the site through and records any other."""

    def __init__(self, browser: Browser, site: str) -> None:
        self.site = site
        self.outside: list[str] = []
        self.context: BrowserContext = browser.new_context(
            viewport={"width": 1100, "height": 900}, accept_downloads=True
        )
        self.context.route("**/*", self._guard)
        self.page: Page = self.context.new_page()

    def _guard(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(self.site + "/"):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def close(self) -> None:
        self.context.close()
        assert self.outside == [], f"requests outside the site: {self.outside}"


def _visit(browser: Browser, site: str) -> Iterator[Visit]:
    visit = Visit(browser, site)
    yield visit
    visit.close()


@pytest.fixture
def on_record(browser: Browser, record_site: str) -> Iterator[Visit]:
    yield from _visit(browser, record_site)


@pytest.fixture
def on_counted(browser: Browser, counted_site: str) -> Iterator[Visit]:
    yield from _visit(browser, counted_site)


@pytest.fixture
def on_audit(browser: Browser, audit_site_url: str) -> Iterator[Visit]:
    yield from _visit(browser, audit_site_url)


@pytest.fixture
def on_polling(browser: Browser, polling_site: tuple[str, LiveElection]) -> Iterator[Visit]:
    yield from _visit(browser, polling_site[0])


def _text(page: Page, selector: str) -> str:
    return page.locator(selector).first.inner_text().strip()


def test_a_voter_finds_their_ballot_by_tracking_code(
    on_record: Visit, verify_election: VerifyElection, tmp_path: Path
) -> None:
    page = on_record.page
    code = next(d["tracking_code"] for d in read_entries(verify_election.round1)
                if d["type"] == "ballot-cast")  # fmt: skip
    page.goto(on_record.site + "/track")
    # The voter types the short form from the receipt, as printed: groups of four.
    page.fill("#code", "-".join(code[i : i + 4] for i in range(0, 16, 4)))
    page.click("form.track button[type=submit]")
    page.wait_for_selector("#track-result")
    assert code in _text(page, "#track-result")
    # The record has a log per district: the ballot's two proofs, each checked.
    for check in ("#district-proof-valid", "#seal-proof-valid", "#proof-valid"):
        assert page.get_attribute(check, "class") == "ok", check
    assert page.get_attribute("#signature-valid", "class") == "ok"
    assert "رأی شما در تابلوی اعلانات ثبت شده است" in _text(page, "#found-h")
    assert "از دفتر" in _text(page, "#track-log")
    page.screenshot(path=tmp_path / "ballot-tracker.png", full_page=True)
    with page.expect_download() as download:
        page.click("#proof-download")
    proof: dict[str, Any] = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    keys = (verify_election.round1 / "log" / "keys").read_text(encoding="utf-8").splitlines()
    assert proof["code"] == code
    assert "seal" in proof
    assert check_inclusion(proof, keys)
    # A code that is on no ballot: a friendly page, in Persian, with a 404.
    response = page.goto(on_record.site + "/track?code=" + "0" * 64)
    assert response is not None
    assert response.status == 404
    assert "هیچ رأیی با این کد رهگیری" in _text(page, "#track-error")
    page.screenshot(path=tmp_path / "ballot-tracker-unknown.png", full_page=True)


def test_an_observer_reads_a_districts_result(on_counted: Visit, tmp_path: Path) -> None:
    page = on_counted.page
    page.goto(on_counted.site + "/")
    page.click("ul.cards >> text=Tabriz, Azarshahr and Osku")
    page.wait_for_url("**/districts/tabriz")
    assert _text(page, "h1") == "Tabriz, Azarshahr and Osku"
    assert _text(page, "#valid") == "۸"
    assert _text(page, "#void") == "۱"
    badges = {code: _text(page, f"tr[data-code='{code}'] .badge") for code in ("1101", "1102")}
    assert badges == {"1101": "برگزیده", "1102": "برگزیده"}
    statuses = page.locator("#candidates .badge").all_inner_texts()
    assert statuses.count("راه‌یافته به دور دوم") == 2
    assert statuses.count("انتخاب‌نشده") == 1
    assert page.locator("svg.chart rect.bar").count() == 5
    # The threshold line: a vertical line across the bars (no width, so "visible" does not
    # apply to it), at 1.6 votes of the 5 of the longest bar.
    line = page.locator("svg.chart .marker line").bounding_box()
    longest = page.locator("svg.chart rect.bar").first.bounding_box()
    assert line is not None
    assert longest is not None
    assert line["height"] > 100
    # The page is Persian: bars grow leftwards from the right, so the line is 1.6/5 of the
    # longest bar in from its right end.
    from_start = longest["x"] + longest["width"] - line["x"]
    assert from_start == pytest.approx(longest["width"] * 1.6 / 5, abs=2)
    assert "حد نصاب ۲۰٪" in (page.locator("svg.chart .marker text").text_content() or "")
    assert page.locator(".lot").is_visible()
    page.screenshot(path=tmp_path / "district-result.png", full_page=True)


def test_a_station_checks_a_voter_in_and_a_second_check_in_is_refused(
    on_polling: Visit, polling_site: tuple[str, LiveElection], tmp_path: Path
) -> None:
    page = on_polling.page
    page.goto(on_polling.site + "/station")
    page.fill("#token", polling_site[1].tokens["tabriz-003"])  # never opened yet
    page.click("#login")
    page.wait_for_selector("#checkin-form")
    # The staff open the polls first (a public entry on the board).
    page.click("#polls-open")
    page.wait_for_selector("#polls-close")
    assert "رأی‌گیری آغاز شد" in _text(page, "#console-notice")
    before = int(to_ascii_digits(_text(page, "#station-checkins")))
    voter = TABRIZ_VOTERS[5]
    page.fill("#national_code", voter)
    page.click("#checkin")
    assert page.get_attribute("#checkin-answer", "data-status") == "accepted"
    assert "پذیرفته شد" in _text(page, "#checkin-answer")
    page.screenshot(path=tmp_path / "station-accepted.png", full_page=True)
    page.fill("#national_code", voter)
    page.click("#checkin")
    answer = page.locator("#checkin-answer")
    assert answer.get_attribute("data-status") == "already_voted"
    assert answer.is_visible()
    assert "پذیرفته نشد" in answer.inner_text()
    assert "tabriz-003" not in answer.inner_text()  # the status only (issue 15)
    assert _text(page, "#station-checkins") == persian_digits(str(before + 1))
    page.screenshot(path=tmp_path / "station-refused.png", full_page=True)


def test_the_language_switch_turns_the_page_right_to_left_with_persian_digits(
    on_record: Visit, tmp_path: Path
) -> None:
    page = on_record.page
    page.goto(on_record.site + "/?lang=en")
    html = page.locator("html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("en", "ltr")
    assert _text(page, "#turnout-national .figure") == "12"
    page.screenshot(path=tmp_path / "home-english.png", full_page=True)
    page.click("#lang-switch")
    page.wait_for_selector("html[dir=rtl]")
    assert html.get_attribute("lang") == "fa"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    figure = _text(page, "#turnout-national .figure")
    assert figure == "۱۲"
    assert PERSIAN_DIGITS.match(figure)
    assert "میزان مشارکت" in _text(page, "#turnout-h")
    # The figures of the page are Persian digits: the turnout table and the checkpoint's size.
    for cell in page.locator("main td.num, main dl.facts dd").all_inner_texts()[:6]:
        if not re.search(r"[A-Za-z=/+]", cell):
            assert not ASCII_DIGIT.search(cell), cell
    # The header runs right to left: the brand is on the right, the switch on the left.
    brand = page.locator(".brand").bounding_box()
    switch = page.locator("#lang-switch").bounding_box()
    assert brand is not None
    assert switch is not None
    assert brand["x"] > switch["x"]
    # The choice holds on the next page.
    page.goto(on_record.site + "/board")
    assert page.locator("html").get_attribute("dir") == "rtl"
    page.goto(on_record.site + "/")
    page.screenshot(path=tmp_path / "home-persian.png", full_page=True)


def _console_errors(page: Page) -> list[str]:
    """The page's console errors and warnings from now on (a CSP violation is one) and its
    uncaught errors."""
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: found.append(str(e)))
    return found


def test_an_observer_follows_an_audit_to_its_plot_of_the_risks(
    on_audit: Visit, audits: AuditSite, tmp_path: Path
) -> None:
    page = on_audit.page
    errors = _console_errors(page)
    page.goto(on_audit.site + "/?lang=en")
    page.click("header nav >> text=Audit")
    page.wait_for_url("**/audit")
    page.click("#audits >> text=Karaj")
    page.wait_for_url("**/audit/karaj")
    assert _text(page, "#audit-badge") == "confirmed"
    assert _text(page, "#audit-risk-limit") == "5%"
    state = read_state(audits.karaj)
    rounds = len(state["rounds"])
    last = state["rounds"][-1]["assertions"]
    ids = [a["id"] for a in state["assertions"]]
    # Every assertion, in words, with its risk after the last round and its progress bar.
    assert page.locator("#assertions tbody tr").count() == len(ids)
    for a in state["assertions"]:
        row = page.locator(f"#assertions tr[data-assertion='{a['id']}']")
        assert float(row.locator(".risk").inner_text()) == pytest.approx(
            last[a["id"]]["risk"], rel=0.01
        )
        assert row.locator("progress").is_visible()
        assert row.locator("progress").get_attribute("value") == "1.0"
        if a["kind"] == "beats":
            assert f"{a['winner']} beats {a['loser']}" in row.locator("th").inner_text()
    # The plot: one series per assertion, a dot per round, under the risk limit at the end.
    series = page.locator("svg.risk-chart g.series")
    assert series.count() == len(ids)
    assert [g.get_attribute("data-assertion") for g in series.all()] == ids
    limit = page.locator("svg.risk-chart .limit line").bounding_box()
    assert limit is not None
    assert limit["height"] < 3
    assert limit["width"] > 400
    for g in series.all():
        dots = g.locator("circle")
        assert dots.count() == rounds
        first, end = dots.first.bounding_box(), dots.last.bounding_box()
        assert first is not None
        assert end is not None
        assert first["x"] < end["x"]  # round 1 on the left
        assert end["y"] + end["height"] / 2 >= limit["y"] - 1  # confirmed: on or below it
    assert "risk limit 5%" in (page.locator("svg.risk-chart .limit text").text_content() or "")
    # The rounds, their entries, and the last round's pull list by station and box.
    assert page.locator("#rounds tbody tr").count() == rounds
    assert page.locator("#pull tbody tr").count() >= 1
    added = state["rounds"][-1]["size"] - state["rounds"][-2]["size"]
    assert page.locator("#entries tbody tr").count() == added
    page.screenshot(path=tmp_path / "audit-english.png", full_page=True)
    page.click("#rounds tr[data-round='1'] a")
    page.wait_for_url("**/audit/karaj?round=1*")
    assert page.locator("#entries tbody tr").count() == state["rounds"][0]["size"]
    assert errors == []


def test_the_audit_page_in_persian_runs_right_to_left(on_audit: Visit, tmp_path: Path) -> None:
    page = on_audit.page
    errors = _console_errors(page)
    page.goto(on_audit.site + "/audit/karaj?lang=fa")
    html = page.locator("html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("fa", "rtl")
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    assert _text(page, "#audit-badge") == "تأییدشده"
    risks = page.locator("#assertions td.risk").all_inner_texts()
    assert risks
    for risk in risks:
        assert not ASCII_DIGIT.search(risk), risk
    # The table runs right to left: the assertion on the right, its progress bar left of it.
    row = page.locator("#assertions tbody tr").first
    words, bar = row.locator("th").bounding_box(), row.locator("progress").bounding_box()
    assert words is not None
    assert bar is not None
    assert words["x"] > bar["x"]
    # So does the plot: round 1 on the right, the risk axis's labels on the right too.
    ticks = page.locator("svg.risk-chart .rounds text")
    assert ticks.first.text_content() == "۱"
    one, three = ticks.first.bounding_box(), ticks.last.bounding_box()
    plot = page.locator("svg.risk-chart rect.plot").bounding_box()
    axis = page.locator("svg.risk-chart .grid text").first.bounding_box()
    assert one is not None
    assert three is not None
    assert plot is not None
    assert axis is not None
    assert one["x"] > three["x"]
    assert axis["x"] >= plot["x"] + plot["width"] - 1
    assert "حد ریسک ۵٪" in (page.locator("svg.risk-chart .limit text").text_content() or "")
    page.screenshot(path=tmp_path / "audit-persian.png", full_page=True)
    # The audit in progress: its status, and round 2's pull list.
    page.goto(on_audit.site + "/audit/tehran")
    assert page.locator("html").get_attribute("dir") == "rtl"  # the choice holds
    assert page.get_attribute("#audit-status", "data-status") == "in_progress"
    assert "دور ۲" in _text(page, "#pull-h")
    assert page.locator("#pull tbody tr").count() >= 1
    page.screenshot(path=tmp_path / "audit-in-progress.png", full_page=True)
    assert errors == []
