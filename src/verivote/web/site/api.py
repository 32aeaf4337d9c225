"""The site's JSON API: everything the pages show, from the same views (`views`).

    GET /api/election                  the election, its districts and factions
    GET /api/participation             turnout, national and by district and station
    GET /api/districts/{id}            a district's result
    GET /api/checkpoints               signed checkpoints with their cosignatures, newest first
    GET /api/board?type=&page=         board entries by position, by page
    GET /api/board/entries/{index}     the entry at one board position, exactly as on the board
    GET /api/ballots/{code}            the ballot tracker's answer, proof checked
    GET /api/ballots/{code}/proof      the inclusion proof (two for a district ballot), to check
    GET /api/record                    the whole record as of the latest checkpoint (a tar)

A board position is a place in the one sequence the logs are read as (README, "National scale
(issue 17)": Order): the national log with each district's entries just before the seal that
sealed them, the seals left out (`views.BoardPage`).

Errors are JSON (`{"error": name, "detail": text}`), as in the check-in API.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response, StreamingResponse

from verivote.web.asgi import HttpError
from verivote.web.site import views
from verivote.web.site.source import RecordFile, Source

TYPE_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"
BLOCK = tarfile.BLOCKSIZE


def _raise(error: views.BadInput | views.NotFound) -> HttpError:
    return HttpError(400 if isinstance(error, views.BadInput) else 404, error.detail)


def tar_stream(folder: str, files: list[RecordFile], mtime: int = 0) -> Iterator[bytes]:
    """A POSIX tar archive of `files` under `folder/`, made as it is sent: a national record
    is never held whole in memory. A file whose content is not the size announced is an
    error (the archive would be corrupt), raised rather than sent."""
    for item in files:
        info = tarfile.TarInfo(f"{folder}/{item.name}")
        info.size, info.mtime, info.mode = item.size, mtime, 0o644
        yield info.tobuf(format=tarfile.USTAR_FORMAT)
        sent = 0
        for chunk in item.chunks:
            sent += len(chunk)
            yield chunk
        if sent != item.size:
            raise RuntimeError(f"{item.name}: {sent} bytes sent, {item.size} announced")
        if item.size % BLOCK:
            yield bytes(BLOCK - item.size % BLOCK)
    yield bytes(2 * BLOCK)


def tar_size(files: list[RecordFile]) -> int:
    """The length of `tar_stream`'s archive of `files`."""
    return sum(BLOCK + -(-f.size // BLOCK) * BLOCK for f in files) + 2 * BLOCK


def site_api(source: Source) -> APIRouter:
    router = APIRouter()

    @router.get("/api/election", response_model=views.ElectionView)
    def election() -> views.ElectionView:
        """The election: its manifest's summary, districts and factions, and where this
        server reads it from (`record` or `live`)."""
        return views.election_view(source)

    @router.get("/api/participation", response_model=views.TurnoutView)
    def participation() -> views.TurnoutView:
        """Turnout so far: from the check-ins while the election runs, from the stations'
        closing statements in a published record."""
        return views.turnout_view(source)

    @router.get("/api/districts/{district_id}", response_model=views.DistrictResult)
    def district(
        district_id: str = Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
    ) -> views.DistrictResult:
        """A district's candidates with their votes and standing (elected, in the runoff, not
        elected), valid and void ballots, the threshold, and any lot drawn."""
        try:
            return views.district_result(source, district_id)
        except views.NotFound as exc:
            raise _raise(exc) from None

    @router.get("/api/checkpoints", response_model=list[views.CheckpointView])
    def checkpoints() -> list[views.CheckpointView]:
        """The signed checkpoints of the board, newest first, each signature checked against
        the election's published keys."""
        return views.checkpoints_view(source)

    @router.get("/api/board", response_model=views.BoardPage)
    def board(
        type: str | None = Query(default=None, pattern=TYPE_PATTERN),
        page: int = Query(default=1, ge=1, le=views.MAX_PAGE),
    ) -> views.BoardPage:
        """The board's entries by position, `views.PER_PAGE` a page, of one type or all, each
        with its log and index there; each log's size, and the entries not yet sealed."""
        try:
            return views.board_page(source, type, page)
        except views.NotFound as exc:
            raise _raise(exc) from None

    @router.get("/api/board/entries/{index}")
    def entry(index: int = Path(ge=0, le=2**63 - 1)) -> Response:
        """The entry at a board position, byte for byte as in its log (canonical JSON)."""
        try:
            raw = views.board_entry(source, index)
        except views.NotFound as exc:
            raise _raise(exc) from None
        return Response(raw, media_type="application/json")

    @router.get("/api/ballots/{code}", response_model=views.TrackResult)
    def ballot(code: str = Path(max_length=views.MAX_CODE_INPUT)) -> views.TrackResult:
        """Is the ballot with this tracking code (64 hex digits, or the first 16) on the
        board, and does its inclusion proof check against the signed checkpoint? A ballot in
        its district's log has two: in the district checkpoint of its seal, and that seal in
        the national checkpoint."""
        try:
            return views.track(source, code)
        except (views.BadInput, views.NotFound) as exc:
            raise _raise(exc) from None

    @router.get("/api/ballots/{code}/proof")
    def proof(code: str = Path(max_length=views.MAX_CODE_INPUT)) -> Response:
        """The ballot's inclusion proof in the latest signed checkpoint, as a file: the
        format of `verivote board prove-inclusion` (for a district ballot both proofs, which
        `check_inclusion` checks)."""
        try:
            doc: dict[str, Any] = views.proof_document(source, code)
        except (views.BadInput, views.NotFound) as exc:
            raise _raise(exc) from None
        name = re.sub(r"[^0-9a-f]", "", doc["code"])[:16]
        return Response(
            json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="inclusion-proof-{name}.json"'},
        )

    @router.get("/api/record", response_class=StreamingResponse)
    def record() -> StreamingResponse:
        """The whole election record as of the latest signed checkpoint: a tar of
        log/entries.jsonl, log/checkpoint and log/keys, and each district's log up to its last
        seal within that checkpoint (districts/<id>/entries.jsonl and checkpoint), for
        `verivote verify`."""
        files = source.record_files()
        if files is None:
            raise HttpError(404, "no complete record yet (no signed checkpoint, or no keys)")
        folder = f"{source.manifest.election_id}-record"
        return StreamingResponse(
            tar_stream(folder, files),
            media_type="application/x-tar",
            headers={
                "Content-Disposition": f'attachment; filename="{folder}.tar"',
                "Content-Length": str(tar_size(files)),
            },
        )

    return router
