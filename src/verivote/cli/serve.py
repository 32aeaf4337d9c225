"""`verivote stations issue-token` and `revoke` (issue 15), and `verivote serve`: the public
website with, from a database, the station console and the check-in API (issues 7 and 8)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from verivote.cli.election import DEFAULT_KEYS, Db, ElectionId, _context, _store
from verivote.cli.errors import UserError
from verivote.election.publishing import VERIFIERS_FILE
from verivote.store.access import issue_token, revoke_station
from verivote.store.db import ENV_VAR

stations_app = typer.Typer(help="Polling stations' devices.", no_args_is_help=True)


@stations_app.command("issue-token")
def stations_issue_token(
    station: Annotated[str, typer.Argument(help="The station the token is for.")],
    election: ElectionId = None,
    db: Db = None,
) -> None:
    """Issue a new token for a station's device. It is shown once; only its hash is kept. It
    expires when polling day ends (the manifest's polling.ends), or when revoked."""
    store = _store(db)
    ctx = _context(store, election)
    if station not in {s.id for s in ctx.manifest.stations}:
        raise UserError(f"station {station!r} is not in the manifest of {ctx.election_id}")
    ends = ctx.manifest.polling.ends
    expires_at = None if ends is None else int(ends.timestamp())
    token = issue_token(store.engine, ctx.election_id, station, expires_at)
    typer.echo(token)
    until = "until revoked" if ends is None else f"until {ends.isoformat()}"
    Console(stderr=True).print(
        f"token for {station}, valid {until} (shown once; give it to the station's device only)"
    )


@stations_app.command("revoke")
def stations_revoke(
    station: Annotated[str, typer.Argument(help="The station whose tokens to revoke.")],
    election: ElectionId = None,
    db: Db = None,
) -> None:
    """Revoke every token of a station and end its console sessions, on every server process
    within a second. Issue a new token to let the station back in."""
    store = _store(db)
    ctx = _context(store, election)
    if station not in {s.id for s in ctx.manifest.stations}:
        raise UserError(f"station {station!r} is not in the manifest of {ctx.election_id}")
    done = revoke_station(store.engine, ctx.election_id, station)
    typer.echo(
        f"revoked {station}: {done.tokens} token(s) and {done.sessions} console session(s) ended"
    )


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes (on 2 cores shared with the database, 2 gain little over 1).",
        ),
    ] = 1,
    record: Annotated[
        Path | None,
        typer.Option(
            "--record",
            help="Serve this published record directory, read-only, without a database.",
        ),
    ] = None,
    keys_dir: Annotated[
        Path | None,
        typer.Option(
            "--keys-dir",
            help="The election's keys folder, for its public verifier keys only, to check "
            f"checkpoints' signatures (default: {DEFAULT_KEYS}/ if it holds them).",
        ),
    ] = None,
    cast_workers: Annotated[
        int | None,
        typer.Option(
            "--cast-workers",
            min=1,
            max=256,
            help="Processes that check cast ballots' proofs, per server process (default: "
            "VERIVOTE_CAST_WORKERS, else the CPU count).",
        ),
    ] = None,
    audit: Annotated[
        list[Path] | None,
        typer.Option(
            "--audit",
            help="A ballot-polling audit's folder (`verivote audit start --dir`) to show at "
            "/audit, read again on every request; repeat for several (one server process).",
        ),
    ] = None,
    election: ElectionId = None,
    db: Db = None,
) -> None:
    """Serve the public website (results, ballot tracker, bulletin board; JSON API described
    at /openapi.json) and, from a database, the station console and the check-in API
    (POST /api/checkin, GET /api/turnout) and the cast API (POST /api/ballots); with --audit,
    the audits' pages (/audit) and state (/api/audit/{district})."""
    import uvicorn

    from verivote.web.app import KeysUnusable, live_app, read_verifiers, record_app
    from verivote.web.ballots import CAST_WORKERS_VAR
    from verivote.web.serving import (
        ELECTION_VAR,
        FACTORY,
        KEYS_VAR,
        RECORD_VAR,
        SECRET_VAR,
    )
    from verivote.web.site.audit_source import Audits, AuditUnusable
    from verivote.web.site.record_source import RecordUnusable
    from verivote.web.site.sessions import new_secret

    # No access log: a line per request with its time to the second and the station's address
    # would record what the check-ins table deliberately does not (the hour only).
    options: dict[str, Any] = {
        "host": host, "port": port, "log_level": "info", "access_log": False,
    }  # fmt: skip
    audits = None
    if audit:
        if workers != 1:
            raise UserError("--audit serves with one server process: give no --workers")
        try:
            audits = Audits(audit)
        except AuditUnusable as exc:
            raise UserError(str(exc)) from None
    if record is not None:
        if db is not None or election is not None or keys_dir is not None:
            raise UserError("--record serves a published record: give no --db, --election "
                            "or --keys-dir with it")  # fmt: skip
        try:
            app = record_app(record, audits)  # checks the record before any worker starts
        except RecordUnusable as exc:
            raise UserError(str(exc)) from None
        if workers == 1:
            uvicorn.run(app, **options)
            return
        os.environ[RECORD_VAR] = str(record.resolve())
        uvicorn.run(FACTORY, factory=True, workers=workers, **options)
        return
    if cast_workers is not None:  # read by every server process's cast API
        os.environ[CAST_WORKERS_VAR] = str(cast_workers)
    store = _store(db)
    ctx = _context(store, election)
    folder = keys_dir if keys_dir is not None else DEFAULT_KEYS
    verifiers: tuple[str, ...] = ()
    if keys_dir is not None or (DEFAULT_KEYS / VERIFIERS_FILE).is_file():
        try:
            verifiers = read_verifiers(folder, ctx.election_id)
        except KeysUnusable as exc:
            raise UserError(str(exc)) from None
    secret = new_secret()
    if workers == 1:
        uvicorn.run(live_app(store, ctx, verifiers, secret, audits=audits), **options)
        return
    store.engine.dispose()
    os.environ[ENV_VAR] = store.engine.url.render_as_string(hide_password=False)
    os.environ[ELECTION_VAR] = ctx.election_id
    os.environ[SECRET_VAR] = secret.hex()
    if verifiers:
        os.environ[KEYS_VAR] = str(folder.resolve())
    uvicorn.run(FACTORY, factory=True, workers=workers, **options)
