"""`verivote roll import`: load the voter roll of an election from CSV (issue 7)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import rich.progress
import typer
from rich.console import Console

from verivote.cli.election import Db, ElectionId, _context, _store
from verivote.cli.errors import UserError
from verivote.polling.roll import Rejection, RollReport, Voter, read_roll
from verivote.store.roll import import_voters

roll_app = typer.Typer(help="The voter roll.", no_args_is_help=True)


@roll_app.command("import")
def roll_import(
    roll: Annotated[
        Path, typer.Argument(help="CSV: national_code,birth_date,district[,minority].")
    ],
    election: ElectionId = None,
    db: Db = None,
) -> None:
    """Import the voter roll: eligible voters are added, every rejected row is reported."""
    if not roll.is_file():
        raise UserError(f"no such roll file: {roll}")
    store = _store(db)
    ctx = _context(store, election)
    districts = [d.id for d in ctx.manifest.districts]
    report = RollReport()
    console = Console(stderr=True)

    def voters() -> Iterator[tuple[str, str, str | None]]:
        with rich.progress.open(
            roll, "r", encoding="utf-8", newline="", description="reading the roll",
            console=console, transient=True,
        ) as fh:  # fmt: skip
            for item in read_roll(fh, ctx.manifest.date, districts):
                report.note(item)
                if isinstance(item, Voter):
                    yield item.national_code, item.district, item.minority

    try:
        added = import_voters(store.engine, ctx.election_id, voters())
    except UnicodeDecodeError:
        raise UserError(f"{roll} is not UTF-8 text") from None
    console.print(f"{added:,} voters added to the roll of {ctx.election_id}")
    for reason, n in report.rejected.most_common():
        console.print(f"  rejected, {reason}: {n:,}")
    for example in report.examples[:10]:
        assert isinstance(example, Rejection)
        console.print(f"  line {example.line}: {example.reason}")
