"""`verivote witness …`: one faction's witness, a program of its own (issue 14, item 3).

    verivote witness init --dir D --name NAME --log-key KEY     make the folder, print its key
    verivote witness add-log --dir D --log-key KEY              witness one more log (round 2)
    verivote witness serve --dir D [--host H] [--port P]        C2SP tlog-witness over HTTP
    verivote witness show --dir D                               its key and what it cosigned

The folder (`verivote.parties.witness`) holds the witness's key (mode 0600), its state and its
log; the election authority never sees it: it registers the printed verifier key and the URL
with `verivote board add-witness`.
"""

from __future__ import annotations

import base64
import socket
from pathlib import Path
from typing import Annotated

import typer

from verivote.cli.errors import UserError
from verivote.parties import witness as party

witness_app = typer.Typer(
    help="Run one faction's witness: it cosigns only checkpoints consistent with the last.",
    no_args_is_help=True,
)

Dir = Annotated[Path, typer.Option("--dir", help="The witness's own folder (key, state, log).")]
LogKey = Annotated[
    str,
    typer.Option(
        "--log-key", help="The verifier key of the log to witness (the election authority's)."
    ),
]


@witness_app.command("init")
def witness_init(
    directory: Dir,
    name: Annotated[
        str, typer.Option("--name", help="The witness's key name, e.g. witness/reformists.")
    ],
    log_key: LogKey,
) -> None:
    """Make a witness folder with a new key; prints its verifier key (give it to the
    authority: `verivote board add-witness --url URL --key KEY`)."""
    try:
        key = party.init_witness(directory, name, [log_key])
    except party.WitnessError as exc:
        raise UserError(str(exc)) from None
    typer.echo(key)
    typer.echo(f"witness {name} created in {directory}/ (key file mode 0600)", err=True)


@witness_app.command("add-log")
def witness_add_log(directory: Dir, log_key: LogKey) -> None:
    """Witness one more log as well (say, the round-2 election's authority key)."""
    try:
        added = party.add_log_key(directory, log_key)
        party.verifier_key(directory)
    except party.WitnessError as exc:
        raise UserError(str(exc)) from None
    typer.echo("log key pinned" if added else "log key already pinned", err=True)


@witness_app.command("serve")
def witness_serve(
    directory: Dir,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8021,
) -> None:
    """Serve the witness: POST /add-checkpoint (C2SP tlog-witness) until interrupted."""
    try:
        name = party.verifier_key(directory).split("+", 1)[0]
        party.log_keys(directory)
    except party.WitnessError as exc:
        raise UserError(str(exc)) from None
    try:  # a port in use is one line here, not uvicorn's log and exit
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    typer.echo(f"witness {name} listening on http://{host}:{port}/add-checkpoint", err=True)
    party.serve(directory, host, port)


@witness_app.command("show")
def witness_show(directory: Dir) -> None:
    """Print the witness's verifier key, the logs it witnesses and what it last cosigned."""
    try:
        key = party.verifier_key(directory)
        logs = party.log_keys(directory)
        last = party.last_cosigned(directory)
    except party.WitnessError as exc:
        raise UserError(str(exc)) from None
    typer.echo(f"key {key}")
    for log in logs:
        origin = log.split("+", 1)[0]
        checkpoint = last.get(origin)
        seen = (
            f"last cosigned size {checkpoint.size} root "
            f"{base64.b64encode(checkpoint.root).decode('ascii')}"
            if checkpoint
            else "nothing cosigned yet"
        )
        typer.echo(f"log {log}: {seen}")
