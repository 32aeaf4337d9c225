"""`verivote demo`: the main job, while the end-to-end election is being built.

It counts a synthetic province under the Majlis law of 2024: a multi-seat district, a
single-seat district and a religious-minority seat; a first round with the 20 % threshold,
the runoff field for every empty seat, a second round among that field, and a final table of
the elected. Everything is generated from `--seed`, so two runs print the same result.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from verivote.cli.render import print_result
from verivote.model.ballots import Ballot
from verivote.model.result import Result
from verivote.rules.lot import parse_seed
from verivote.rules.majlis import count_majlis, count_majlis_runoff, tally_majlis
from verivote.rules.plurality import tally_block
from verivote.rules.tiebreak import PublicLot
from verivote.sim.ballots import District, iter_ballots, make_district


@dataclass(frozen=True)
class DemoDistrict:
    """One district of the demonstration province and its share of the voters."""

    name: str
    seats: int
    candidates: int
    voter_share: float


PROVINCE = (
    DemoDistrict("Tehran, Rey, Shemiranat", 6, 40, 0.62),
    DemoDistrict("Karaj", 1, 9, 0.30),
    DemoDistrict("Armenians of the south", 1, 3, 0.08),
)

# Loose slates and a spread-out personal vote, as in the big cities in 2024: several seats
# stay empty after round 1.
VOTER_MODEL = {"slate_loyalty": 0.3, "appeal_tail": 3.0}


def demo(
    voters: Annotated[int, typer.Option(min=100, help="Voters in the whole province.")] = 6000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic ballots.")] = 2024,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Count a synthetic province under the Majlis law: round 1, runoff fields, round 2."""
    console = Console(stderr=as_json)
    rng = random.Random(seed)
    lot_seed = parse_seed(f"{seed:064x}")
    districts = [make_district(d.name, d.seats, d.candidates, rng) for d in PROVINCE]
    sizes = [max(50, int(voters * d.voter_share)) for d in PROVINCE]
    first: list[Result] = []
    second: list[Result | None] = []
    with _progress(console) as progress:
        for district, size in zip(districts, sizes, strict=True):
            task = progress.add_task(f"round 1: {district.name}", total=size)
            ballots = _collect(iter_ballots(district, size, rng, **VOTER_MODEL), progress, task)
            tally = tally_majlis(ballots, district.candidates, district.seats)
            first.append(
                count_majlis(
                    tally,
                    district.candidates,
                    district.seats,
                    PublicLot(lot_seed, district.name),
                )
            )
        for district, size, result in zip(districts, sizes, first, strict=True):
            second.append(_runoff(district, size, result, rng, lot_seed, progress))
    if as_json:
        doc: list[dict[str, Any]] = [
            {
                "district": d.name,
                "round1": r1.to_json_dict(),
                "round2": r2.to_json_dict() if r2 else None,
            }
            for d, r1, r2 in zip(districts, first, second, strict=True)
        ]
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    for district, r1, r2 in zip(districts, first, second, strict=True):
        console.rule(district.name)
        print_result(r1, f"{district.name}, round 1", console)
        if r2 is not None:
            print_result(r2, f"{district.name}, round 2", console)
    console.print(_summary(districts, first, second))


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _collect(ballots: Any, progress: Progress, task: Any) -> list[Ballot]:
    out: list[Ballot] = []
    for b in ballots:
        out.append(b)
        if len(out) % 500 == 0:
            progress.update(task, completed=len(out))
    progress.update(task, completed=len(out))
    return out


def _runoff(
    district: District,
    size: int,
    result: Result,
    rng: random.Random,
    lot_seed: bytes,
    progress: Progress,
) -> Result | None:
    """Round 2 among the runoff field, by the voters who turn out again (about 70 %)."""
    empty = district.seats - len(result.elected)
    if empty == 0 or not result.runoff:
        return None
    field = tuple(result.runoff)
    runoff_district = District(district.name, empty, field, district.faction)
    turnout = int(size * 0.7)
    task = progress.add_task(f"round 2: {district.name}", total=turnout)
    ballots = _collect(iter_ballots(runoff_district, turnout, rng, **VOTER_MODEL), progress, task)
    tally = tally_block(ballots, field, empty, "truncate")
    return count_majlis_runoff(tally, field, empty, PublicLot(lot_seed, district.name))


def _summary(districts: list[District], first: list[Result], second: list[Result | None]) -> Table:
    table = Table(title="Elected", title_justify="left")
    table.add_column("district")
    table.add_column("seats", justify="right")
    table.add_column("round 1")
    table.add_column("round 2")
    for d, r1, r2 in zip(districts, first, second, strict=True):
        table.add_row(
            d.name,
            str(d.seats),
            "\n".join(f"{c} ({d.faction[c]})" for c in r1.elected) or "–",
            "\n".join(f"{c} ({d.faction[c]})" for c in r2.elected) if r2 else "–",
        )
    return table
