"""`verivote tabulate`: count plaintext ballots or published totals under a counting method.

Issue 2, "`verivote tabulate`". Options come from `--contest CONTEST.json` (the format of
../shared/testdata/rctab/*/contest.json) and are overridden by flags given on the command line.
"""

from __future__ import annotations

import dataclasses
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import click
import rich.progress
import typer
from rich.console import Console

from verivote.cli.errors import UserError
from verivote.cli.render import print_result
from verivote.model.ballot_csv import iter_ballots, read_ballots, read_tally
from verivote.model.ballots import Ballot, names_seen
from verivote.model.contest import Contest, load_contest
from verivote.model.result import Result
from verivote.rules.lot import DEFAULT_SEED, parse_seed
from verivote.rules.majlis import parse_fraction
from verivote.rules.methods import (
    METHODS,
    PLURALITY_METHODS,
    PluralityOptions,
    count_ballots,
    count_tally,
)
from verivote.rules.rcv import (
    RcvOptions,
    count_rcv,
    rcv_options_from_contest,
    tiebreak_from_contest,
)
from verivote.rules.tiebreak import CandidateOrder, PreviousRounds, PublicLot, TieBreak


class Overvote(StrEnum):
    exhaust = "exhaust"
    skip = "skip"
    exhaust_if_multiple_continuing = "exhaust_if_multiple_continuing"


class Duplicates(StrEnum):
    skip = "skip"
    exhaust = "exhaust"


class Quota(StrEnum):
    droop = "droop"
    droop_fractional = "droop-fractional"
    hare = "hare"
    hare_fractional = "hare-fractional"


class Excess(StrEnum):
    truncate = "truncate"
    void = "void"


class Tiebreak(StrEnum):
    lot = "lot"
    candidate_order = "candidate-order"
    previous_rounds = "previous-rounds"


def _seed(text: str | None) -> bytes:
    if text is None:
        return DEFAULT_SEED
    try:
        return parse_seed(text)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def tabulate(
    ballots: Annotated[
        Path | None,
        typer.Argument(
            help="Ballot CSV: count,rank1,rank2,... (see DESIGN.md).", show_default=False
        ),
    ] = None,
    contest: Annotated[
        Path | None,
        typer.Option(help="Contest JSON giving method, seats, candidates and options."),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            help="Counting method.", click_type=click.Choice(METHODS, case_sensitive=False)
        ),
    ] = None,
    seats: Annotated[int | None, typer.Option(help="Seats to fill.")] = None,
    candidates: Annotated[
        list[str] | None,
        typer.Option(
            "--candidates",
            "--candidate",
            help="A candidate (repeat for each). Default: every name on the ballots.",
        ),
    ] = None,
    threshold: Annotated[
        str | None,
        typer.Option(
            help="Majlis threshold or party-list legal threshold: 0.2, 20% or 1/5 "
            "(Majlis default 1/5)."
        ),
    ] = None,
    excess: Annotated[
        Excess | None,
        typer.Option(
            help="A block-vote ballot with more names than seats: keep the first S "
            "(truncate, the Majlis rule) or void it."
        ),
    ] = None,
    round_no: Annotated[
        int, typer.Option("--round", help="Majlis: 2 counts the runoff among --candidates.")
    ] = 1,
    overvote: Annotated[
        Overvote | None, typer.Option(help="Ranked methods: overvote rule.")
    ] = None,
    max_skipped: Annotated[
        int | None, typer.Option(help="Ranked methods: skipped ranks allowed in a row.")
    ] = None,
    duplicates: Annotated[
        Duplicates | None, typer.Option(help="Ranked methods: a candidate ranked twice.")
    ] = None,
    batch_elimination: Annotated[
        bool | None,
        typer.Option(
            "--batch-elimination/--no-batch-elimination", help="Ranked methods: batch elimination."
        ),
    ] = None,
    continue_until_two: Annotated[
        bool | None,
        typer.Option(
            "--continue-until-two/--no-continue-until-two",
            help="IRV: go on eliminating until two candidates remain.",
        ),
    ] = None,
    quota: Annotated[Quota | None, typer.Option(help="STV: the quota.")] = None,
    decimal_places: Annotated[
        int | None, typer.Option(help="STV: decimal places of vote arithmetic.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Ranked methods: a candidate to leave out (repeat).")
    ] = None,
    tiebreak: Annotated[
        Tiebreak | None,
        typer.Option(help="How ties are broken (default: the public lot, seeded by --seed)."),
    ] = None,
    seed: Annotated[
        str | None, typer.Option(help="Hex seed of the public lot (default: 32 zero bytes).")
    ] = None,
    contest_id: Annotated[
        str | None, typer.Option(help="Contest id hashed into the lot (default: contest name).")
    ] = None,
    tally: Annotated[
        Path | None, typer.Option(help="Count published totals instead: CSV candidate,votes.")
    ] = None,
    valid_ballots: Annotated[
        int | None, typer.Option(help="With --tally: the number of valid ballots.")
    ] = None,
    void_ballots: Annotated[int, typer.Option(help="With --tally: void ballots.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Count BALLOTS.csv (or --tally totals) under a counting method and print every round."""
    spec = _load_contest(contest)
    chosen = method.lower() if method is not None else (spec.method if spec else None)
    if chosen is None:
        raise UserError("give --method (or a --contest file that names one)")
    if chosen not in METHODS:
        raise UserError(f"unknown method {chosen!r}; choose one of {', '.join(METHODS)}")
    if (ballots is None) == (tally is None):
        raise UserError("give either a BALLOTS.csv file or --tally TALLY.csv, not both")
    seed_bytes = _seed(seed)
    name = contest_id or (spec.name if spec else None) or (ballots or tally or Path("contest")).stem

    if chosen in PLURALITY_METHODS:
        thr = threshold if threshold is not None else _contest_fraction(spec)
        result = _plurality(
            chosen,
            ballots,
            tally,
            spec,
            seats,
            candidates,
            thr,
            excess,
            round_no,
            valid_ballots,
            void_ballots,
            _plain_tiebreak(tiebreak, candidates, spec, seed_bytes, name),
        )
    else:
        if tally is not None:
            raise UserError(f"{chosen} needs ranked ballots, not a --tally of totals")
        assert ballots is not None
        flags: dict[str, Any] = {
            "method": chosen,
            "seats": seats,
            "overvote": overvote.value if overvote else None,
            "max_skipped_ranks": max_skipped,
            "duplicate_rankings": duplicates.value if duplicates else None,
            "batch_elimination": batch_elimination,
            "continue_until_two": continue_until_two,
            "threshold": quota.value if quota else None,
            "decimal_places": decimal_places,
            "excluded": tuple(exclude) if exclude else None,
        }
        result = _ranked(ballots, spec, candidates, flags, tiebreak, seed_bytes, name)

    if as_json:
        typer.echo(json.dumps(result.to_json_dict(), ensure_ascii=False, indent=2))
    else:
        print_result(result, title=name)


def _load_contest(path: Path | None) -> Contest | None:
    if path is None:
        return None
    try:
        return load_contest(path)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _contest_fraction(spec: Contest | None) -> str | None:
    # The options model defaults `threshold` to RCTab's "droop"; only a value the file
    # really gives is a Majlis or party-list threshold.
    if spec is None or "threshold" not in spec.options.model_fields_set:
        return None
    if spec.options.threshold is None:
        return None
    return str(spec.options.threshold)


def _plain_tiebreak(
    choice: Tiebreak | None,
    candidates: list[str] | None,
    spec: Contest | None,
    seed: bytes,
    name: str,
) -> TieBreak:
    lot = PublicLot(seed, name)
    if choice is None or choice is Tiebreak.lot:
        return lot
    if choice is Tiebreak.previous_rounds:
        return PreviousRounds(lot)
    order = candidates or (spec.candidates if spec else None)
    if not order:
        raise UserError("--tiebreak candidate-order needs the candidates (--candidates)")
    return CandidateOrder(order)


_PROGRESS_BYTES = 8 << 20


def _read_ballots(path: Path) -> list[Ballot]:
    """Read a ballot file, with a progress bar on a terminal when the file is large."""
    if not path.is_file():
        raise UserError(f"no such ballot file: {path}")
    console = Console(stderr=True)
    if not console.is_terminal or path.stat().st_size < _PROGRESS_BYTES:
        return read_ballots(path)
    with rich.progress.open(
        path,
        "r",
        encoding="utf-8",
        newline="",
        description="reading ballots",
        console=console,
        transient=True,
    ) as fh:
        return list(iter_ballots(fh))


def _plurality(
    method: str,
    ballots: Path | None,
    tally: Path | None,
    spec: Contest | None,
    seats: int | None,
    candidates: list[str] | None,
    threshold: str | None,
    excess: Excess | None,
    round_no: int,
    valid: int | None,
    void: int,
    tiebreak: TieBreak,
) -> Result:
    n = seats if seats is not None else (spec.seats if spec else None)
    if n is None:
        n = 1 if method in ("fptp", "two-round") else None
    if n is None:
        raise UserError(f"give --seats: {method} needs the number of seats")
    try:
        thr = parse_fraction(threshold) if threshold is not None else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    listed = candidates or (spec.candidates if spec else None)
    if tally is not None:
        if not tally.is_file():
            raise UserError(f"no such tally file: {tally}")
        votes = read_tally(tally)
        if valid is None:
            raise UserError("--tally needs --valid-ballots: the threshold is a share of them")
        names = tuple(listed) if listed else tuple(votes)
        try:
            options = PluralityOptions(method, n, names, thr, _excess(excess), round_no)
            return count_tally(options, votes, valid, tiebreak, void)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    assert ballots is not None
    read = _read_ballots(ballots)
    names = tuple(listed) if listed else tuple(names_seen(read))
    try:
        options = PluralityOptions(method, n, names, thr, _excess(excess), round_no)
        return count_ballots(options, read, tiebreak)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _excess(choice: Excess | None) -> Any:
    return None if choice is None else choice.value


def _ranked(
    ballots: Path,
    spec: Contest | None,
    candidates: list[str] | None,
    flags: dict[str, Any],
    choice: Tiebreak | None,
    seed: bytes,
    name: str,
) -> Result:
    read = _read_ballots(ballots)
    given = {k: v for k, v in flags.items() if v is not None}
    try:
        if spec is not None:
            base = rcv_options_from_contest(spec)
            if candidates:
                given["candidates"] = tuple(candidates)
            options = dataclasses.replace(base, **given)
            tb = (
                tiebreak_from_contest(spec, seed)
                if choice is None
                else _plain_tiebreak(choice, candidates, spec, seed, name)
            )
        else:
            excluded = set(given.get("excluded", ()))
            listed = candidates or [c for c in names_seen(read) if c not in excluded]
            given.setdefault("seats", 1)
            options = RcvOptions(candidates=tuple(listed), **given)
            tb = _plain_tiebreak(choice, listed, None, seed, name)
        return count_rcv(read, options, tb)
    except ValueError as exc:
        raise UserError(str(exc)) from None
