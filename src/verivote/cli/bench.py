"""`verivote bench`: throughput of the counting law, for the README's figures.

Benchmarks report rates measured on this machine; they are never timed assertions in tests.
"""

from __future__ import annotations

import json
import os
import platform
import random
import time
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console

from verivote.crypto import wire
from verivote.crypto.batch import EncodedSelection
from verivote.crypto.elgamal import ElectionKey, encrypt
from verivote.crypto.groups import DEFAULT_GROUP, GROUP_NAMES, get_group
from verivote.crypto.hashing import Item
from verivote.crypto.parallel import verify_selections
from verivote.crypto.proofs import prove_range, verify_range
from verivote.rules.majlis import count_majlis, tally_majlis
from verivote.rules.tiebreak import PublicLot
from verivote.sim.ballots import random_block_ballots
from verivote.store.db import scratch_database

BENCH_SCHEMA = "verivote_bench"
"""The prefix of the scratch schemas benchmarks work in on PostgreSQL."""

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


@bench_app.command("crypto")
def bench_crypto(
    group: Annotated[
        str,
        typer.Option(
            help="Group to measure.", click_type=click.Choice(GROUP_NAMES, case_sensitive=False)
        ),
    ] = DEFAULT_GROUP,
    selections: Annotated[int, typer.Option(min=1, help="0/1 selections to encrypt.")] = 2000,
    cores: Annotated[
        int, typer.Option(min=1, help="Processes that verify (encryption uses one core).")
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line.")] = False,
) -> None:
    """Encrypt S 0/1 selections with their proofs, then verify them all."""
    figures = measure_crypto(group, selections, cores)
    if as_json:
        typer.echo(json.dumps(figures))
        return
    enc, ver = figures["encrypt_ms_per_selection"], figures["verify_ms_per_selection"]
    floor_enc, floor_ver = operation_floor(group)
    Console().print(
        f"{group}: encrypt {enc:.3f} ms/selection ({1000 / enc:,.0f}/s on one core), "
        f"verify {ver:.3f} ms/selection ({1000 / ver:,.0f}/s on {cores} core(s))\n"
        f"the exponentiations alone, one by one, measured now: encrypt {floor_enc:.3f} ms "
        f"(3 g^x + 3 K^x), verify {floor_ver:.3f} ms (2 g^x + 2 K^x + 4 a^x + 4 a·b; "
        "a batch check needs fewer where the group has a multi-exponentiation)"
    )


def measure_crypto(name: str, selections: int, cores: int) -> dict[str, Any]:
    """The figures of `verivote bench crypto`; the election key is a fresh random one."""
    group = get_group(name)
    ek = ElectionKey(group, group.pow_g(group.random_scalar()))
    # Warm-up: fixed-base tables are built on first use, and are not part of the rate.
    warm = encrypt(ek, 1, 1)
    verify_range(ek, warm, prove_range(ek, warm, 1, 1, 1, ["warm-up"]), ["warm-up"])
    items: list[EncodedSelection] = []
    values = [i % 2 for i in range(selections)]
    t0 = time.perf_counter()
    for i, m in enumerate(values):
        r = group.random_scalar()
        ct = encrypt(ek, m, r)
        context: list[Item] = ["bench", "contest", i]
        proof = prove_range(ek, ct, m, r, 1, context)
        items.append(
            (
                wire.ciphertext_to_json(group, ct),
                wire.range_proof_to_json(group, proof),
                context,
            )
        )
    encrypt_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ok = verify_selections(ek, items, cores)
    verify_s = time.perf_counter() - t0
    if not all(ok):
        raise RuntimeError("a proof made by the benchmark did not verify")
    return {
        "group": name,
        "selections": selections,
        "encrypt_ms_per_selection": round(1000 * encrypt_s / selections, 4),
        "verify_ms_per_selection": round(1000 * verify_s / selections, 4),
        "cores": cores,
    }


def operation_floor(name: str, reps: int = 200) -> tuple[float, float]:
    """The milliseconds that the exponentiations of one 0/1 selection cost by themselves.

    Encryption with its proof needs g^r, K^(m+r) and, per branch, one power of g and one of K
    (`verivote.crypto.proofs.prove_range`); verification needs per branch g^v, α^c, K^x, β^c
    and two products.
    """
    group = get_group(name)
    ek = ElectionKey(group, group.pow_g(group.random_scalar()))
    a, b = group.pow_g(group.random_scalar()), group.pow_g(group.random_scalar())
    ks = [group.random_scalar() for _ in range(reps)]

    def per_call(fn: Any) -> float:
        t0 = time.perf_counter()
        for k in ks:
            fn(k)
        return 1000 * (time.perf_counter() - t0) / reps

    g_ms = per_call(group.pow_g)
    k_ms = per_call(ek.pow_k)
    var_ms = per_call(lambda k: group.pow(a, k))
    mul_ms = per_call(lambda _k: group.mul(a, b))
    return 3 * g_ms + 3 * k_ms, 2 * g_ms + 2 * k_ms + 4 * var_ms + 4 * mul_ms


@bench_app.command("cast")
def bench_cast(
    db: Annotated[
        str,
        typer.Option(
            "--db", help="Database URL to cast into (PostgreSQL: a new schema, dropped after)."
        ),
    ] = "sqlite:///bench-cast.db",
    ballots: Annotated[int, typer.Option(min=1, help="Ballots to cast.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line.")] = False,
) -> None:
    """Ballots cast per second into a database: encryption excluded (ballots made beforehand,
    then checked and cast) and included (each ballot encrypted, checked and cast)."""
    with scratch_database(db, BENCH_SCHEMA) as url:
        figures = measure_cast(url, ballots)
    if as_json:
        typer.echo(json.dumps(figures))
        return
    Console().print(
        f"{figures['backend']}: {figures['cast_per_second']:,.0f} ballots/s cast "
        f"(encryption excluded), {figures['encrypt_and_cast_per_second']:,.0f} ballots/s "
        f"encrypted and cast, one process, a {figures['seats']}-seat district of "
        f"{figures['candidates']} candidates"
    )


def measure_cast(url: str, count: int) -> dict[str, Any]:
    """Cast `count` ballots twice into a new election in the database at `url`."""
    import secrets as _secrets
    import tempfile
    from pathlib import Path

    from verivote.crypto.ballot import encrypt_ballot
    from verivote.election.polls import open_polls
    from verivote.election.service import cast, hold_ceremony, init_election, load_context
    from verivote.model.manifest import parse_manifest
    from verivote.store import Store, make_engine, migrate

    engine = make_engine(url)
    migrate(engine)
    store = Store(engine)
    election_id = f"bench-{_secrets.token_hex(4)}"
    codes = [str(1000 + i) for i in range(10)]
    candidates = [{"code": code, "name": f"Candidate {code}"} for code in codes]
    manifest = parse_manifest(
        {
            "election_id": election_id,
            "name": "cast benchmark",
            "date": "2024-03-01",
            "districts": [{"id": "d", "name": "District", "seats": 3, "candidates": candidates}],
            "stations": [
                {"id": f"s{i}", "name": f"Station {i}", "district": "d"} for i in range(8)
            ],
        }
    )
    init_election(store, manifest)
    with tempfile.TemporaryDirectory() as keys:
        hold_ceremony(store, load_context(store, election_id), 1, 1, Path(keys))
    ctx = load_context(store, election_id)
    assert ctx.key is not None
    open_polls(store, ctx, [s.id for s in manifest.stations])  # ballots only at open stations
    rng = random.Random(1)

    def one(i: int) -> dict[str, Any]:
        assert ctx.key is not None
        choice = rng.sample(codes, rng.randint(0, 3))
        return encrypt_ballot(ctx.manifest, ctx.key, ctx.base_hash, f"s{i % 8}", choice)[0]

    ready = [one(i) for i in range(count)]
    t0 = time.perf_counter()
    for b in ready:
        cast(store, ctx, b)
    cast_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(count):
        cast(store, ctx, one(i))
    both_s = time.perf_counter() - t0
    engine.dispose()
    return {
        "backend": engine.dialect.name,
        "ballots": count,
        "seats": 3,
        "candidates": len(codes),
        "cast_per_second": round(count / cast_s, 1),
        "encrypt_and_cast_per_second": round(count / both_s, 1),
    }


@bench_app.command("tally")
def bench_tally(
    db: Annotated[
        str, typer.Option("--db", help="Database URL (PostgreSQL: a new schema, dropped after).")
    ] = "sqlite:///bench-tally.db",
    ballots: Annotated[int, typer.Option(min=1, help="Ballots on the board.")] = 100_000,
    candidates: Annotated[int, typer.Option(min=1, help="Candidates on each ballot.")] = 10,
    cores: Annotated[
        int | None, typer.Option(help="Processes for the tally (default: all).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line.")] = False,
) -> None:
    """An election of N ballots through tally, decryption by 3 of 5 guardians, and combine."""
    from verivote.election.benchtally import measure_tally

    with scratch_database(db, BENCH_SCHEMA) as url:
        figures = measure_tally(url, ballots, candidates, cores)
    if as_json:
        typer.echo(json.dumps(figures))
        return
    Console().print(json.dumps(figures, indent=2))


@bench_app.command("checkin")
def bench_checkin(
    db: Annotated[
        str,
        typer.Option(
            "--db", help="PostgreSQL URL (the benchmark works in a new schema, dropped after)."
        ),
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    voters: Annotated[int, typer.Option(min=1000, help="Voters on the roll.")] = 1_000_000,
    clients: Annotated[int, typer.Option(min=1, help="Concurrent HTTP clients.")] = 32,
    seconds: Annotated[float, typer.Option(min=1, help="How long to drive the server.")] = 20,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line.")] = False,
) -> None:
    """Check-ins per second over HTTP on loopback, server and database on this machine."""
    from verivote.web.benchcheckin import measure_checkin

    with scratch_database(db, BENCH_SCHEMA) as url:
        figures = measure_checkin(url, voters, clients, seconds, workers)
    typer.echo(json.dumps(figures) if as_json else json.dumps(figures, indent=2))


@bench_app.command("cast-api")
def bench_cast_api(
    db: Annotated[
        str,
        typer.Option(
            "--db", help="PostgreSQL URL (the benchmark works in a new schema, dropped after)."
        ),
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    seconds: Annotated[
        float, typer.Option(min=1, help="How long to drive the server, per phase.")
    ] = 20,
    devices: Annotated[int, typer.Option(min=1, help="Concurrent station devices.")] = 16,
    no_proofs: Annotated[
        bool,
        typer.Option(
            "--no-proofs",
            help="Only the append path: the benchmark's server takes ballots as already "
            "checked (a benchmark's option, never a server's).",
        ),
    ] = False,
    cast_workers: Annotated[
        int | None,
        typer.Option(
            min=1, max=256, help="The server's proof-checking processes (default: CPU count)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line.")] = False,
) -> None:
    """Ballots of the demo's shape cast over HTTP into PostgreSQL by N station devices:
    ballots/s with every proof checked, against the machine's proof-checking capacity
    (cores ÷ the time to check one ballot), then the append path alone (proofs taken as
    checked); p50/p99 latency, CPU per ballot by part, and ballots lost or duplicated, counted
    from the database and the board after every station closed."""
    from verivote.web.benchcast import measure_cast_api

    with scratch_database(db, BENCH_SCHEMA) as url:
        figures = measure_cast_api(url, seconds, devices, proofs=not no_proofs,
                                   cast_workers=cast_workers)  # fmt: skip
    print_cast_api(figures)
    if as_json:
        typer.echo(json.dumps(figures))


def print_cast_api(figures: dict[str, Any]) -> None:
    """The figures of `bench cast-api` as a table, on stderr (stdout keeps the JSON line)."""
    from rich.table import Table

    console = Console(stderr=True)
    table = Table(title=f"cast API, {figures['devices']} devices, {figures['cores']} cores, "
                        f"{figures['backend']}")  # fmt: skip
    columns = ("ballots/s", "p50 ms", "p99 ms", "proofs", "server", "database", "client")
    table.add_column("phase")
    for column in columns:
        table.add_column(column, justify="right")

    def cell(value: Any) -> str:
        return "–" if value is None else f"{value:,}"

    for name, phase in figures["phases"].items():
        cpu = phase["cpu_ms_per_ballot"]
        table.add_row(
            name, cell(phase["ballots_per_s"]), cell(phase["p50_ms"]), cell(phase["p99_ms"]),
            *(cell(cpu[k]) for k in ("proof_checking", "http_server", "database",
                                      "load_generator")),
        )  # fmt: skip
    console.print(table)
    console.print(
        "CPU columns: ms of CPU per ballot (proofs: the pool's workers; server: the server's "
        "process, HTTP and driver; database: its PostgreSQL backends)"
    )
    share = figures["capacity_share"]
    pooled = ", ".join(f"{c:,}" for c in figures["capacity_pool_per_s"]) or "–"
    console.print(
        f"capacity: {figures['capacity_per_s']:,} ballots/s, the largest of "
        f"{figures['capacity_serial_per_s']:,} ({figures['cores']} cores ÷ "
        f"{figures['check_ms_per_ballot']} ms to check one ballot) and a checking pool's "
        f"{pooled} (before, after)"
        + ("" if share is None else f"; the API reached {100 * share:.0f} % of it (goal 80 %), "
           f"{100 * figures['pool_share']:.0f} % of the pool's best")
    )  # fmt: skip
    if figures["append_only_per_s"] is not None:
        console.print(f"append path alone: {figures['append_only_per_s']:,} ballots/s (goal 3,000)")
    floor = figures.get("append_floor")
    if floor:
        console.print(
            f"its floor: {floor['floor_per_s']:,} ballots/s if it cost only the unavoidable: "
            f"canonical JSON {floor['canonical_ms']} ms, PostgreSQL storing the entry twice "
            f"{floor['postgres_ms']} ms, the driver {floor['driver_ms']} ms per ballot"
        )
    console.print(f"lost {figures['lost']}, duplicated {figures['duplicated']}")


@bench_app.command("mix")
def bench_mix(
    ciphertexts: Annotated[
        int, typer.Option(help="Ciphertexts to shuffle (a multiple of --width, at least 2).")
    ] = 2000,
    width: Annotated[int, typer.Option(help="Ciphertexts per row (one ballot's width).")] = 2,
    group: Annotated[
        str,
        typer.Option(
            help="Group to measure.", click_type=click.Choice(GROUP_NAMES, case_sensitive=False)
        ),
    ] = DEFAULT_GROUP,
    jobs: Annotated[
        int | None,
        typer.Option(help="Processes for the parallel measurement (default: every core)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line.")] = False,
) -> None:
    """The verifiable shuffle of N ciphertexts in rows of W: shuffle + proof and proof check
    per ciphertext on one core and on J processes, against the floor, the time of exactly
    their exponentiations one by one, measured in the same run."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from verivote.bench.mix import measure_mix, phases, validate

    problem = validate(ciphertexts, width, jobs)
    if problem:
        raise click.BadParameter(problem)
    console = Console(stderr=True)
    workers = jobs or os.cpu_count() or 1
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console,
        transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("starting", total=phases(workers))

        def step(what: str, done: float) -> None:
            progress.update(task, description=what, advance=done)

        figures = measure_mix(group.lower(), ciphertexts, width, jobs, step)
    print_mix(console, figures)
    if as_json:
        typer.echo(json.dumps(figures))


def print_mix(console: Console, figures: dict[str, Any]) -> None:
    """The figures of `bench mix` as a table (on stderr when stdout keeps the JSON line)."""
    from rich.table import Table

    m = figures["machine"]
    table = Table(
        title=f"{figures['group']}: {figures['ciphertexts']:,} ciphertexts in {figures['rows']:,}"
        f" rows of {figures['width']} — {m['cpu']}, {m['cores']} cores"
    )
    table.add_column("ms per ciphertext")
    for column in ("1 core", "floor", "floor ÷ step",
                   f"{figures['jobs']} processes", "speed-up"):  # fmt: skip
        table.add_column(column, justify="right")
    for step in ("prove", "verify"):
        table.add_row(
            "shuffle + proof" if step == "prove" else "proof check",
            f"{figures[f'{step}_ms_per_ciphertext']:.4f}",
            f"{figures[f'{step}_floor_ms_per_ciphertext']:.4f}",
            f"{figures[f'{step}_floor_ratio']:.2f}",
            f"{figures[f'{step}_ms_per_ciphertext_jobs']:.4f}",
            f"{figures[f'{step}_speedup_jobs']:.2f}×",
        )
    console.print(table)
    console.print(
        "floor: the same exponentiations one by one (g and the key with their fixed-base "
        "tables, other bases with group.pow); a ratio of 1 is no overhead, above 1 means "
        "multi-exponentiation beat them"
    )


@bench_app.command("tehran")
def bench_tehran(
    ballots: Annotated[int, typer.Option(help="Ballots to encrypt, mix and count (at least 2).")],
    jobs: Annotated[
        int | None, typer.Option(help="Processes for every step (default: every core).")
    ] = None,
    candidates: Annotated[
        int, typer.Option(help="Candidates of the district (Tehran 2024: 3,545; at most 3,999).")
    ] = 3545,
    seats: Annotated[int, typer.Option(help="Seats, i.e. codes a ballot holds (Tehran: 30).")] = 30,
    seed: Annotated[int, typer.Option(help="Seed of the plaintext ballots.")] = 1,
    trace_memory: Annotated[
        bool,
        typer.Option(
            "--trace-memory",
            help="Also trace this process's Python allocations per step (tracemalloc; slows "
            "the run, so its times are not the figures).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line.")] = False,
) -> None:
    """Tehran's shape on the mix path, end to end on ristretto255: N written ballots
    encrypted, checked at cast from their JSON, mixed by 5 mixers with proofs (each checked),
    decrypted by 3 of 5 guardians with proofs (checked), combined, decoded and counted by the
    law; the count must equal the plaintext count of the same ballots. Per step: wall time,
    CPU, CPU per ballot, peak memory and the projection to Tehran's 1,850,000 ballots in
    core-hours."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from verivote.bench.tehran import CountMismatch, measure_tehran, units, validate
    from verivote.cli.errors import UserError

    problem = validate(ballots, candidates, seats, jobs)
    if problem:
        raise click.BadParameter(problem)
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console,
        transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("starting", total=units(ballots))

        def step(what: str, done: float) -> None:
            progress.update(task, description=what, advance=done)

        try:
            figures = measure_tehran(ballots, jobs, candidates, seats, seed, step, trace_memory)
        except CountMismatch as exc:
            raise UserError(f"the mix path's count is wrong: {exc}") from None
    print_tehran(console, figures)
    if as_json:
        typer.echo(json.dumps(figures))


TEHRAN_STEPS = {
    "encrypt": "encrypt (voting devices)",
    "check_at_cast": "check at cast, from JSON",
    "shuffle_prove": "5 × shuffle + proof",
    "shuffle_check": "5 × shuffle proof check",
    "partial_decrypt": "3 guardians' partial decryptions",
    "check_partials": "their proofs checked",
    "combine": "combine (Lagrange)",
    "decode": "decode",
    "count": "count by the law",
}


def print_tehran(console: Console, figures: dict[str, Any]) -> None:
    """The figures of `bench tehran` as a table (on stderr, stdout keeps the JSON line)."""
    from rich.table import Table

    m = figures["machine"]
    table = Table(
        title=f"{figures['ballots']:,} ballots of up to {figures['seats']} codes from "
        f"{figures['candidates']:,} candidates ({figures['width']} ciphertexts each), "
        f"{figures['jobs']} process(es) — {m['cpu']}, {m['cores']} cores"
    )
    table.add_column("step")
    traced = figures["trace_memory"]
    columns = ["wall s", "CPU s", "CPU ms/ballot", "peak RSS MiB main / worker"]
    columns += ["traced MiB"] if traced else []
    for column in (*columns, "core-hours at 1.85 M"):
        table.add_column(column, justify="right")
    for name, label in TEHRAN_STEPS.items():
        s = figures["steps"][name]
        table.add_row(
            label, f"{s['wall_s']:,.2f}", f"{s['cpu_s']:,.2f}", f"{s['cpu_ms_per_ballot']:.4f}",
            f"{s['peak_rss_main_mib']:,.0f} / {s['peak_rss_worker_mib']:,.0f}",
            *([f"{s['traced_peak_main_mib']:,.1f}"] if traced else []),
            f"{s['tehran_core_hours']:.3f}",
        )  # fmt: skip
    table.add_row("total", *[""] * len(columns), f"{figures['tehran_core_hours_total']:.2f}")
    console.print(table)
    console.print(
        f"count: {figures['valid']:,} valid, {figures['void']:,} void, {figures['elected']} "
        f"elected, runoff field {figures['runoff_field']}: equal to the plaintext count"
    )
    console.print(
        f"checking one ballot at cast: {figures['check_ms_per_ballot']:.3f} ms of CPU, "
        f"{figures['check_speedup_vs_homomorphic']:,.0f}× faster than the homomorphic path's "
        f"1.6 s (goal {figures['goal_check_speedup']:,}×: "
        f"{'met' if figures['goal_check_met'] else 'NOT met'})"
    )
    console.print(
        f"Tehran's 1,850,000 ballots: {figures['tehran_core_hours_total']:.2f} core-hours in "
        f"all ({figures['tehran_core_hours_after_polls']:.2f} from the first mix on; goal ≤ "
        f"{figures['goal_core_hours']:g}: {'met' if figures['goal_core_hours_met'] else 'NOT met'})"
    )
    console.print(f"memory: {figures['memory']}")


@bench_app.command("board")
def bench_board(
    entries: Annotated[int, typer.Option(help="Entries to append, and the proof log's size.")],
    districts: Annotated[int, typer.Option(help="District logs appended to at once.")] = 8,
    batch: Annotated[int, typer.Option(help="Entries per transaction (group commit).")] = 500,
    readers: Annotated[
        int, typer.Option(help="Processes asking for proofs at once (a tracker's workers).")
    ] = 4,
    appends: Annotated[
        int | None,
        typer.Option(help="Entries appended in the appends' phase (default: --entries)."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL (default: a temporary SQLite file; PostgreSQL: a new schema, "
            "dropped after), e.g. postgresql+psycopg://@127.0.0.1:5432/test.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line.")] = False,
) -> None:
    """The board's logs and stored trees (issue 17): appends into D district logs at once
    (one writer each, a transaction per batch), inclusion proofs and checkpoints from the
    stored tiles of a log of N entries, each beside its SHA-256 floor."""
    import tempfile
    from pathlib import Path

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from verivote.bench.board import PHASES, measure_board, validate

    problem = validate(entries, districts, batch, readers, appends)
    if problem:
        raise click.BadParameter(problem)
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="verivote-bench-board-") as tmp:
        url = db or f"sqlite:///{Path(tmp) / 'board.db'}"
        try:
            with (
                scratch_database(url, BENCH_SCHEMA) as scratch,
                Progress(
                    TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                    console=console, transient=True,
                ) as progress,
            ):  # fmt: skip
                task = progress.add_task("starting", total=PHASES)

                def step(what: str, done: float) -> None:
                    progress.update(task, description=what, advance=done)

                figures = measure_board(
                    scratch, entries, districts, batch, readers, step, appends=appends
                )
        except Exception as exc:  # a database that refuses: one line, not a traceback
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise click.ClickException(f"bench board failed: {first}") from None
    print_board(console, figures)
    if as_json:
        typer.echo(json.dumps(figures))


def print_board(console: Console, figures: dict[str, Any]) -> None:
    """The figures of `bench board` (on stderr when stdout keeps the JSON line)."""
    from rich.table import Table

    table = Table(
        title=f"{figures['backend']}: {figures['entries']:,} entries of {figures['entry_bytes']}"
        f" bytes ({figures['appends']:,} appended into {figures['districts']} district logs, "
        f"batches of {figures['batch']}), {figures['cores']} cores"
    )
    for column in ("", "measured", "floor (SHA-256 alone)"):
        table.add_column(column, justify="right")
    table.add_row(
        "appends/s",
        f"{figures['appends_per_s']:,.0f}",
        f"{figures['append_hash_floor_per_s']:,.0f}",
    )
    table.add_row(
        f"proofs/s (log of {figures['entries']:,}, {figures['proof_hashes']} hashes, "
        f"{figures['readers']} reader processes)",
        f"{figures['proofs_per_s']:,.0f}",
        f"{figures['proof_verify_floor_per_s']:,.0f}",
    )
    table.add_row(
        "checkpoint ms", f"{figures['checkpoint_ms']:.3f}", f"{figures['checkpoint_hash_ms']:.3f}"
    )
    console.print(table)
    console.print(f"bulk load of the proof log: {figures['load_per_s']:,.0f} entries/s")
    server = figures["proof_server_cpu_ms"]
    console.print(
        f"CPU per proof: {figures['proof_client_cpu_ms']:.3f} ms in the readers"
        + ("" if server is None else f", {server:.3f} ms in their database server processes")
    )


@bench_app.command("ray")
def bench_ray(
    tasks: Annotated[int, typer.Option(min=10, help="Tasks in the batch.")] = 2000,
    payload: Annotated[
        int,
        typer.Option(min=0, help="Bytes sent with each task (default: about 100 ballots)."),
    ] = 64 * 1024,
    jobs: Annotated[
        int | None, typer.Option(min=1, help="Processes of the local pool (default: every core).")
    ] = None,
    ray: Annotated[
        str,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="The cluster: 'auto' (a local one on 127.0.0.1, started for the run) or "
            "HOST:PORT of a running one.",
        ),
    ] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line.")] = False,
) -> None:
    """The overhead of a task on Ray against the process pool: ms per task that does nothing
    but receive its bytes, one at a time (round trip) and in a batch, and the seconds to
    start or reach the cluster."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from verivote.bench.ray_overhead import measure_overhead
    from verivote.cli.cluster import check_ray_option, cluster_for

    check_ray_option(ray, None)
    console = Console(stderr=True)
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
        transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("starting the cluster", total=None)
        started = time.perf_counter()
        with cluster_for(ray) as cluster:
            assert cluster is not None
            start_s = time.perf_counter() - started
            figures = measure_overhead(
                cluster, tasks, jobs, lambda what: progress.update(task, description=what), payload
            )
    figures["ray_start_s"] = round(start_s, 2)
    console.print(
        f"ms per task of {payload:,} bytes, {figures['jobs']} processes / Ray on "
        f"{figures['ray_cpus']} CPUs: "
        f"round trip {figures['pool_ms_per_task_round_trip']:.3f} / "
        f"{figures['ray_ms_per_task_round_trip']:.3f}, batch of {tasks:,} "
        f"{figures['pool_ms_per_task_batch']:.3f} / {figures['ray_ms_per_task_batch']:.3f}; "
        f"cluster started or reached in {start_s:.1f} s",
        highlight=False,
    )
    if as_json:
        typer.echo(json.dumps(figures))


@bench_app.command("verify-memory")
def bench_verify_memory(
    pool: Annotated[
        Path,
        typer.Option(help="Folder of the encrypted ballots and records (made if missing)."),
    ],
    ballots: Annotated[
        list[int], typer.Option(help="Ballots of a record to verify; repeat for several.")
    ],
    jobs: Annotated[int, typer.Option(help="Processes of the verifier (and of encryption).")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line.")] = False,
) -> None:
    """Peak memory of `verivote verify RECORD --jobs J` on one-district records of growing
    numbers of ballots (issue 17: at most 2 GB at 1,000,000), with the growth per 100,000
    ballots and its projection to 1,000,000."""
    from rich.table import Table

    from verivote.bench.verify_memory import measure

    if not ballots or min(ballots) < 1:
        raise click.BadParameter("give --ballots N (N ≥ 1) at least once")
    try:
        figures = measure(pool, sorted(set(ballots)), jobs)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    console = Console(stderr=True)
    table = Table(title=f"verivote verify --jobs {jobs}: peak resident memory (MiB)")
    for name in ("ballots", "entries MB", "valid", "wall s", "main", "largest worker", "tree"):
        table.add_column(name, justify="right")
    for run in figures["runs"]:
        table.add_row(
            f"{run['ballots']:,}", f"{run['entries_bytes'] / 1e6:,.0f}", str(run["valid"]),
            f"{run['wall_seconds']:,.1f}", f"{run['main_peak_mib']:,.1f}",
            f"{run['worker_peak_mib']:,.1f}", f"{run['tree_peak_mib']:,.1f}",
        )  # fmt: skip
    console.print(table)
    if "main_peak_per_100k_mib" in figures:
        console.print(
            f"per 100,000 ballots: main {figures['main_peak_per_100k_mib']} MiB, tree"
            f" {figures['tree_peak_per_100k_mib']} MiB; at 1,000,000: main"
            f" {figures['main_peak_at_1m_mib']} MiB, tree {figures['tree_peak_at_1m_mib']} MiB"
        )
    if as_json:
        typer.echo(json.dumps(figures))


@bench_app.command("oprf")
def bench_oprf(
    voters: Annotated[int, typer.Option(help="Voters on the synthetic roll.")] = 20_000,
    batch: Annotated[int, typer.Option(help="Blinded codes a guardian answers at once.")] = 256,
    processes: Annotated[
        int | None, typer.Option(help="Processes doing the work (default: every core).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line.")] = False,
) -> None:
    """The voters' pseudonyms (issue 19): N voters' codes blinded, answered in batches by 3 of
    5 guardians with batched proofs, the proofs checked, the answers combined and unblinded;
    per voter on one core against the floor (the 8 scalar multiplications no such flow can
    avoid, measured in the same run), and projected to 61.2 M voters on 32 machines of 16
    cores."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from verivote.bench.oprf import WrongPseudonym, measure_oprf, units, validate
    from verivote.cli.errors import UserError

    problem = validate(voters, batch, processes)
    if problem:
        raise click.BadParameter(problem)
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console,
        transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("starting", total=units(voters, batch))

        def step(what: str, done: float) -> None:
            progress.update(task, description=what, advance=done)

        try:
            figures = measure_oprf(voters, batch, processes, step)
        except WrongPseudonym as exc:
            raise UserError(f"the pseudonyms are wrong: {exc}") from None
    print_oprf(console, figures)
    if as_json:
        typer.echo(json.dumps(figures))


OPRF_STAGES = {
    "blind": "blind (authority: H1(code)^r)",
    "evaluate": "3 guardians answer, batched proofs",
    "verify": "their proofs checked",
    "combine": "combine (Lagrange)",
    "unblind": "unblind",
}


def print_oprf(console: Console, figures: dict[str, Any]) -> None:
    """The figures of `bench oprf` as a table (on stderr, stdout keeps the JSON line)."""
    from rich.table import Table

    m = figures["machine"]
    table = Table(
        title=f"pseudonyms of {figures['voters']:,} voters, {figures['quorum']} of "
        f"{figures['guardians']} guardians, batches of {figures['batch']}, "
        f"{figures['processes']} process(es) — {m['cpu']}, {m['cores']} cores"
    )
    for column in ("ms per voter, one core", "measured", "floor", "floor ÷ measured"):
        table.add_column(column, justify="right")
    for name, label in OPRF_STAGES.items():
        ms, floor = figures["stage_ms_per_voter"][name], figures["stage_floor_ms_per_voter"][name]
        table.add_row(label, f"{ms:.4f}", f"{floor:.4f}", f"{floor / ms:.2f}" if ms else "–")
    table.add_row(
        "all (wall time × processes ÷ voters)", f"{figures['per_voter_ms']:.4f}",
        f"{figures['floor_per_voter_ms']:.4f}", f"{figures['floor_ratio']:.2f}",
    )  # fmt: skip
    console.print(table)
    console.print(
        f"floor: {figures['floor_pows_per_voter']} scalar multiplications per voter (1 blind, "
        f"1 per guardian's answer, 1 per answer combined, 1 unblind), {figures['pow_ms']:.4f} ms "
        f"each, by the same processes; goal floor ÷ measured ≥ 0.80"
    )
    console.print(
        f"{figures['voters_per_s']:,.0f} voters/s on {figures['processes']} process(es); "
        f"61,200,000 voters on 32 machines × 16 cores: "
        f"{figures['projected_national_hours_32x16']:.3f} h; pseudonyms of "
        f"{figures['checked_voters']} voters equal H1(code)^k with the whole key"
    )


@bench_app.command("turnout-memory")
def bench_turnout_memory(
    voters: Annotated[
        int, typer.Option(min=1000, help="Voters on the synthetic roll.")
    ] = 2_000_000,
    share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of the voters checked in.")
    ] = 0.4,
    folder: Annotated[
        Path, typer.Option("--dir", help="Where the synthetic roll is written (kept).")
    ] = Path("bench-turnout"),
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line.")] = False,
) -> None:
    """Peak memory and time of the `turnout` check's own work (issue 19: under 2 GB for the
    national roll of 61.2 M) on a synthetic roll of N voters, in a fresh process, projected
    linearly to the national roll."""
    from verivote.bench.turnout_memory import measure

    try:
        figures = measure(folder, voters, share)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    Console(stderr=True).print(
        f"{figures['voters']:,} voters, {figures['checkins']:,} check-ins: "
        f"{figures['seconds']} s, work {figures['work_mib']} MiB "
        f"({figures['bytes_per_voter']} bytes a voter) over a baseline of "
        f"{figures['baseline_mib']} MiB; national roll: {figures['projected_national_mib']:,.0f}"
        f" MiB, {figures['projected_national_seconds']:,.0f} s"
    )
    if as_json:
        typer.echo(json.dumps(figures))
