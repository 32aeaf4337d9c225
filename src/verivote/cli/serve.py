"""`verivote stations issue-token` and `verivote serve`: the check-in service (issue 7)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from verivote.cli.election import Db, ElectionId, _context, _store
from verivote.cli.errors import UserError
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
    election: ElectionId = None,
    db: Db = None,
) -> None:
    """Serve the check-in API (POST /api/checkin, GET /api/turnout; OpenAPI at /docs)."""
    import uvicorn

    from verivote.web.checkin import create_app

    store = _store(db)
    ctx = _context(store, election)
    uvicorn.run(create_app(store.engine, ctx.manifest), host=host, port=port, log_level="info")
