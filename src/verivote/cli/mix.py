"""`verivote mix status` and `verivote mix close`: the authority's steps of the mix path
(issue 16; `verivote.election.mixing`), on the election's database (VERIVOTE_DATABASE_URL or
--db), with the conventions of `verivote.cli.election`. Each faction mixes with its own
program, `verivote mixer`; the guardians decrypt the closed mix with theirs."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from verivote.cli.election import Db, ElectionId, _context, _store
from verivote.cli.errors import UserError
from verivote.cli.steps import AsJson
from verivote.election.mixing import close_mix, mix_status
from verivote.election.service import ElectionError
from verivote.store import StoreError

mix_app = typer.Typer(
    help="The mix of the written ballots: its state, and closing it.", no_args_is_help=True
)


@mix_app.command("status")
def status_command(election: ElectionId = None, db: Db = None, as_json: AsJson = False) -> None:
    """Per mixnet district: its ballots, the mixers that have shuffled it and those still
    awaited, and how far the guardians' decryption is."""
    store = _store(db)
    ctx = _context(store, election)
    try:
        status = mix_status(store, ctx)
    except (ElectionError, StoreError) as exc:
        raise UserError(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(status, ensure_ascii=False))
        return
    console = Console()
    if not status["districts"]:
        console.print("no district of this election is counted on the mix path")
        return
    state = "closed" if status["closed"] else "open"
    table = Table(title=f"mix ({state}; quorum {status['quorum']} of {len(status['mixers'])})")
    for column in ("district", "ballots", "shuffled by", "waiting for", "decryption"):
        table.add_column(column)
    for district, d in status["districts"].items():
        decrypted = ", ".join(
            f"guardian {g}: {n}/{d['batches']}" for g, n in d["decrypted_batches"].items()
        )
        table.add_row(
            district,
            "no tally yet" if d["rows"] is None else f"{d['rows']:,}",
            ", ".join(d["shuffled_by"]) or "-",
            ", ".join(d["waiting_for"]) or "-",
            "published" if d["decrypted"] else decrypted or "-",
        )
    console.print(table)


@mix_app.command("close")
def close_command(election: ElectionId = None, db: Db = None, as_json: AsJson = False) -> None:
    """Close the mix once every mixnet district has a quorum of shuffles: from then on only
    the guardians' decryptions of the last rows are accepted."""
    store = _store(db)
    ctx = _context(store, election)
    try:
        closed = close_mix(store, ctx)
    except (ElectionError, StoreError) as exc:
        raise UserError(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(closed, ensure_ascii=False))
        return
    for district, d in closed["districts"].items():
        Console().print(f"mix of {district} closed after {d['shuffles']} shuffle(s)")
