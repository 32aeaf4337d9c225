"""The site's pages (server-rendered HTML), their errors, and their static files.

    GET /                     home: the election, turnout, the latest checkpoint, districts
    GET /districts/{id}       a district's result, with its bar chart and any lot
    GET /track[?code=]        the ballot tracker
    GET /receipt/{code}       a cast ballot's printable receipt, with its code as a QR code
    GET /board[?type=&page=]  the board: checkpoints, cosignatures, entries by type and page
    GET /station …            the station console (`console`)
    GET /audit …              ballot-polling audits, when the site is given some (`audit_pages`)
    GET /api-docs             the JSON API, described from its OpenAPI document
    GET /static/{name}        the stylesheet

Every error is a page in the visitor's language with the right status (400, 403, 404, 405,
413, 415, 500), never a stack trace; a database outage is a 503 page with Retry-After
(`verivote.web.outage`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request as StarletteRequest
from starlette.types import ASGIApp, Scope

from verivote.web.outage import DATABASE_ERRORS, RETRY_AFTER, is_outage, log_failure
from verivote.web.site import charts, views
from verivote.web.site.api import TYPE_PATTERN
from verivote.web.site.audit_pages import install_audits
from verivote.web.site.audit_source import Audits
from verivote.web.site.console import Station, install_console
from verivote.web.site.guard import PageGuard
from verivote.web.site.i18n import Language
from verivote.web.site.qr import qr_svg
from verivote.web.site.render import static_files
from verivote.web.site.respond import Pages, visitor_of
from verivote.web.site.source import Source
from verivote.web.site.status_page import install_status

log = logging.getLogger(__name__)
STATUS_KEYS = {
    400: "error_bad_request", 403: "error_forbidden", 404: "error_not_found",
    405: "error_method", 411: "error_bad_form", 413: "error_too_large",
    415: "error_bad_form", 500: "error_internal", 503: "error_unavailable",
}  # fmt: skip


def _count_text(lang: Language, count: int, share: float | None) -> str:
    """A bar's value: the count, and its share when there is one ("5 (62.5%)")."""
    text = lang.number(count)
    return text if share is None else f"{text} ({lang.percent(share)})"


def district_chart(result: views.DistrictResult, lang: Language) -> charts.BarChart:
    """The votes of a district's candidates, with the law's threshold as a line (round 1)."""
    rows = [
        charts.Row(f"{lang.digits(c.code)} {c.name}", float(c.votes),
                   _count_text(lang, c.votes, c.share), c.status or "pending")
        for c in result.candidates
    ]  # fmt: skip
    marker = None
    if result.threshold_votes is not None and result.threshold is not None:
        label = lang.t("chart_threshold", share=lang.percent(result.threshold, 0))
        marker = (float(result.threshold_votes), label)
    title = lang.t("chart_votes_title", district=result.name)
    return charts.bar_chart(title, rows, lang.direction == "rtl", marker)


def turnout_chart(turnout: views.TurnoutView, lang: Language) -> charts.BarChart:
    """Turnout by district (with its share of the roll where the roll is known)."""
    rows = [
        charts.Row(d.name, float(d.voted), _count_text(lang, d.voted, d.share), "turnout")
        for d in turnout.districts
    ]
    return charts.bar_chart(lang.t("chart_turnout_title"), rows, lang.direction == "rtl")


def api_summary(schema: dict[str, Any]) -> list[dict[str, str]]:
    """(method, path, summary) of every operation of an OpenAPI document, in path order."""
    operations = []
    for path, item in sorted(schema.get("paths", {}).items()):
        for method, operation in item.items():
            if method in {"get", "post", "put", "delete", "patch"}:
                text = operation.get("description") or operation.get("summary") or ""
                operations.append({"method": method.upper(), "path": path,
                                   "summary": text.strip().split("\n\n")[0]})  # fmt: skip
    return operations


def create_pages(
    source: Source,
    station: Station | None,
    openapi: Callable[[], dict[str, Any]],
    audits: Audits | None = None,
) -> ASGIApp:
    """The pages of the site over `source`, with the console of `station` (None: no console,
    as for a published record). `openapi` gives the JSON API's description; `audits` are the
    audits to show (None: no audit pages, and no link to them)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    pages = Pages(source, console=station is not None)

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        lang = visitor_of(request).lang
        turnout = views.turnout_view(source)
        return pages.page(
            request, "home.html", election=views.election_view(source), turnout=turnout,
            chart=turnout_chart(turnout, lang), checkpoint=views.latest_checkpoint(source),
        )  # fmt: skip

    @app.get("/districts/{district_id}", response_class=HTMLResponse)
    def district(request: Request, district_id: str) -> HTMLResponse:
        result = views.district_result(source, district_id)
        lang = visitor_of(request).lang
        return pages.page(request, "district.html", result=result,
                          chart=district_chart(result, lang) if result.counted else None,
                          election=views.election_view(source))  # fmt: skip

    @app.get("/track", response_class=HTMLResponse)
    def track(request: Request, code: str | None = None) -> HTMLResponse:
        if code is None:
            return pages.page(request, "track.html", code="", found=None, error_key=None)
        try:
            found = views.track(source, code)
        except (views.BadInput, views.NotFound) as exc:
            status = 400 if isinstance(exc, views.BadInput) else 404
            return pages.page(request, "track.html", status, code=code[:views.MAX_CODE_INPUT],
                              found=None, error_key=exc.key)  # fmt: skip
        return pages.page(request, "track.html", code=code, found=found, error_key=None)

    @app.get("/receipt/{code}", response_class=HTMLResponse)
    def receipt(request: Request, code: str) -> HTMLResponse:
        lang = visitor_of(request).lang
        found = views.receipt_view(source, code)
        return pages.page(request, "receipt.html", receipt=found,
                          qr=qr_svg(found.code, lang.t("receipt_qr")))  # fmt: skip

    @app.get("/board", response_class=HTMLResponse)
    def board(
        request: Request,
        type: str | None = Query(default=None, pattern=TYPE_PATTERN),
        page: int = Query(default=1, ge=1, le=views.MAX_PAGE),
    ) -> HTMLResponse:
        return pages.page(request, "board.html", board=views.board_page(source, type, page),
                          checkpoints=views.checkpoints_view(source),
                          downloadable=source.record_files() is not None)  # fmt: skip

    @app.get("/api-docs", response_class=HTMLResponse)
    def api_docs(request: Request) -> HTMLResponse:
        return pages.page(request, "api_docs.html", operations=api_summary(openapi()))

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        found = static_files().get(name)
        if found is None:
            raise StarletteHTTPException(404)
        return Response(found.content, media_type=found.media_type)

    install_console(app, pages, station)
    install_status(app, pages, source)
    if audits is not None:
        install_audits(app, pages, source, audits)

    @app.exception_handler(views.NotFound)
    async def not_found(request: Request, exc: views.NotFound) -> HTMLResponse:
        return pages.error(request, 404, exc.key)

    @app.exception_handler(views.BadInput)
    async def bad_input(request: Request, exc: views.BadInput) -> HTMLResponse:
        return pages.error(request, 400, exc.key)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> HTMLResponse:
        return pages.error(request, 400, "error_bad_request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        status = exc.status_code if exc.status_code in STATUS_KEYS else 500
        return pages.error(request, status, STATUS_KEYS[status])

    async def database_failed(request: Request, exc: Exception) -> HTMLResponse:
        if station is not None and is_outage(exc):
            station.service.outage.failed(exc)
            response = pages.error(request, 503, "error_unavailable")
            response.headers.update(RETRY_AFTER)
            return response
        log_failure(f"page {request.url.path}", exc)
        return pages.error(request, 500, "error_internal")

    for kind in DATABASE_ERRORS:
        app.add_exception_handler(kind, database_failed)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> HTMLResponse:
        log.error("page %s failed", request.url.path, exc_info=exc)
        return pages.error(request, 500, "error_internal")

    async def refusal(scope: Scope, status: int, reason: str) -> bytes:
        request = StarletteRequest(scope)
        return bytes(pages.error(request, status, STATUS_KEYS.get(status, "error_bad_form")).body)

    return PageGuard(app, refusal)
