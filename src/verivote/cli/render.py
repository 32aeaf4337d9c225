"""Human-readable output of a count: rich tables of each round, the lots, the elected."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console
from rich.table import Table

from verivote.model.result import Result, Round

console = Console()


def _fmt(v: Decimal, fractional: bool) -> str:
    if fractional or v != v.to_integral_value():
        return f"{v:,.4f}"
    return f"{int(v):,}"


def _share(v: Decimal, base: int) -> str:
    return f"{100 * v / base:.2f}%" if base else "–"


def _round_table(result: Result, rnd: Round, title: str) -> Table:
    runoff = set(result.runoff or ())
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("candidate")
    table.add_column("votes", justify="right")
    table.add_column("share", justify="right")
    table.add_column("", justify="left")
    if rnd.transfers:
        table.add_column("received", justify="right")
    received: dict[str, Decimal] = {}
    for moved in rnd.transfers.values():
        for dst, v in moved.items():
            received[dst] = received.get(dst, Decimal(0)) + v
    order = sorted(rnd.tally, key=lambda c: -rnd.tally[c])
    for name in order:
        votes = rnd.tally[name]
        if name in rnd.elected:
            status = "[bold green]elected[/]"
        elif name in rnd.eliminated:
            status = "[red]eliminated[/]"
        elif name in runoff and len(result.rounds) == 1:
            status = "[yellow]runoff[/]"
        else:
            status = ""
        row = [name, _fmt(votes, result.fractional), _share(votes, result.valid), status]
        if rnd.transfers:
            got = received.get(name)
            row.append(f"+{_fmt(got, result.fractional)}" if got else "")
        table.add_row(*row)
    return table


def print_result(result: Result, title: str, out: Console | None = None) -> None:
    """Print every round of `result`, its lots and its elected."""
    con = out or console
    con.print(
        f"[bold]{title}[/]: {result.method}, {result.seats} seat(s); "
        f"valid ballots {result.valid:,}, void {result.void:,}"
    )
    for rnd in result.rounds:
        heading = f"Round {rnd.round}"
        if rnd.pass_number is not None:
            heading = f"Pass {rnd.pass_number}, round {rnd.round}"
        if rnd.threshold is not None:
            heading += f" (threshold {_fmt(rnd.threshold, result.fractional)})"
        if rnd.exhausted:
            heading += f", exhausted {_fmt(rnd.exhausted, result.fractional)}"
        con.print(_round_table(result, rnd, heading))
    for lot in result.lots:
        con.print(
            f"[magenta]lot[/] ({lot.purpose}, round {lot.round}) among {', '.join(lot.tied)}: "
            f"draw order {', '.join(lot.order)} (seed {lot.seed[:16]}…, contest {lot.contest!r})"
        )
    if result.seats_won:
        won = ", ".join(f"{p} {n}" for p, n in result.seats_won.items())
        con.print(f"[bold]Seats[/]: {won}")
    else:
        con.print(f"[bold]Elected[/]: {', '.join(result.elected) or 'nobody'}")
    if result.runoff:
        con.print(f"[bold]Runoff field[/]: {', '.join(result.runoff)}")
