"""The voter's status page (issue 19, item 4): `GET /status` draws the form, `POST /status`
(national code and status code, never in a URL) shows whether the voter is on the committed
roll and whether, where and when a check-in was recorded in their name, and `POST
/status/complaint` files a complaint about it. The same service and limits as
`POST /api/voter/status` (`verivote.web.voter_status`); the page runs the device's checks on
the server and says so: for a check that trusts nothing of the server, the voter runs
`verivote voter status`. Only the authority's live server has the page; a published record's
site says where to ask.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from verivote.election.turnout import file_complaint
from verivote.polling.turnout import StatusError
from verivote.web.fastpath import client_of
from verivote.web.site.live_source import LiveSource
from verivote.web.site.respond import Pages
from verivote.web.site.source import Source
from verivote.web.throttle import TooManyFailures
from verivote.web.voter_status import GUARDS, StatusGuard, check_status, full_status


def _form(body: bytes) -> dict[str, str]:
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=4)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0].strip() for k, v in fields.items() if v}


def install_status(app: FastAPI, pages: Pages, source: Source) -> None:
    """The page's routes on the site's `app`."""
    live = source if isinstance(source, LiveSource) else None
    turnout = live is not None and live.ctx.manifest.polling.turnout

    def page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("found", None)
        context.setdefault("error_key", None)
        context.setdefault("complaint", None)
        return pages.page(request, "status.html", status, available=turnout, **context)

    @app.get("/status", response_class=HTMLResponse)
    def status_form(request: Request) -> HTMLResponse:
        return page(request)

    async def asked(request: Request) -> tuple[dict[str, str], HTMLResponse | None]:
        form = _form(await request.body())
        if live is None or not turnout:
            return form, page(request, 404, error_key="status_unavailable")
        code, secret = form.get("national_code", ""), form.get("status_code", "")
        if not code or not secret or len(code) > 10 or len(secret) > 64:
            return form, page(request, 400, error_key="status_wrong")
        limits = GUARDS.setdefault(live.ctx.election_id, StatusGuard())
        try:
            limits.check(client_of(request.scope), code)
        except TooManyFailures:
            return form, page(request, 429, error_key="status_too_many")
        return form, None

    @app.post("/status", response_class=HTMLResponse)
    async def status_post(request: Request) -> HTMLResponse:
        form, refused = await asked(request)
        if refused is not None:
            return refused
        assert live is not None
        code = form["national_code"]
        found = full_status(live.store, live.ctx, code, form["status_code"], live.verifier_keys)
        if found is None:
            GUARDS[live.ctx.election_id].failed(client_of(request.scope), code)
            return page(request, 404, error_key="status_wrong")
        if found.get("pseudonym") is None:
            return page(request, 200, error_key="status_not_committed")
        try:
            result = check_status(code, found, list(live.verifier_keys))
        except StatusError:
            return page(request, 500, error_key="status_does_not_check")
        return page(request, found=result, status_code=form["status_code"], code=code)

    @app.post("/status/complaint", response_class=HTMLResponse)
    async def complaint_post(request: Request) -> HTMLResponse:
        form, refused = await asked(request)
        if refused is not None:
            return refused
        assert live is not None
        code = form["national_code"]
        text = form.get("text", "")[:2000] or "-"
        number = file_complaint(live.store, live.ctx, code, form["status_code"], text)
        if number is None:
            GUARDS[live.ctx.election_id].failed(client_of(request.scope), code)
            return page(request, 404, error_key="status_wrong")
        return page(request, complaint=number)
