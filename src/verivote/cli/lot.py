"""`verivote lot contribute`: one guardian's contribution to the lot (issue 14, item 4;
README, "The lot"), on the election's database (VERIVOTE_DATABASE_URL or --db), with the
conventions of `verivote.cli.election`.

Each guardian runs it once the key is known (after `election ceremony`, or after `runoff`
for a round 2 that reuses the key) and before `tally`, which waits for a quorum of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from verivote.cli.election import Db, ElectionId, _context, _store
from verivote.cli.errors import UserError
from verivote.crypto.keyfile import read_key_share
from verivote.election.lot import contribute_lot
from verivote.election.service import ElectionError
from verivote.store import StoreError

lot_app = typer.Typer(
    help="The lot that breaks ties: the guardians' encrypted contributions.",
    no_args_is_help=True,
)


@lot_app.command("contribute")
def contribute_command(
    key: Annotated[Path, typer.Option("--key", help="The guardian's key share file (mode 0600).")],
    election: ElectionId = None,
    db: Db = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Publish this guardian's encrypted, proven contribution to the lot (before the tally)."""
    store = _store(db)
    ctx = _context(store, election)
    try:
        share = read_key_share(key)
        index = contribute_lot(store, ctx, share)
    except (ElectionError, StoreError, ValueError) as exc:  # ValueError: the key file
        raise UserError(str(exc)) from None
    if as_json:
        typer.echo(json.dumps({"guardian": share.guardian, "entry": index}))
        return
    Console().print(f"guardian {share.guardian}: lot contribution published (board entry {index})")
