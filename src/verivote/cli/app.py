"""The `verivote` command line: sub-commands, and one-line errors instead of tracebacks.

DESIGN.md, "Interfaces": errors are one clear line on stderr and a non-zero exit. Usage
mistakes (unknown option, bad value) exit 2; bad input data or a failed step exit 1; an
unexpected internal error exits 70 with one line (set VERIVOTE_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import sys

import typer

from verivote import __version__
from verivote.cli.audit import audit_app
from verivote.cli.ballot import ballot_app, cast_command
from verivote.cli.bench import bench_app
from verivote.cli.demo import demo
from verivote.cli.election import board_app, election_app
from verivote.cli.errors import run_app
from verivote.cli.forensics import forensics_command
from verivote.cli.guardian import guardian_app
from verivote.cli.interop import add_interop_commands
from verivote.cli.lot import lot_app
from verivote.cli.mix import mix_app
from verivote.cli.mixer import mixer_app
from verivote.cli.official import official_app
from verivote.cli.roll import roll_app
from verivote.cli.serve import serve_command, stations_app
from verivote.cli.sim import sim_app
from verivote.cli.station import device_app, supervisors_app
from verivote.cli.steps import (
    count_command,
    decrypt_command,
    polls_app,
    publish_command,
    runoff_command,
    tally_command,
)
from verivote.cli.tabulate import tabulate
from verivote.cli.track import track_command
from verivote.cli.verify import verify_command
from verivote.cli.voter import voter_app
from verivote.cli.witness import witness_app

app = typer.Typer(
    name="verivote",
    help="verivote: a parliamentary election that anyone can check, end to end.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.command()(tabulate)
app.command()(demo)
app.add_typer(bench_app, name="bench")
app.add_typer(sim_app, name="sim")
app.add_typer(election_app, name="election")
app.add_typer(board_app, name="board")
app.command("cast")(cast_command)
app.add_typer(ballot_app, name="ballot")
app.add_typer(polls_app, name="polls")
app.add_typer(lot_app, name="lot")
app.command("tally")(tally_command)
app.command("decrypt")(decrypt_command)
app.add_typer(guardian_app, name="guardian")
app.add_typer(mix_app, name="mix")
app.add_typer(mixer_app, name="mixer")
app.command("count")(count_command)
app.command("runoff")(runoff_command)
app.command("publish")(publish_command)
app.command("verify")(verify_command)
app.command("track")(track_command)
app.add_typer(roll_app, name="roll")
app.add_typer(stations_app, name="stations")
app.command("serve")(serve_command)
app.add_typer(device_app, name="device")
app.add_typer(supervisors_app, name="supervisors")
app.add_typer(witness_app, name="witness")
app.add_typer(official_app, name="official")
app.add_typer(audit_app, name="audit")
app.add_typer(voter_app, name="voter")
app.command("forensics")(forensics_command)
add_interop_commands(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"verivote {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """verivote: a parliamentary election that anyone can check, end to end."""


def run(argv: list[str] | None = None) -> int:
    """Run the command line on `argv` and return the exit status (never raises)."""
    return run_app(app, argv)


def main() -> None:
    """Console entry point of `verivote`."""
    sys.exit(run())
