"""`verivote verify RECORD_DIR`: the independent verifier (`verivote.verify`) on a published
record; with `--format electionguard`, on an ElectionGuard 2.0 record instead
(`verivote.interop.electionguard`). With `--ray ADDRESS` the ballots and the mix are checked as
Ray tasks (`verivote.cluster`). Exit 0 when every check passes, 1 when any fails, 2 when the
record cannot be read (or the Ray cluster cannot be used)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from verivote.cli.cluster import RayOption, check_ray_option, cluster_for
from verivote.cli.errors import UserError
from verivote.interop.electionguard import verify_electionguard_record
from verivote.verify import Check, RecordError, Report, verify_record

SHOWN = 3
"""Failures shown per check in the table (--json gives them all)."""

FORMATS = ("verivote", "electionguard")
"""Record formats `verify` reads: verivote's own, and ElectionGuard 2.0 (egk's JSON layout)."""


@contextmanager
def _ballot_bar(console: Console) -> Iterator[Callable[[int, int], None]]:
    """A progress bar for the ballots, shown from the first ballot on (none for none)."""
    bars: Progress | None = None
    task: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bars, task
        if total == 0:
            return
        if bars is None:
            bars = Progress(
                TextColumn("checking ballots"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            bars.start()
            task = bars.add_task("ballots", total=total)
        bars.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if bars is not None:
            bars.stop()


def _result(check: Check) -> str:
    if check.passed is None:
        return "[yellow]skipped[/]"
    return "[green]pass[/]" if check.passed else "[bold red]FAIL[/]"


def _failures(check: Check) -> str:
    if check.skipped is not None:
        return escape(check.skipped)
    lines = [escape(f.text()) for f in check.failures[:SHOWN]]
    if len(check.failures) > SHOWN:
        lines.append(f"… {len(check.failures) - SHOWN} more (see --json)")
    return "\n".join(lines)


def render(report: Report, console: Console) -> None:
    """The table of checks, the ballot rate, and the verdict."""
    table = Table(title="Verification", title_justify="left")
    table.add_column("check")
    table.add_column("result")
    table.add_column("items", justify="right")
    table.add_column("failures")
    for check in report.checks:
        table.add_row(check.id, _result(check), f"{check.items:,}", _failures(check))
    console.print(table)
    if report.timing is not None:
        t = report.timing
        jobs = int(t["jobs"])
        console.print(
            f"{int(t['selections']):,} selections verified in {t['ballot_seconds']:.2f} s: "
            f"{t['ms_per_selection']:.2f} ms per selection on {jobs} job{'s' * (jobs != 1)}, "
            f"{report.ballots_per_second:,.1f} ballots/s"
        )
    else:
        ballots = report.check("ballots").items + report.check("challenged").items
        console.print(f"{ballots:,} ballots verified, {report.ballots_per_second:,.0f} ballots/s")
    skipped = [c.id for c in report.checks if c.passed is None]
    if report.valid and skipped:
        console.print(
            f"[bold green]the record verifies[/], except what was not checked: {', '.join(skipped)}"
        )
    elif report.valid:
        console.print("[bold green]the record verifies[/]")
    else:
        console.print(f"[bold red]the record does NOT verify[/]: {', '.join(report.failed())}")


def verify_command(
    record: Annotated[
        Path,
        typer.Argument(
            help="The record folder: the one holding log/, or for --format electionguard the "
            "one holding election_config.json."
        ),
    ],
    since: Annotated[
        Path | None,
        typer.Option("--since", help="An earlier signed checkpoint the record must extend."),
    ] = None,
    previous: Annotated[
        Path | None,
        typer.Option("--previous", help="For a round-2 record: the round-1 record folder."),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", min=1, help="Processes checking ballots (default: every core)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    record_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="The record's format: verivote's own, or an ElectionGuard 2.0 record.",
            click_type=click.Choice(FORMATS),
        ),
    ] = "verivote",
    ray: RayOption = None,
) -> None:
    """Verify a published election record on its own: every check, pass or fail."""
    if record_format == "electionguard" and (since is not None or previous is not None):
        raise click.UsageError("--since and --previous apply to verivote records only")
    if record_format == "electionguard" and ray is not None:
        raise click.UsageError("--ray applies to verivote records only")
    check_ray_option(ray, jobs)
    console = Console(stderr=as_json)
    try:
        with cluster_for(ray) as cluster, _ballot_bar(console) as progress:
            if record_format == "electionguard":
                report = verify_electionguard_record(record, jobs, progress)
            else:
                report = verify_record(record, since, previous, jobs, progress, cluster)
    except RecordError as exc:
        sys.stderr.write(f"verivote: error: cannot read the record: {exc}\n")
        raise typer.Exit(2) from None
    except UserError as exc:
        # The cluster could not be started or reached: nothing was verified (exit 2, as for
        # a record that cannot be read; 1 means the record does not verify).
        sys.stderr.write(f"verivote: error: {exc}\n")
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        render(report, console)
    raise typer.Exit(0 if report.valid else 1)
