"""`verivote stations issue-token` and `verivote serve`: the check-in service (issue 7)."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.console import Console

from verivote.cli.election import Db, ElectionId, _context, _store
from verivote.cli.errors import UserError
from verivote.store.db import ENV_VAR
from verivote.store.roll import issue_token

stations_app = typer.Typer(help="Polling stations' devices.", no_args_is_help=True)


@stations_app.command("issue-token")
def stations_issue_token(
    station: Annotated[str, typer.Argument(help="The station the token is for.")],
    election: ElectionId = None,
    db: Db = None,
) -> None:
    """Issue a new token for a station's device. It is shown once; only its hash is kept."""
    store = _store(db)
    ctx = _context(store, election)
    if station not in {s.id for s in ctx.manifest.stations}:
        raise UserError(f"station {station!r} is not in the manifest of {ctx.election_id}")
    token = issue_token(store.engine, ctx.election_id, station)
    typer.echo(token)
    Console(stderr=True).print(
        f"token for {station} (shown once; give it to the station's device only)"
    )


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Server processes (one per core is a good start).")
    ] = 1,
    election: ElectionId = None,
    db: Db = None,
) -> None:
    """Serve the check-in API (POST /api/checkin, GET /api/turnout; OpenAPI at /docs)."""
    import uvicorn

    from verivote.web.checkin import create_app
    from verivote.web.serving import ELECTION_VAR, FACTORY

    store = _store(db)
    ctx = _context(store, election)
    # No access log: a line per request with its time to the second and the station's address
    # would record what the check-ins table deliberately does not (the hour only).
    options: dict[str, Any] = {
        "host": host, "port": port, "log_level": "info", "access_log": False,
    }  # fmt: skip
    if workers == 1:
        uvicorn.run(create_app(store.engine, ctx.manifest), **options)
        return
    store.engine.dispose()
    os.environ[ENV_VAR] = store.engine.url.render_as_string(hide_password=False)
    os.environ[ELECTION_VAR] = ctx.election_id
    uvicorn.run(FACTORY, factory=True, workers=workers, **options)
