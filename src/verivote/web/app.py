"""The whole application that `verivote serve` serves, composed from its parts.

    live (--db URL --election ID)         record (--record DIR)

    HstsMiddleware   Strict-Transport-Security on every answer to an https request
    FastPaths        POST /api/checkin,    (none: a record takes no check-in or ballot)
                     POST /api/ballots     (`verivote.web.fastpath`: the hot paths)
      PathDispatch
        /api/…, /openapi.json → JSON API: GuardMiddleware (JSON bodies, API headers)
                                  check-in API (`checkin_router`), site API, station API,
                                  cast API (`ballots`: POST /api/ballots, proofs checked in
                                  a process pool stopped at shutdown),
                                  guardians' API (`parties_api`: ceremony, decryption)
        everything else       → pages: PageGuard (form bodies, page CSP), site pages,
                                  station console

The check-in API is the one of issue 7, reused as it is: its hot path stays first, in front of
everything (with the cast's), and its service (token cache, batcher) is the one the station
console checks voters in through. The two halves get different guards because they speak
differently: the API takes JSON only and needs no stylesheet (`default-src 'none'`), the
pages take forms and load the site's own stylesheet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from verivote import __version__
from verivote.board.note import parse_verifier
from verivote.election.publishing import VERIFIERS_FILE, origin
from verivote.election.service import ElectionContext
from verivote.store import Store
from verivote.web.asgi import GuardMiddleware, HstsMiddleware, json_error
from verivote.web.ballots import BallotService, ballots_router, body_limits, cast_route
from verivote.web.batch_timer import batch_timer
from verivote.web.checkin import (
    CheckinService,
    Lifespan,
    fast_paths,
    install_json_errors,
    tehran_hour,
    with_checkin_api,
)
from verivote.web.parties_api import BODY_LIMITS, parties_api
from verivote.web.site.api import site_api
from verivote.web.site.audit_pages import audit_api
from verivote.web.site.audit_source import Audits
from verivote.web.site.console import Station, station_api
from verivote.web.site.live_source import LiveSource
from verivote.web.site.pages import create_pages
from verivote.web.site.record_source import RecordSource
from verivote.web.site.sessions import new_secret
from verivote.web.voter_status import BODY_LIMITS as VOTER_BODY_LIMITS
from verivote.web.voter_status import voter_status_api

API_PREFIX = "/api/"
API_PATHS = frozenset({"/api", "/openapi.json"})
TITLE = "verivote"


class KeysUnusable(ValueError):
    """The verifier keys given for a live election are not its keys; the message says why."""


class PathDispatch:
    """Send API paths to the JSON API and every other path to the pages (plain ASGI). The
    lifespan goes to the API, which owns the check-in batcher that must be stopped."""

    def __init__(self, api: ASGIApp, pages: ASGIApp) -> None:
        self.api = api
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.api(scope, receive, send)
            return
        path = scope.get("path", "")
        is_api = path.startswith(API_PREFIX) or path in API_PATHS
        await (self.api if is_api else self.pages)(scope, receive, send)


def _api(lifespan: Lifespan | None = None) -> FastAPI:
    """A JSON API application whose every error is `{"error": name, "detail": text}`."""
    # No /docs: FastAPI's interactive page loads its scripts from a CDN, and nothing here may
    # load anything from outside. /api-docs (a page) describes the API from /openapi.json.
    app = FastAPI(title=TITLE, version=__version__, docs_url=None, redoc_url=None,
                  lifespan=lifespan)  # fmt: skip
    install_json_errors(app)

    # Starlette's own errors (no such path, a method not allowed) in the same shape.
    @app.exception_handler(StarletteHTTPException)
    async def routing_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return json_error(exc.status_code, str(exc.detail))

    return app


def record_app(directory: Path, audits: Audits | None = None) -> ASGIApp:
    """The site of a published record, read-only, no database (RecordUnusable if the
    directory is not a record that checks), with the pages of `audits` if given."""
    source = RecordSource(directory)
    api = _api()
    api.include_router(site_api(source))
    if audits is not None:
        api.include_router(audit_api(audits))
    pages = create_pages(source, None, api.openapi, audits)
    return HstsMiddleware(PathDispatch(GuardMiddleware(api), pages))


def read_verifiers(keys_dir: Path, election_id: str) -> tuple[str, ...]:
    """The public verifier keys in an election's keys folder (`verifiers`: the authority's
    first), checked to be keys and to be this election's."""
    path = keys_dir / VERIFIERS_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise KeysUnusable(f"cannot read {path}: {exc.strerror or exc}") from None
    keys = tuple(line.strip() for line in lines if line.strip())
    try:
        parsed = [parse_verifier(key) for key in keys]
    except ValueError as exc:
        raise KeysUnusable(f"{path}: {exc}") from None
    if not parsed or parsed[0].name != origin(election_id):
        raise KeysUnusable(f"{path} does not start with the authority key of {election_id}")
    return keys


def stopping(service: CheckinService, ballots: BallotService) -> Lifespan:
    """The live application's lifespan: while it serves, old batches go onto the board
    (`batch_timer`); at shutdown its check-in batcher stops and the cast API's proof-checking
    processes end."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            async with batch_timer(ballots.store, ballots.ctx):
                yield
        finally:
            await ballots.batcher.close()
            await ballots.close()
            await service.batcher.close()

    return lifespan


def live_app(
    store: Store,
    ctx: ElectionContext,
    verifiers: tuple[str, ...] = (),
    secret: bytes | None = None,
    clock: Callable[[], int] = tehran_hour,
    cast_workers: int | None = None,
    check_proofs: bool = True,
    audits: Audits | None = None,
) -> ASGIApp:
    """The site of an election in its database, with the check-in and cast APIs and the
    station console. `verifiers` are the election's public keys (to check checkpoints'
    signatures); `secret` signs the console's sessions (shared by every worker process);
    `clock` gives the check-ins' hour; `cast_workers` is the size of the pool that checks
    ballots' proofs (default: VERIVOTE_CAST_WORKERS, else the CPU count). `check_proofs=False`
    is for `verivote bench cast-api --no-proofs` only (`BallotService`): no CLI serves it.
    `audits`: the ballot-polling audits to show (`serve --audit`)."""
    service = CheckinService(store.engine, ctx.manifest, clock)
    ballots = BallotService(store, ctx, cast_workers, check_proofs)
    source = LiveSource(store, ctx, verifiers)
    station = Station(service, store, ctx, secret if secret is not None else new_secret(),
                      ballots)  # fmt: skip

    api = _api(stopping(service, ballots))
    api.include_router(site_api(source))
    api.include_router(station_api(station))
    api.include_router(ballots_router(ballots, service.station))
    api.include_router(parties_api(store, ctx.election_id, verifiers))
    api.include_router(voter_status_api(store, ctx.election_id, verifiers))
    if audits is not None:
        api.include_router(audit_api(audits))
    guarded = with_checkin_api(api, service)
    guarded.limits.update(BODY_LIMITS)
    guarded.limits.update(VOTER_BODY_LIMITS)
    guarded.limits.update(body_limits(ctx.manifest))
    pages = create_pages(source, station, api.openapi, audits)
    return HstsMiddleware(fast_paths(PathDispatch(guarded, pages), service, cast_route(ballots)))
