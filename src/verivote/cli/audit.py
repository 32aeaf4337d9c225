"""`verivote audit`: risk-limiting audits of the paper against the electronic result (issue 18).

    verivote audit sample-size --tally TALLY.csv --valid-ballots V --method M --seats S
                               --risk-limit A [--threshold T] [--round 2] [--json]

The outcome is counted from the tally by the law's rule (`verivote tabulate`'s), and each
assertion it rests on gets its ballot-polling expected sample size (`verivote.audit.
sample_size`). With --json, one line: {"assertions": [{"kind", "winner", "loser", "asn"},
...], "sample_size"}; `asn` is null for an assertion with no margin (only a full hand count
settles it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import click
import typer

from verivote.cli.errors import UserError

audit_app = typer.Typer(
    no_args_is_help=True,
    help="Risk-limiting audits of the paper ballots against the electronic result.",
)


@audit_app.command("sample-size")
def sample_size_command(
    tally: Annotated[Path, typer.Option(help="The reported tally: a 'candidate,votes' CSV.")],
    valid_ballots: Annotated[
        int, typer.Option("--valid-ballots", min=1, help="Valid ballots of the contest.")
    ],
    method: Annotated[
        str,
        typer.Option(
            help="The counting rule.",
            click_type=click.Choice(["majlis", "block", "fptp", "two-round"]),
        ),
    ] = "majlis",
    seats: Annotated[int, typer.Option(min=1, help="Seats of the district.")] = 1,
    risk_limit: Annotated[
        float, typer.Option("--risk-limit", help="The risk limit α, e.g. 0.05.")
    ] = 0.05,
    threshold: Annotated[
        str | None,
        typer.Option(help="The Majlis threshold (0.2, 20% or 1/5; default the law's 20 %)."),
    ] = None,
    round_no: Annotated[
        int, typer.Option("--round", min=1, max=2, help="2 for a Majlis runoff.")
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line.")] = False,
) -> None:
    """The assertions a reported outcome rests on, each with the expected number of ballots
    a ballot-polling audit draws to confirm it (BRAVO; the threshold assertions by the
    same sequential test), and the sample size that covers them all."""
    from verivote.audit.sample_size import assertions, sample_size
    from verivote.model.ballot_csv import read_tally
    from verivote.rules.lot import DEFAULT_SEED
    from verivote.rules.majlis import DEFAULT_THRESHOLD, parse_fraction
    from verivote.rules.methods import PluralityOptions, count_tally
    from verivote.rules.tiebreak import PublicLot

    if not 0 < risk_limit < 1:
        raise UserError(f"--risk-limit must lie strictly between 0 and 1, not {risk_limit}")
    if not tally.is_file():
        raise UserError(f"no such tally file: {tally}")
    votes = read_tally(tally)
    try:
        limit = parse_fraction(threshold) if threshold is not None else None
        options = PluralityOptions(method, seats, tuple(votes), limit, None, round_no)
        result = count_tally(options, votes, valid_ballots, PublicLot(DEFAULT_SEED, "audit"))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    # Only round 1 of the Majlis law has a threshold; its runoff and the block vote have none.
    applies = method == "majlis" and round_no == 1
    line = limit if limit is not None else DEFAULT_THRESHOLD
    found = assertions(
        method, votes, valid_ballots, result.elected, risk_limit,
        runoff=result.runoff or (), threshold=line if applies else None,
    )  # fmt: skip
    size = sample_size(found, valid_ballots)
    doc = {"assertions": [a.to_json() for a in found], "sample_size": size}
    if as_json:
        typer.echo(json.dumps(doc, ensure_ascii=False))
        return
    for a in found:
        what = {"beats": f"{a.winner} beats {a.loser}",
                "reached": f"{a.winner} reached the threshold",
                "missed": f"{a.winner} did not reach the threshold"}[a.kind]  # fmt: skip
        asn = "a full hand count" if a.to_json()["asn"] is None else f"{a.asn:,.0f} ballots"
        typer.echo(f"{what}: {asn}")
    typer.echo(f"sample size at risk limit {risk_limit}: {size:,} ballots of {valid_ballots:,}")
