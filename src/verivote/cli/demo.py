"""`verivote demo`: the main job. A synthetic provincial Majlis election run end to end on an
SQLite file in a fresh folder: five factions as guardians (quorum 3) and witnesses, polling
day with encrypted ballots and a few Benaloh challenges, tally, decryption with one guardian
absent, the count under `majlis-2024`, the runoff and its second round, and the published
records. One district (Shahriar, 60 candidates for 8 seats) is counted by mixnet (issue 16):
its written ballots are shuffled by three factions' mixers in turn, decrypted row by row by
the guardians and counted by the law. This process is the authority; every guardian, witness,
station device and mixer is an OS process of its own with its own folder
(`verivote.sim.parties`, issues 14 and 16).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from verivote.board.record import read_record
from verivote.cli import demo_paper, demo_turnout
from verivote.cli.errors import UserError
from verivote.crypto.groups import GROUP_NAMES
from verivote.sim.election import RoundOutcome, run_election
from verivote.sim.parties import PRINTING_DEVICE, PartyError, ProcessParties
from verivote.store import Store, make_engine, migrate
from verivote.verify import verify_record
from verivote.verify.verifier import verify_rounds

DATABASE = "verivote.db"


def demo(
    # 300 by default: each of the four guardians that decrypt checks every ballot's proofs
    # itself, so 2,000 voters take over three minutes on two cores; the paper trail (issue
    # 18) and provable turnout (issue 19) took the time that 800, then 450, had left (README).
    voters: Annotated[int, typer.Option(min=50, help="Voters in the whole province.")] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic election.")] = 2024,
    group: Annotated[
        str,
        typer.Option(help="Group of the keys and ballots.", click_type=click.Choice(GROUP_NAMES)),
    ] = "ristretto255",
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Folder for the authority, each guardian and witness, and the records "
            "(default: a new one).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Run a whole synthetic Majlis election, from manifest to verified record."""
    console = Console(stderr=as_json)
    folder = directory or Path(tempfile.mkdtemp(prefix="verivote-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    authority = folder / "authority"
    if (authority / DATABASE).exists() or (folder / DATABASE).exists():
        raise UserError(f"{folder} already holds a demo election; give another --dir")
    authority.mkdir(mode=0o700, exist_ok=True)
    engine = make_engine(f"sqlite:///{authority / DATABASE}")
    migrate(engine)
    store = Store(engine)
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description:<30}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bars:
        tasks: dict[str, Any] = {}

        def progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bars.add_task(step, total=total)
            bars.update(tasks[step], completed=done, total=total)

        def show(party: str, line: str, done: int, total: int | None) -> None:
            if party not in tasks:
                tasks[party] = bars.add_task(line, total=total)
            bars.update(tasks[party], description=line, completed=done, total=total)

        cores = max(1, (os.cpu_count() or 2) - 1)
        try:
            with ProcessParties(folder, show) as parties:
                first, second = run_election(
                    store, folder, voters, seed, group, progress=progress, processes=cores,
                    parties=parties,
                )  # fmt: skip
        except PartyError as exc:
            raise UserError(str(exc)) from None
        finally:
            engine.dispose()
    elapsed = time.perf_counter() - started
    # The independent verifier re-checks both published records, as any observer would.
    assert first.record is not None
    if second is not None and second.record is not None:
        # Round 2's record is checked with round 1's, which is verified on the way, once.
        report2, report1 = verify_rounds(second.record, previous=first.record)
        assert report1 is not None
        checked = [report1, report2]
    else:
        checked = [verify_record(first.record)]
    audit = demo_paper.run_audit(first, folder / "audit", seed)
    assert first.record is not None
    found, forensics_line = demo_paper.forensics(first.record, folder / "forensics")
    statuses = demo_turnout.voter_checks(folder, first)
    ghosts = demo_turnout.ghost_audit(first.record, seed)
    if as_json:
        doc = _summary_json(first, second, folder)
        doc["processes"] = parties.processes
        doc["verified"] = [r.valid for r in checked]
        doc["paper"] = str(parties.paper) if parties.paper else None
        doc["audit"] = demo_paper.summary(audit)
        doc["forensics"] = {k: found[k] for k in ("stations", "verdict", "flagged", "tests")}
        doc["turnout"] = {
            "commitment": demo_turnout.commitment_of(first.record),
            "voter_status": statuses,
            "ghost_audit": ghosts,
        }
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    console.print(_table(first, second))
    rounds = [first] if second is None else [first, second]
    console.print(
        "checked in: "
        + "; ".join(
            f"{r.checked_in:,} in round {n} ({r.turned_away} turned away as already voted)"
            for n, r in enumerate(rounds, 1)
        )
    )
    for n, r in enumerate(rounds, 1):
        console.print(f"round {n} polling day: {_devices_line(r)}")
        for line in _mix_lines(r):
            console.print(f"round {n} mix: {line}")
    console.print(
        f"{sum(first.ballots.values()):,} ballots in round 1"
        + (f", {sum(second.ballots.values()):,} in round 2" if second else "")
        + f", {first.challenged + (second.challenged if second else 0)} challenged; "
        f"guardian 4 of 5 absent at decryption; {elapsed:.0f} s"
    )
    console.print(
        f"records: [bold]{first.record}[/]" + (f" and [bold]{second.record}[/]" if second else "")
    )
    for n, r in enumerate(rounds, 1):
        assert r.record is not None
        console.print(f"round {n} board: {_logs_line(r.record)}")
    console.print(f"parties: {parties.summary()}")
    console.print(
        f"folders: {folder}/authority (database, keys), guardian-1 … guardian-5, "
        + ", ".join(f"witness-{f.id}" for f in first.ctx.manifest.factions)
        + (f", device-1 … device-{len(parties.devices)}" if parties.devices else "")
        + "".join(f", mixer-{m}" for m in first.ctx.manifest.mixers() if m in parties.mixers)
        + (" (and -round2)" if second is not None and second.mix else "")
    )
    if first.mix:
        console.print(
            "cast vote records of the decoded ballots: verivote export nist-cvr --record "
            f"{first.record} [--district ID] (NIST SP 1500-103)"
        )
    console.print(
        "result forms: "
        + "; ".join(f"{r.forms} stations' forms in round {n}" for n, r in enumerate(rounds, 1))
        + ", each signed by its station head and the observers present, on the board"
    )
    printed = demo_paper.paper_pages(parties.paper)
    if printed:
        console.print(f"paper ballots printed by device-{PRINTING_DEVICE}: {printed}")
    console.print(demo_paper.audit_line(audit, folder / "audit"))
    console.print(forensics_line)
    for line in demo_turnout.lines(first, statuses, ghosts):
        console.print(line)
    for report, name in zip(checked, ("round 1", "round 2"), strict=False):
        failed = report.failed()
        verdict = "[bold green]valid[/]" if report.valid else f"[bold red]INVALID[/] ({failed})"
        console.print(
            f"verifier on the {name} record: {verdict}, {len(report.checks)} checks, "
            f"{report.ballots_per_second:,.0f} ballots/s"
        )
    if not all(r.valid for r in checked):
        raise typer.Exit(1)


def _logs_line(record: Path) -> str:
    """The record's logs (README, "National scale"): the national log with its seals, and
    each district's log."""
    national = read_record(record)
    seals = sum(1 for e in national.entries if b'"type":"district-checkpoint"' in e)
    districts = ", ".join(f"{d.district} {len(d.entries):,}" for d in national.districts)
    return (
        f"national log {len(national.entries):,} entries ({seals} district seals); "
        f"district logs: {districts or 'none'}"
    )


def _devices_line(outcome: RoundOutcome) -> str:
    """What the station devices did over HTTP, and the offline one's journal."""
    days = outcome.devices
    online = sum(d["cast"] for d in days)
    text = (
        f"{len(days)} station devices checked {sum(d['checked_in'] for d in days):,} voters in "
        f"and cast {online:,} ballots through POST /api/ballots"
    )
    for d in days:
        if d["journaled_checkins"] or d["journaled_ballots"]:
            first, last = d["offline"]
            text += (
                f"; {d['device']} was offline for its voters {first}-{last}, journaled "
                f"{d['journaled_checkins']} check-ins and {d['journaled_ballots']} ballots and "
                f"uploaded them ({d['uploaded_checkins']} and {d['uploaded_ballots']} accepted)"
            )
    return text


def _mix_lines(outcome: RoundOutcome) -> list[str]:
    """What the mixers and the guardians did with each mixnet district's written ballots."""
    lines = []
    for district, mix in outcome.mix.items():
        name = outcome.ctx.manifest.district(district).name
        undecodable = f", {mix['undecodable']} not decodable" if mix["undecodable"] else ""
        lines.append(
            f"{name}: {mix['ballots']:,} written ballots shuffled with proofs by "
            f"{', '.join(mix['mixers'])} in turn, decrypted by guardians "
            f"{', '.join(map(str, mix['guardians']))}{undecodable}, counted by the law"
        )
    return lines


def _names(outcome: RoundOutcome) -> dict[str, str]:
    return {
        c.code: f"{c.code} {c.name} ({c.faction})"
        for d in outcome.ctx.manifest.districts
        for c in d.candidates
    }


def _table(first: RoundOutcome, second: RoundOutcome | None) -> Table:
    table = Table(title="Elected", title_justify="left")
    table.add_column("district")
    table.add_column("seats", justify="right")
    table.add_column("round 1")
    table.add_column("round 2")
    names = _names(first)
    for d in first.ctx.manifest.districts:
        r1 = first.count["districts"][d.id]["elected"]
        r2 = (
            second.count["districts"].get(d.id, {}).get("elected", []) if second is not None else []
        )
        table.add_row(
            d.name,
            str(d.seats),
            "\n".join(names[c] for c in r1) or "–",
            "\n".join(names[c] for c in r2) or "–",
        )
    return table


def _summary_json(first: RoundOutcome, second: RoundOutcome | None, folder: Path) -> dict[str, Any]:
    return {
        "directory": str(folder),
        "round1": _round_json(first),
        "round2": _round_json(second) if second else None,
    }


def _round_json(outcome: RoundOutcome) -> dict[str, Any]:
    return {
        "count": outcome.count,
        "record": str(outcome.record),
        "checked_in": outcome.checked_in,
        "turned_away": outcome.turned_away,
        "challenged": outcome.challenged,
        "ballots": sum(outcome.ballots.values()),
        "devices": outcome.devices,
        "mix": outcome.mix,
    }
