"""`verivote audit`: risk-limiting audits of the paper against the electronic result (issue 18).

    verivote audit sample-size --tally TALLY.csv --valid-ballots V --method M --seats S
                               --risk-limit A [--threshold T] [--round 2] [--json]
    verivote audit start RECORD --district D --seed DIGITS --dir AUDIT [--risk-limit A]
    verivote audit enter --dir AUDIT --entries ENTRIES.csv [--json]
    verivote audit status --dir AUDIT [--json]
    verivote audit batch-start RECORD --district D --seed DIGITS --dir AUDIT [--risk-limit A]
    verivote audit batch-enter --dir AUDIT --counts COUNTS.csv [--json]
    verivote audit turnout RECORD --seed DIGITS [--per-district N] [--out PULL.csv]
                           [--findings PULL.csv] [--confidence C] [--json]   (issue 19)

The outcome is counted from the tally by the law's rule (`verivote tabulate`'s), and each
assertion it rests on gets its ballot-polling expected sample size (`verivote.audit.
sample_size`). With --json, one line: {"assertions": [{"kind", "winner", "loser", "asn"},
...], "sample_size"}; `asn` is null for an assertion with no margin (only a full hand count
settles it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from verivote.cli.errors import UserError
from verivote.model.result_form import FormError

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


RecordArg = Annotated[Path, typer.Argument(help="The published election record (a folder).")]
DistrictOpt = Annotated[str, typer.Option(help="The district to audit.")]
SeedOpt = Annotated[
    str, typer.Option(help="The public seed: the digits of dice rolled in public (20 or more).")
]
RiskLimit = Annotated[float, typer.Option("--risk-limit", help="The risk limit α, e.g. 0.05.")]


AuditDir = Annotated[
    Path,
    typer.Option("--dir", help="The audit's folder: its state, pull lists and entries."),
]


def _show_round(record: dict[str, Any], state: dict[str, Any]) -> None:
    for a in state["assertions"]:
        found = record["assertions"][a["id"]]
        mark = "confirmed" if found["confirmed"] else "open"
        typer.echo(f"  {a['id']:<16} risk {found['risk']:.4f}  {mark}")
    typer.echo(f"round {record['round']} ({record['size']:,} ballots): {record['status']}")


def _next(folder: Path, state: dict[str, Any]) -> str:
    from verivote.audit.audit_files import pull_path
    from verivote.audit.ballot_polling import IN_PROGRESS

    if state["status"] != IN_PROGRESS:
        return str(state["status"])
    n = len(state["rounds"]) + 1
    return f"round {n}: pull the ballots of {pull_path(folder, n)}"


@audit_app.command("start")
def audit_start_command(
    record: RecordArg,
    district: DistrictOpt,
    seed: SeedOpt,
    folder: AuditDir,
    risk_limit: RiskLimit = 0.05,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan as one JSON line.")
    ] = False,
) -> None:
    """Plan a ballot-polling audit of one district of a record: the assertions its outcome
    rests on, the ballots on the stations' result forms, and round 1's pull list."""
    from verivote.audit.audit_files import start
    from verivote.audit.ballot_polling import AuditError
    from verivote.audit.sample_size import NotCovered

    try:
        state = start(record, district, risk_limit, seed, folder)
    except (AuditError, NotCovered, FormError) as exc:
        raise UserError(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(state, ensure_ascii=False))
        return
    typer.echo(f"audit of {district} at risk limit {risk_limit}: {len(state['assertions'])} "
               f"assertions, {state['population']:,} paper ballots in "
               f"{len(state['boxes'])} stations")  # fmt: skip
    typer.echo(f"round 1: {state['next_size']:,} ballots; {_next(folder, state)}")


@audit_app.command("enter")
def audit_enter_command(
    folder: AuditDir,
    entries: Annotated[
        Path,
        typer.Option(
            help="The audit board's entries of this round's ballots, a CSV: "
            "station,box,position,codes (codes separated by spaces; empty for a blank "
            "ballot; 'missing' for a ballot not in its box).",
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the round as one JSON line.")
    ] = False,
) -> None:
    """Record the audit board's entries for the current round and measure every
    assertion's risk over all the ballots read; then the audit is confirmed, goes on to
    another round (its pull list is written), or calls a full hand count."""
    from verivote.audit.audit_files import enter, read_state
    from verivote.audit.ballot_polling import AuditError

    try:
        text = entries.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {entries}: {exc.strerror}") from None
    try:
        record = enter(folder, text)
    except AuditError as exc:
        raise UserError(str(exc)) from None
    state = read_state(folder)
    if as_json:
        typer.echo(json.dumps(record, ensure_ascii=False))
        return
    _show_round(record, state)
    typer.echo(_next(folder, state))


@audit_app.command("status")
def audit_status_command(
    folder: AuditDir,
    as_json: Annotated[bool, typer.Option("--json", help="Print the state as JSON.")] = False,
) -> None:
    """Where the audit stands: every round's measured risks, and what comes next."""
    from verivote.audit.audit_files import read_state
    from verivote.audit.ballot_polling import AuditError

    try:
        state = read_state(folder)
    except AuditError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(state, ensure_ascii=False))
        return
    typer.echo(f"audit of {state['district']} at risk limit {state['risk_limit']}: "
               f"{state['status']}")  # fmt: skip
    for record in state["rounds"]:
        _show_round(record, state)
    typer.echo(_next(folder, state))


@audit_app.command("batch-start")
def audit_batch_start_command(
    record: RecordArg,
    district: DistrictOpt,
    seed: SeedOpt,
    folder: AuditDir,
    risk_limit: RiskLimit = 0.05,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Plan a batch-level comparison audit of one district: each station's signed result form
    against a hand count of its box, for the stations drawn (by size) from the seed."""
    from verivote.audit.audit_files import batch_list_path, batch_start
    from verivote.audit.ballot_polling import AuditError
    from verivote.audit.batch_comparison import to_count
    from verivote.audit.sample_size import NotCovered

    try:
        state = batch_start(record, district, risk_limit, seed, folder)
    except (AuditError, NotCovered, FormError) as exc:
        raise UserError(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(state, ensure_ascii=False))
        return
    typer.echo(f"batch comparison audit of {district} at risk limit {risk_limit}: "
               f"{len(state['assertions'])} assertions, {len(state['reported'])} stations, "
               f"{state['population']:,} ballots")  # fmt: skip
    typer.echo(f"round 1: {state['next_draws']:,} draws; hand count the "
               f"{len(to_count(state))} stations of {batch_list_path(folder, 1)}")  # fmt: skip


@audit_app.command("batch-enter")
def audit_batch_enter_command(
    folder: AuditDir,
    counts: Annotated[
        Path,
        typer.Option(
            help="The hand counts of this round's stations, a CSV: station,ballots,blank and "
            "one column per candidate code."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the round as JSON.")] = False,
) -> None:
    """Record the round's hand counts and measure every assertion's risk; then confirmed,
    more stations to count (their list is written), or a full hand count."""
    from verivote.audit.audit_files import batch_enter, batch_list_path, read_batch_state
    from verivote.audit.ballot_polling import IN_PROGRESS, AuditError

    try:
        text = counts.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {counts}: {exc.strerror}") from None
    try:
        record = batch_enter(folder, text)
    except AuditError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(record, ensure_ascii=False))
        return
    state = read_batch_state(folder)
    record["size"] = record["draws"]
    _show_round(record, state)
    if state["status"] == IN_PROGRESS:
        following = batch_list_path(folder, len(state["rounds"]) + 1)
        typer.echo(f"hand count the stations of {following}")


@audit_app.command("turnout")
def audit_turnout_command(
    record: RecordArg,
    seed: SeedOpt,
    per_district: Annotated[
        int, typer.Option("--per-district", min=1, help="Check-ins drawn in each district.")
    ] = 50,
    findings: Annotated[
        Path | None,
        typer.Option(
            "--findings",
            help="The audit board's findings: the pull list's CSV (district,station,"
            "pseudonym,finding) with each finding 'signed' (on the station's paper sign-in "
            "sheet) or 'missing' (a ghost check-in).",
        ),
    ] = None,
    confidence: Annotated[
        float, typer.Option(min=0.5, max=0.9999, help="Confidence of the upper bound.")
    ] = 0.95,
    out: Annotated[Path | None, typer.Option("--out", help="Write the pull list CSV here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line.")] = False,
) -> None:
    """The ghost-voter audit (issue 19): draw published check-ins per district by a public
    seed, to be confirmed against the stations' paper sign-in sheets; with --findings, an
    upper bound on the ghost check-ins (checked in without a voter) per district and in all,
    at the chosen confidence (hypergeometric, exact)."""
    from verivote.audit.turnout_audit import FindingsError, audit_result, draw, read_findings
    from verivote.audit.turnout_record import record_checkins

    try:
        checkins = record_checkins(record)
        drawn = draw(checkins, seed, per_district)
    except (FormError, ValueError) as exc:
        raise UserError(str(exc)) from None
    if findings is None:
        rows = [(d, s, p) for d, items in sorted(drawn.items()) for s, p in items]
        lines = ["district,station,pseudonym,finding"] + [f"{d},{s},{p}," for d, s, p in rows]
        if out is not None:
            out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        if as_json:
            typer.echo(
                json.dumps(
                    {"drawn": [{"district": d, "station": s, "pseudonym": p} for d, s, p in rows]}
                )
            )
        elif out is None:
            typer.echo("\n".join(lines))
        else:
            typer.echo(f"{len(rows)} check-ins drawn in {len(drawn)} districts; pull list in {out}")
        return
    try:
        with findings.open(encoding="utf-8") as fh:
            entered = read_findings(fh, drawn)
        result = audit_result(checkins, seed, per_district, entered, confidence)
    except OSError as exc:
        raise UserError(f"cannot read {findings}: {exc}") from None
    except (FindingsError, ValueError) as exc:
        raise UserError(str(exc)) from None
    doc = {
        "confidence": confidence,
        "checkins": result.population,
        "drawn": result.sample,
        "ghosts_found": result.found,
        "ghosts_bound": result.bound,
        "districts": [
            {
                "district": d.district,
                "checkins": d.population,
                "drawn": d.sample,
                "ghosts_found": d.found,
                "ghosts_bound": d.bound,
                "ghosts_bound_simultaneous": d.simultaneous_bound,
            }
            for d in result.districts
        ],
    }
    if as_json:
        typer.echo(json.dumps(doc))
        return
    typer.echo(
        f"{result.found} ghost check-ins found among {result.sample} drawn of "
        f"{result.population}; at {confidence:.0%} confidence at most {result.bound} "
        "ghost check-ins in all"
    )
    for d in result.districts:
        typer.echo(
            f"  {d.district}: {d.found} of {d.sample} drawn of {d.population}; at most {d.bound}"
        )
