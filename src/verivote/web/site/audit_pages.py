"""The audit pages and their JSON (issue 18, item 2), served when `verivote serve` is given
audits' folders (`--audit DIR`, `audit_source.Audits`):

    GET /audit                    the audits (the one audit's page, when there is one)
    GET /audit/{district}         an audit: its status, each assertion's risk and progress,
                                  the plot of the risks by round, the current pull list, and
                                  the audit board's entries of a round (?round=&page=)
    GET /api/audit                the audits: district and status
    GET /api/audit/{district}     an audit's state, as its audit.json holds it

Each request reads the folder again. An audit whose files cannot be read now is a friendly
page (a JSON error from the API) with status 503, never a 500; one of no district audited
here is a 404.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from verivote.audit.ballot_polling import CONFIRMED, FULL_COUNT, IN_PROGRESS
from verivote.web.asgi import HttpError
from verivote.web.site import views
from verivote.web.site.audit_chart import (
    SERIES_CLASSES,
    RiskChart,
    SeriesInput,
    risk_chart,
    risk_text,
)
from verivote.web.site.audit_source import (
    Audit,
    Audits,
    AuditState,
    AuditUnreadable,
    EntryRow,
    Found,
    read_audit,
)
from verivote.web.site.i18n import Language
from verivote.web.site.respond import Pages, visitor_of
from verivote.web.site.source import Source

log = logging.getLogger(__name__)
PER_PAGE = 100
"""Entries of a round shown on a page."""
MAX_POSITIONS = 200
"""Positions listed for one box of the pull list; the rest are counted ("and 12 more")."""
STATUS_KEYS = {IN_PROGRESS: "in_progress", CONFIRMED: "confirmed", FULL_COUNT: "full_count"}
DISTRICT = PathParam(min_length=1, max_length=200)
UNREADABLE = 503


@dataclass(frozen=True)
class AssertionLine:
    id: str
    words: str
    names: str
    """The candidates' names, for a tooltip."""
    asn: float | None
    risk: float | None
    """After the last round; None before the first has ended."""
    risk_text: str
    confirmed: bool
    progress: float
    """How far the risk has come down from 1 to the risk limit on a log scale, 0 … 1."""
    series: str


@dataclass(frozen=True)
class RoundLine:
    round: int
    size: int
    added: int
    entries: int
    confirmed: int
    status_key: str


@dataclass(frozen=True)
class PullGroup:
    station: str
    box: int
    count: int
    positions: list[int]
    more: int


@dataclass(frozen=True)
class EntriesTable:
    round: int
    rows: list[EntryRow]
    total: int
    page: int
    pages: int
    first: int
    """The place in the round of the first row shown (1-based)."""


@dataclass(frozen=True)
class AuditPage:
    district: str
    name: str
    status_key: str
    risk_limit: float
    risk_limit_text: str
    seed: str
    population: int
    sampled: int
    next_size: int | None
    """The size of the round in progress (None once the audit is over)."""
    confirmed: int
    assertions: list[AssertionLine]
    rounds: list[RoundLine]
    pull_round: int
    pull_total: int
    pull: list[PullGroup]
    entries: EntriesTable | None


class AuditSummary(BaseModel):
    district: str
    status: Literal["in progress", "confirmed", "full hand count"] | None
    """None when its state cannot be read now."""


def progress(risk: float | None, limit: float) -> float:
    """How far a measured risk has come down from 1 (0) to the risk limit (1), on a log
    scale: the share of the evidence the assertion needs that the sample has given."""
    if risk is None or risk >= 1:
        return 0.0
    if risk <= limit:
        return 1.0
    return max(0.0, min(1.0, math.log(risk) / math.log(limit)))


def limit_text(lang: Language, limit: float) -> str:
    """A risk limit as a percentage with no more decimals than it has: 5%, 2.5%."""
    percent = limit * 100
    places = next((p for p in range(3) if abs(round(percent, p) - percent) < 1e-9), 3)
    return lang.percent(limit, places)


def assertion_words(lang: Language, kind: str, winner: str, loser: str | None,
                    threshold: Fraction | None) -> str:  # fmt: skip
    """What an assertion says: "1101 beats 1102", "1101 reached 20% of the valid ballots"."""
    share = lang.percent(threshold, 0) if threshold is not None else "–"
    return lang.t(f"assertion_{kind}", winner=lang.digits(winner),
                  loser=lang.digits(loser or ""), share=share)  # fmt: skip


def _threshold(state: AuditState) -> Fraction | None:
    return None if state.threshold is None else Fraction(state.threshold)


def _names(source: Source, district: str) -> tuple[str, dict[str, str]]:
    """The district's name and its candidates' names, if the election served has it."""
    found = next((d for d in source.manifest.districts if d.id == district), None)
    if found is None:
        return district, {}
    return found.name, {c.code: c.name for c in found.candidates}


def _pull_groups(audit: Audit) -> list[PullGroup]:
    boxes: dict[tuple[str, int], list[int]] = defaultdict(list)
    for row in audit.pull:
        boxes[(row.station, row.box)].append(row.position)
    return [
        PullGroup(station, box, len(found), sorted(found)[:MAX_POSITIONS],
                  max(0, len(found) - MAX_POSITIONS))
        for (station, box), found in sorted(boxes.items())
    ]  # fmt: skip


def _entries(audit: Audit, round_: int | None, page: int) -> EntriesTable | None:
    if not audit.entries:
        if round_ is not None or page != 1:
            raise views.NotFound("error_no_page", "no round of this audit has entries yet")
        return None
    n = len(audit.entries) if round_ is None else round_
    if not 1 <= n <= len(audit.entries):
        raise views.NotFound("error_no_page", f"round {n} is not between 1 and "
                             f"{len(audit.entries)}")  # fmt: skip
    rows = audit.entries[n - 1]
    pages = max(1, -(-len(rows) // PER_PAGE))
    if page > pages:
        raise views.NotFound("error_no_page", f"page {page} is not between 1 and {pages}")
    start = (page - 1) * PER_PAGE
    return EntriesTable(n, rows[start : start + PER_PAGE], len(rows), page, pages, start + 1)


def audit_page(
    lang: Language, source: Source, audit: Audit, round_: int | None = None, page: int = 1
) -> AuditPage:
    state = audit.state
    name, candidates = _names(source, state.district)
    threshold = _threshold(state)
    last = state.rounds[-1] if state.rounds else None
    lines = []
    for i, a in enumerate(state.assertions):
        measured = last.assertions[a.id] if last is not None else None
        risk = measured.risk if measured is not None else None
        names = " – ".join(candidates.get(c, c) for c in (a.winner, a.loser) if c is not None)
        lines.append(AssertionLine(
            id=a.id, words=assertion_words(lang, a.kind, a.winner, a.loser, threshold),
            names=names, asn=a.asn, risk=risk,
            risk_text=risk_text(lang, risk) if risk is not None else "–",
            confirmed=measured is not None and measured.confirmed,
            progress=progress(risk, state.risk_limit), series=f"series-{i % SERIES_CLASSES}",
        ))  # fmt: skip
    rounds = []
    before = 0
    for found, entries in zip(state.rounds, audit.entries, strict=True):
        rounds.append(RoundLine(
            round=found.round, size=found.size, added=found.size - before, entries=len(entries),
            confirmed=sum(r.confirmed for r in found.assertions.values()),
            status_key=STATUS_KEYS[found.status],
        ))  # fmt: skip
        before = found.size
    over = state.status != IN_PROGRESS
    return AuditPage(
        district=state.district, name=name, status_key=STATUS_KEYS[state.status],
        risk_limit=state.risk_limit, risk_limit_text=limit_text(lang, state.risk_limit),
        seed=state.seed, population=state.population,
        sampled=before, next_size=None if over else state.next_size,
        confirmed=sum(line.confirmed for line in lines), assertions=lines, rounds=rounds,
        pull_round=audit.pull_round, pull_total=len(audit.pull), pull=_pull_groups(audit),
        entries=_entries(audit, round_, page),
    )  # fmt: skip


def audit_chart(lang: Language, view: AuditPage, state: AuditState) -> RiskChart | None:
    """The plot of the risks by round (None before the first round has ended)."""
    if not state.rounds:
        return None
    series = [
        SeriesInput(a.id, line.words, [r.assertions[a.id].risk for r in state.rounds])
        for a, line in zip(state.assertions, view.assertions, strict=True)
    ]
    labels = (lang.t("audit_chart_risk_axis"), lang.t("audit_chart_round_axis"),
              lang.t("audit_chart_limit", share=view.risk_limit_text))  # fmt: skip
    title = lang.t("audit_chart_title", district=view.name)
    return risk_chart(lang, title, series, len(state.rounds), state.risk_limit, labels)


def install_audits(app: FastAPI, pages: Pages, source: Source, audits: Audits) -> None:
    """The audit pages on the site's page application, and the link in its menu."""
    nav = list(pages.nav)
    nav.insert(max(0, len(nav) - 1), ("nav_audit", "/audit"))  # before the API's
    pages.nav = tuple(nav)

    def show(request: Request, found: Found, round_: int | None, page: int) -> HTMLResponse:
        try:
            if found.state is None:
                raise AuditUnreadable(found.error or "")
            audit = read_audit(found.folder, found.state)
        except AuditUnreadable as exc:
            log.warning("the audit of %s cannot be read: %s", found.district, exc)
            return pages.page(request, "error.html", UNREADABLE, status_code=UNREADABLE,
                              message_key="audit_unreadable")  # fmt: skip
        lang = visitor_of(request).lang
        view = audit_page(lang, source, audit, round_, page)
        return pages.page(request, "audit.html", audit=view,
                          chart=audit_chart(lang, view, audit.state))  # fmt: skip

    @app.get("/audit", response_class=HTMLResponse)
    def audit_list(request: Request) -> HTMLResponse:
        found = audits.all()
        if len(found) == 1:
            return show(request, found[0], None, 1)
        lang = visitor_of(request).lang
        rows = [(f, _names(source, f.district)[0],
                 STATUS_KEYS[f.state.status] if f.state is not None else None,
                 limit_text(lang, f.state.risk_limit) if f.state is not None else None)
                for f in found]  # fmt: skip
        return pages.page(request, "audits.html", audits=rows)

    @app.get("/audit/{district}", response_class=HTMLResponse)
    def audit(
        request: Request,
        district: str = DISTRICT,
        round: int | None = Query(default=None, ge=1, le=views.MAX_PAGE),
        page: int = Query(default=1, ge=1, le=views.MAX_PAGE),
    ) -> HTMLResponse:
        found = audits.find(district)
        if found is None:
            raise views.NotFound("error_no_audit", f"no audit of {district!r} here")
        return show(request, found, round, page)


def audit_api(audits: Audits) -> APIRouter:
    router = APIRouter()

    @router.get("/api/audit", response_model=list[AuditSummary])
    def audit_list() -> list[AuditSummary]:
        """The ballot-polling audits this site shows: each one's district and status (none
        when its state cannot be read now)."""
        return [AuditSummary(district=f.district, status=f.state.status if f.state else None)
                for f in audits.all()]  # fmt: skip

    @router.get("/api/audit/{district}", response_model=AuditState)
    def audit(district: str = DISTRICT) -> AuditState:
        """The state of the ballot-polling audit of a district, as its audit.json holds it:
        the plan (risk limit, seed, the reported outcome, the boxes), its assertions with
        their expected sample sizes, each round's measured risks, and its status."""
        found = audits.find(district)
        if found is None:
            raise HttpError(404, f"no audit of district {district!r} here")
        if found.state is None:
            raise HttpError(UNREADABLE, f"this audit's state cannot be read: {found.error}")
        return found.state

    return router
