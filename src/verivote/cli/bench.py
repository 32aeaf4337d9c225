"""`verivote bench`: throughput of the counting law, for the README's figures.

Benchmarks report rates measured on this machine; they are never timed assertions in tests.
"""

from __future__ import annotations

import json
import platform
import random
import time
from typing import Annotated

import typer
from rich.console import Console

from verivote.rules.majlis import count_majlis, tally_majlis
from verivote.rules.tiebreak import PublicLot
from verivote.sim.ballots import random_block_ballots

bench_app = typer.Typer(help="Measure how fast verivote counts.", no_args_is_help=True)


@bench_app.command("majlis")
def bench_majlis(
    ballots: Annotated[int, typer.Option(min=1, help="Ballots to count.")] = 1_500_000,
    names: Annotated[int, typer.Option(min=1, help="Names per ballot (= seats).")] = 30,
    candidates: Annotated[int, typer.Option(min=1, help="Candidates in the district.")] = 3545,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic ballots.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Count Tehran-shaped Majlis ballots (30 names from 3,545 candidates) on one core."""
    console = Console(stderr=True)
    rng = random.Random(seed)
    cands = [f"C{i:04d}" for i in range(1, candidates + 1)]
    with console.status(f"generating {ballots:,} ballots of {names} names…"):
        t0 = time.perf_counter()
        data = random_block_ballots(cands, names, ballots, rng)
        generated = time.perf_counter() - t0
    with console.status(f"counting {ballots:,} ballots…"):
        t0 = time.perf_counter()
        tally = tally_majlis(data, cands, names)
        result = count_majlis(tally, cands, names, PublicLot(bytes(32), "bench"))
        counted = time.perf_counter() - t0
    figures = {
        "ballots": ballots,
        "names_per_ballot": names,
        "candidates": candidates,
        "seconds": round(counted, 3),
        "ballots_per_second": round(ballots / counted),
        "generation_seconds": round(generated, 3),
        "valid": result.valid,
        "void": result.void,
        "elected": len(result.elected),
        "runoff_field": len(result.runoff or ()),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
    }
    if as_json:
        typer.echo(json.dumps(figures))
        return
    console.print(
        f"counted {ballots:,} ballots of {names} names from {candidates:,} candidates in "
        f"{counted:.2f} s on one core: [bold]{ballots / counted:,.0f} ballots/s[/] "
        f"(valid {result.valid:,}, elected {len(result.elected)}, "
        f"runoff field {len(result.runoff or ())})"
    )
