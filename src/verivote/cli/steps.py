"""`verivote polls open|close`, `verivote tally` and `verivote decrypt --combine`: polling day's
end, the encrypted tally and the combination of the guardians' partial decryptions, on the
election's database (VERIVOTE_DATABASE_URL or --db), with the conventions of
`verivote.cli.election`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from verivote.cli.cluster import RayOption, check_ray_option, cluster_for
from verivote.cli.election import DEFAULT_KEYS, Db, ElectionId, KeysDir, _context, _store
from verivote.cli.errors import UserError
from verivote.election.decryption import combine
from verivote.election.district_logs import AUTHORITY_FILE, authority_signer
from verivote.election.polls import close_polls, open_polls
from verivote.election.service import ElectionContext, ElectionError
from verivote.election.tally import run_tally
from verivote.store import Store, StoreError

polls_app = typer.Typer(help="Open and close the polls at polling stations.", no_args_is_help=True)

Stations = Annotated[
    list[str] | None, typer.Option("--station", help="A polling station (repeat for several).")
]
AllStations = Annotated[bool, typer.Option("--all", help="Every station of the manifest.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@contextmanager
def _progress(description: str, console: Console) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar driven by `progress(done, total)` callbacks. It appears at the first
    callback, so a step refused before any work prints its one-line error alone."""
    bars: Progress | None = None
    task: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bars, task
        if bars is None:
            bars = Progress(
                TextColumn(f"{description:<22}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            )
            bars.start()
            task = bars.add_task(description, total=total)
        bars.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if bars is not None:
            bars.stop()


def _stations(ctx: ElectionContext, stations: list[str] | None, everyone: bool) -> list[str]:
    if everyone and stations:
        raise UserError("give either --station or --all, not both")
    if everyone:
        return [s.id for s in ctx.manifest.stations]
    if not stations:
        raise UserError("name the stations: --station S (repeat) or --all")
    return stations


def _set_polls(
    step: Callable[[Store, ElectionContext, list[str]], list[str]],
    verb: str,
    station: list[str] | None,
    everyone: bool,
    election: str | None,
    db: str | None,
) -> None:
    store = _store(db)
    ctx = _context(store, election)
    chosen = _stations(ctx, station, everyone)
    try:
        changed = step(store, ctx, chosen)
    except (ElectionError, StoreError) as exc:
        raise UserError(str(exc)) from None
    left = len(chosen) - len(changed)
    Console().print(
        f"polls {verb} at {len(changed)} station(s)"
        + (f": {', '.join(changed)}" if 0 < len(changed) <= 10 else "")
        + (f"; {left} already {verb}" if left else "")
    )


@polls_app.command("open")
def polls_open(
    station: Stations = None,
    everyone: AllStations = False,
    election: ElectionId = None,
    db: Db = None,
) -> None:
    """Open the polls: from now on ballots are cast only at open stations."""
    _set_polls(open_polls, "open", station, everyone, election, db)


@polls_app.command("close")
def polls_close(
    station: Stations = None,
    everyone: AllStations = False,
    election: ElectionId = None,
    db: Db = None,
) -> None:
    """Close the polls for good, publishing each station's count of cast ballots."""
    _set_polls(close_polls, "closed", station, everyone, election, db)


@polls_app.command("checkins")
def polls_checkins(
    before_hour: Annotated[
        int, typer.Option("--before-hour", min=1, max=24, help="Publish the hours before this.")
    ],
    station: Stations = None,
    everyone: AllStations = False,
    election: ElectionId = None,
    db: Db = None,
) -> None:
    """Publish, for each station, the pseudonyms of the voters it checked in during the hours
    before --before-hour not yet published (issue 19: hourly while the polls are open, each
    hour's list sorted; the rest is published when the station closes)."""
    from verivote.election.turnout import publish_checkins

    store = _store(db)
    ctx = _context(store, election)
    if not ctx.manifest.polling.turnout:
        raise UserError("this election's manifest does not make turnout provable")
    published = 0
    for s in _stations(ctx, station, everyone):
        try:
            district = ctx.manifest.station(s).district
        except KeyError:
            raise UserError(f"no station {s!r} in the manifest") from None
        try:
            published += publish_checkins(store, ctx, s, district, before_hour)
        except (ElectionError, StoreError) as exc:
            raise UserError(str(exc)) from None
    Console().print(f"{published} check-ins published as pseudonyms (hours before {before_hour})")


def tally_command(
    cores: Annotated[
        int | None, typer.Option("--cores", min=1, help="Processes (default: every core).")
    ] = None,
    chunk: Annotated[int, typer.Option(min=1, help="Board entries per unit of work.")] = 2000,
    election: ElectionId = None,
    db: Db = None,
    as_json: AsJson = False,
    ray: RayOption = None,
    keys_dir: KeysDir = DEFAULT_KEYS,
) -> None:
    """Seal every district log, multiply the cast ballots into the encrypted tally and publish
    it (resumes if cut off)."""
    check_ray_option(ray, cores, "--cores")
    store = _store(db)
    ctx = _context(store, election)
    console = Console(stderr=True)
    try:
        # The authority's key seals the district logs; without the keys folder a board whose
        # districts are all sealed (or that has none) is still tallied.
        signer = authority_signer(keys_dir) if (keys_dir / AUTHORITY_FILE).is_file() else None
        with cluster_for(ray) as cluster, _progress("tally", console) as progress:
            tally = run_tally(
                store, ctx, processes=cores, chunk=chunk, progress=progress, cluster=cluster,
                signer=signer,
            )  # fmt: skip
    except (ElectionError, StoreError) as exc:
        raise UserError(str(exc)) from None
    ballots = {d: v["ballots"] for d, v in tally["districts"].items()}
    if as_json:
        typer.echo(json.dumps({"cutoff": tally["cutoff"], "ballots": ballots}))
        return
    console.print(
        f"encrypted tally of {sum(ballots.values()):,} ballots in {len(ballots)} district(s), "
        f"board entries below {tally['cutoff']:,}: published"
    )


def decrypt_command(
    combine_shares: Annotated[
        bool,
        typer.Option("--combine", help="Combine the guardians' partial decryptions into counts."),
    ] = False,
    election: ElectionId = None,
    db: Db = None,
    as_json: AsJson = False,
    ray: RayOption = None,
) -> None:
    """Combine the guardians' partial decryptions of the tally into the counts (--combine).
    The guardians decrypt with their own program, `verivote guardian decrypt`. With --ray,
    the proofs of the guardians' partial decryptions of the mix are checked as Ray tasks."""
    check_ray_option(ray, None)
    if not combine_shares:
        raise UserError(
            "give --combine; each guardian decrypts with `verivote guardian decrypt` on its "
            "own machine"
        )
    store = _store(db)
    ctx = _context(store, election)
    console = Console(stderr=as_json)
    try:
        with cluster_for(ray) as cluster:
            result = combine(store, ctx, cluster)
    except (ElectionError, StoreError, ValueError) as exc:  # QuorumError is a ValueError
        raise UserError(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    console.print(_results_table(ctx, result))
    for r in result.get("rejected", []):
        what = "the lot" if r.get("lot") else r["district"]
        console.print(
            f"[red]refused[/]: guardian {r['guardian']}'s partial decryption of "
            f"{what} (board entry {r['index']}): {r['reason']}"
        )


def _results_table(ctx: ElectionContext, result: dict[str, Any]) -> Table:
    used = ", ".join(str(g) for g in result["guardians"])
    table = Table(title=f"decrypted tally (guardians {used})")
    table.add_column("district")
    table.add_column("candidate")
    table.add_column("votes", justify="right")
    for district in ctx.manifest.districts:
        counts = result["districts"][district.id]
        table.add_section()
        for c in district.candidates:
            table.add_row(district.id, f"{c.code} {c.name}", f"{counts['votes'][c.code]:,}")
        table.add_row(district.id, "blank ballots", f"{counts['blank']:,}")
        table.add_row(district.id, "ballots", f"{counts['ballots']:,}")
    return table


def count_command(
    election: ElectionId = None,
    db: Db = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the count as JSON.")] = False,
) -> None:
    """Apply the counting law to the decrypted tally: seats, runoff fields and lots."""
    from verivote.election.count import run_count

    store = _store(db)
    ctx = _context(store, election)
    try:
        doc = run_count(store, ctx)
    except (ElectionError, StoreError) as exc:
        raise UserError(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    console = Console()
    names = {c.code: f"{c.code} {c.name}" for d in ctx.manifest.districts for c in d.candidates}
    for district in ctx.manifest.districts:
        result = doc["districts"][district.id]
        elected = ", ".join(names[c] for c in result["elected"]) or "nobody"
        line = f"[bold]{district.name}[/] ({district.seats}): elected {elected}"
        if result.get("runoff"):
            line += f"; runoff among {', '.join(names[c] for c in result['runoff'])}"
        console.print(line)
    console.print(
        f"lot seed {doc['seed']} (the guardians' lot and the board up to the tally, "
        f"{doc['checkpoint_size']} entries)"
    )


def runoff_command(
    keys_dir: Annotated[
        Path, typer.Option("--keys-dir", help="Folder for round 2's signing keys.")
    ] = Path("verivote-keys-round2"),
    new_ceremony: Annotated[
        bool,
        typer.Option(
            "--new-ceremony",
            help="Open a new key ceremony (guardians run `verivote guardian ceremony` against "
            "round 2's server) instead of reusing round 1's key.",
        ),
    ] = False,
    tokens_dir: Annotated[
        Path,
        typer.Option("--tokens-dir", help="With --new-ceremony: where to write the tokens."),
    ] = Path("verivote-guardian-tokens-round2"),
    election: ElectionId = None,
    db: Db = None,
) -> None:
    """Create the round-2 election of the districts with empty seats and their runoff fields."""
    from verivote.crypto.keyfile import write_private
    from verivote.election.count import find_entry
    from verivote.election.guardians import open_ceremony
    from verivote.election.publishing import create_signers
    from verivote.election.runoff import reuse_ceremony, runoff_manifest
    from verivote.election.service import init_election, load_context

    store = _store(db)
    ctx = _context(store, election)
    count = find_entry(store, ctx.election_id, "count")
    if count is None:
        raise UserError("nothing counted yet: run `verivote count` first")
    try:
        manifest = runoff_manifest(ctx, count)
        if manifest is None:
            Console().print("every seat was filled in round 1: no runoff")
            return
        create_signers(keys_dir, manifest)
        init_election(store, manifest)
        round2 = load_context(store, manifest.election_id)
        if new_ceremony:
            guardians = ctx.transcript.guardians if ctx.transcript else len(manifest.factions)
            quorum = ctx.transcript.quorum if ctx.transcript else guardians // 2 + 1
            tokens = open_ceremony(store, round2, guardians, quorum)
            tokens_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            for i, token in enumerate(tokens, start=1):
                write_private(tokens_dir / f"guardian-{i}.token", token + "\n")
        else:
            assert ctx.transcript is not None
            reuse_ceremony(store, round2, ctx.transcript)
    except (ElectionError, StoreError) as exc:
        raise UserError(str(exc)) from None
    seats = sum(d.seats for d in manifest.districts)
    Console().print(
        f"round 2 created as [bold]{manifest.election_id}[/]: {len(manifest.districts)} "
        f"district(s), {seats} seat(s); keys in {keys_dir}/"
        + (f"; key ceremony opened, guardian tokens in {tokens_dir}/" if new_ceremony else "")
        + "; each guardian now contributes to its lot (verivote guardian contribute)"
    )


def publish_command(
    directory: Annotated[Path, typer.Argument(help="Folder to write the record into.")],
    keys_dir: KeysDir = DEFAULT_KEYS,
    election: ElectionId = None,
    db: Db = None,
) -> None:
    """Write the public record (log/, with its tiles for static serving) and the results report
    (results.md)."""
    from verivote.election.report import publish

    store = _store(db)
    ctx = _context(store, election)
    try:
        size = publish(store, ctx, keys_dir, directory)
    except (ElectionError, StoreError, ValueError) as exc:
        raise UserError(str(exc)) from None
    Console().print(f"record of {size} entries and results.md written to {directory}")
