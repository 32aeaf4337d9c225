"""The check-in API (issue 7): `POST /api/checkin` for station devices, `GET /api/turnout`.

A station device authenticates with its own token (`verivote stations issue-token`), sent as
`Authorization: Bearer <token>`; the server keeps only the token's hash. A check-in names the
voter's national code and a request id chosen by the device, so that a network retry of the
same request gets the same answer and no second record. The answers:

    accepted | already_voted (with the station and hour of the first check-in)
    | not_eligible | wrong_district

Bad input (a malformed national code, a missing or over-long request id, a body that is not
JSON) gets a 4xx with a JSON error and changes nothing. Every response carries strict security
headers. The hour recorded is the hour of polling day in Iran (Asia/Tehran).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine
from starlette.responses import Response

from verivote.model.manifest import Manifest
from verivote.polling.roll import national_code_valid
from verivote.store.roll import check_in, station_of_token, turnout

TEHRAN = ZoneInfo("Asia/Tehran")
MAX_BODY = 1024
"""Bytes: a check-in is about 80; anything much larger is refused unread."""
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class CheckinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    national_code: str = Field(min_length=10, max_length=10)
    request_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class CheckinResponse(BaseModel):
    status: str
    station: str | None = None
    hour: int | None = None


def tehran_hour() -> int:
    return datetime.datetime.now(TEHRAN).hour


def create_app(
    engine: Engine, manifest: Manifest, clock: Callable[[], int] = tehran_hour
) -> FastAPI:
    """The check-in application of one election."""
    app = FastAPI(title="verivote check-in", version="1")
    election_id = manifest.election_id
    district_of = {s.id: s.district for s in manifest.stations}
    province_of = {d.id: d.province or d.id for d in manifest.districts}

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[..., object]) -> Response:
        # Refuse before reading: a body of more than MAX_BODY bytes, or not JSON, never
        # reaches the handlers.
        if request.method == "POST":
            if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                return _error(415, "the body must be JSON (Content-Type: application/json)")
            length = request.headers.get("content-length")
            if length is None or not length.isdigit():
                return _error(411, "a Content-Length header is required")
            if int(length) > MAX_BODY:
                return _error(413, f"the body is larger than {MAX_BODY} bytes")
        response: Response = await call_next(request)  # type: ignore[misc]
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
        return JSONResponse(
            {"error": "bad_request", "detail": f"{where}: {first['msg']}"},
            status_code=400,
            headers=SECURITY_HEADERS,
        )

    def station(authorization: str | None = Header(default=None)) -> str:
        if authorization is None or not authorization.startswith("Bearer "):
            raise HTTPException(401, "a station token is required (Authorization: Bearer …)")
        found = station_of_token(engine, authorization.removeprefix("Bearer ").strip())
        if found is None or found[0] != election_id:
            raise HTTPException(401, "unknown station token")
        return found[1]

    @app.post("/api/checkin", response_model=CheckinResponse, response_model_exclude_none=True)
    def checkin(body: CheckinRequest, station_id: str = Depends(station)) -> CheckinResponse:
        """Check a voter in at this station, once in the whole election."""
        if not national_code_valid(body.national_code):
            raise HTTPException(400, "malformed national code (wrong length or check digit)")
        try:
            result = check_in(
                engine, election_id, body.national_code, station_id,
                district_of[station_id], clock(), body.request_id,
            )  # fmt: skip
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None
        return CheckinResponse(status=result.status, station=result.station, hour=result.hour)

    @app.get("/api/turnout")
    def turnout_now() -> dict[str, dict[str, int]]:
        """Check-ins so far per station, district and province."""
        stations = turnout(engine, election_id)
        districts: dict[str, int] = {}
        provinces: dict[str, int] = {}
        for s, n in stations.items():
            d = district_of.get(s, "?")
            districts[d] = districts.get(d, 0) + n
            provinces[province_of.get(d, d)] = provinces.get(province_of.get(d, d), 0) + n
        return {"stations": stations, "districts": districts, "provinces": provinces}

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": _error_name(exc.status_code), "detail": exc.detail},
            status_code=exc.status_code,
            headers=SECURITY_HEADERS,
        )

    return app


def _error_name(status: int) -> str:
    names = {400: "bad_request", 401: "unauthorized", 404: "not_found", 409: "conflict",
             411: "length_required", 413: "too_large", 415: "unsupported_media_type"}  # fmt: skip
    return names.get(status, "error")


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse(
        {"error": _error_name(status), "detail": detail}, status_code=status,
        headers=SECURITY_HEADERS,
    )  # fmt: skip
