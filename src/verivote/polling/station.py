"""A polling station's device: check voters in online, or record them locally while the
connection is down and upload the records later (issue 7, "Outages").

The journal is the station's own record of what it did offline: a JSON-lines file, one line
appended (and synced to disk) per check-in made offline, then one line per upload naming the
records the server has answered. A crash loses nothing already journaled; an upload cut short
is simply repeated, since the server answers a request id it has seen with its first answer.

Nothing else is kept: like the server's check-in, a journal record is the voter, the request
id and the hour.

A ballot cast while the server cannot be reached (`cast`, issue 15) is journaled too, as its own
kind of line, `{"ballot": {"tracking_code": code, "ballot": {...}}}`: the encrypted ballot
only, never its opening. `upload` sends the check-ins first, then the ballots one by one to
`POST /api/ballots`, so that the server never sees a station's ballots outnumber its check-ins
for want of an upload; a ballot the server already has (`already_accepted`) counts as done.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verivote.polling.roll import national_code_valid

UPLOAD_CHUNK = 2000
"""Records per upload request (the server's limit)."""
TIMEOUT_S = 5.0
CAST_PATH = "/api/ballots"
CAST_TIMEOUT_S = 60.0
"""Seconds a cast may take: the server checks every proof first (a Tehran ballot holds 3,547)."""


class ServerUnreachable(Exception):
    """The check-in server did not answer (connection refused, timed out, or a 5xx)."""


class Refused(Exception):
    """The server refused the request itself (a 4xx: bad token, malformed code...)."""

    def __init__(self, status: int, document: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {document.get('detail', document)}")
        self.status = status
        self.document = document


@dataclass(frozen=True)
class Server:
    """The check-in server and this station's token."""

    url: str
    token: str

    def post(self, path: str, document: Any, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        body = json.dumps(document).encode()
        request = urllib.request.Request(
            self.url.rstrip("/") + path, data=body, method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as exc:
            if exc.code >= 500:
                # 503 is the server's database out for a moment (Retry-After): journaled and
                # uploaded later like any other failure to reach it.
                wait = exc.headers.get("Retry-After") if exc.headers else None
                later = f"; retry after {wait} s" if wait and wait.isdigit() else ""
                raise ServerUnreachable(f"the server failed (HTTP {exc.code}{later})") from None
            try:
                document = json.loads(exc.read())
            except ValueError:
                document = {"detail": exc.reason}
            raise Refused(exc.code, document) from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise ServerUnreachable(str(getattr(exc, "reason", exc))) from None


def new_request_id() -> str:
    return secrets.token_urlsafe(12)


def check_in(
    server: Server, journal: Path, national_code: str, hour: Callable[[], int]
) -> dict[str, Any]:
    """Check a voter in online; if the server cannot be reached, record the check-in in the
    journal instead and answer `{"status": "recorded_offline", ...}`."""
    if not national_code_valid(national_code):
        raise ValueError(f"{national_code!r} is not a valid national code")
    request_id = new_request_id()
    try:
        return server.post(
            "/api/checkin", {"national_code": national_code, "request_id": request_id}
        )
    except ServerUnreachable as exc:
        record = {"national_code": national_code, "request_id": request_id, "hour": hour()}
        append(journal, {"record": record})
        return {"status": "recorded_offline", "request_id": request_id, "reason": str(exc)}


def append(journal: Path, line: dict[str, Any]) -> None:
    """One line added to the journal and synced to disk before returning."""
    fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def cast(server: Server, journal: Path, ballot: dict[str, Any], code: str) -> dict[str, Any]:
    """Cast an encrypted ballot (whose tracking code is `code`); if the server cannot be
    reached, journal it instead and answer `{"status": "recorded_offline", ...}`. Refused
    (a 4xx) is raised: the ballot was not taken and nothing is journaled."""
    try:
        return server.post(CAST_PATH, {"ballot": ballot}, CAST_TIMEOUT_S)
    except ServerUnreachable as exc:
        append(journal, {"ballot": {"tracking_code": code, "ballot": ballot}})
        return {"status": "recorded_offline", "tracking_code": code, "reason": str(exc)}


def pending(journal: Path) -> list[dict[str, Any]]:
    """The journal's records that no upload has had answered yet, in order: check-ins
    (`national_code`, `request_id`, `hour`) and ballots (`tracking_code`, `ballot`)."""
    records: dict[str, dict[str, Any]] = {}
    for line in _lines(journal):
        if "record" in line:
            records.setdefault(line["record"]["request_id"], line["record"])
        if "ballot" in line:
            records.setdefault(line["ballot"]["tracking_code"], line["ballot"])
        for key in line.get("uploaded", []):
            records.pop(key, None)
    return list(records.values())


def is_ballot(record: dict[str, Any]) -> bool:
    return "ballot" in record


def _lines(journal: Path) -> Iterator[dict[str, Any]]:
    if not journal.exists():
        return
    with journal.open(encoding="utf-8") as fh:
        for number, text in enumerate(fh, 1):
            if not text.strip():
                continue
            try:
                yield json.loads(text)
            except ValueError:
                if text.endswith("\n"):
                    raise ValueError(f"{journal}:{number}: not a journal line") from None
                # the last line, cut short by a crash while it was written: never synced,
                # so never reported as recorded
                return


FATAL = frozenset({401, 411, 413, 415})
"""Refusals of the whole upload (a bad token, a request the server cannot take), not of one
ballot: the upload stops and the ballots stay pending."""


def upload(server: Server, journal: Path) -> dict[str, Any]:
    """Upload every pending record, check-ins first, then ballots one by one; returns the
    totals and the server's answers for the check-ins it refused and kept as conflicts and
    the ballots it refused."""
    todo = pending(journal)
    checkins = [r for r in todo if not is_ballot(r)]
    totals = {"uploaded": 0, "accepted": 0, "conflicts": 0, "errors": 0}
    refused: list[dict[str, Any]] = []
    for start in range(0, len(checkins), UPLOAD_CHUNK):
        chunk = checkins[start : start + UPLOAD_CHUNK]
        report = server.post("/api/checkin/offline", {"records": chunk})
        append(journal, {"uploaded": [r["request_id"] for r in chunk]})
        totals["uploaded"] += len(chunk)
        for key in ("accepted", "conflicts", "errors"):
            totals[key] += int(report[key])
        refused += [r for r in report["results"] if r["status"] != "accepted"]
    ballots = {"uploaded": 0, "accepted": 0, "already_accepted": 0, "refused": 0}
    refused_ballots: list[dict[str, Any]] = []
    for record in (r for r in todo if is_ballot(r)):
        code = record["tracking_code"]
        try:
            answer = server.post(CAST_PATH, {"ballot": record["ballot"]}, CAST_TIMEOUT_S)
            status = str(answer["status"])
        except Refused as exc:
            if exc.status in FATAL:
                raise
            status = "refused"
            refused_ballots.append({"tracking_code": code, "status": exc.status,
                                    "error": exc.document.get("error"),
                                    "detail": exc.document.get("detail")})  # fmt: skip
        append(journal, {"uploaded": [code], "status": status})
        ballots["uploaded"] += 1
        ballots[status if status in ballots else "refused"] += 1
    return {**totals, "refused": refused, "ballots": ballots, "refused_ballots": refused_ballots}
