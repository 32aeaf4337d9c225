"""`verivote bench checkin`: check-ins per second over HTTP against a real server (issue 7).

The benchmark creates an election with a roll of `voters` voters in the given database,
starts `verivote serve` on it as a separate process on the loopback interface, and drives it
for `seconds` from `clients` concurrent clients with a realistic mix: about 2 % of requests are
a voter who already checked in (at another station), about 1 % a person not on the roll, the
rest first check-ins. Double votes are counted from the database afterwards (voters with more
than one check-in), never from the responses.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from typing import Any

from sqlalchemy import func, select

from verivote.polling.roll import check_digit
from verivote.store import Store, make_engine, migrate
from verivote.store.roll import import_voters, issue_token
from verivote.store.schema import checkins
from verivote.web.benchkit import cpu_seconds, free_port, post_json, postgres_cpu, wait_for

STATIONS = 100


def _code(n: int) -> str:
    nine = f"{n:09d}"
    return nine + check_digit(nine)


def measure_checkin(
    url: str, voters: int, clients: int, seconds: float, workers: int = 1
) -> dict[str, Any]:
    """Run the benchmark (see the module docstring) and return its figures."""
    from verivote.election.polls import open_polls
    from verivote.election.service import init_election, load_context
    from verivote.model.manifest import parse_manifest

    engine = make_engine(url)
    migrate(engine)
    store = Store(engine)
    election_id = f"bench-checkin-{secrets.token_hex(4)}"
    stations = [f"s{i:03d}" for i in range(STATIONS)]
    manifest = parse_manifest(
        {
            "election_id": election_id,
            "name": "check-in benchmark",
            "date": "2024-03-01",
            "districts": [{"id": "d", "name": "District", "seats": 1,
                           "candidates": [{"code": "1", "name": "A"}]}],
            "stations": [{"id": s, "name": s, "district": "d"} for s in stations],
        }
    )  # fmt: skip
    init_election(store, manifest)
    # Check-ins are taken only at open stations (issue 15).
    open_polls(store, load_context(store, election_id), stations)
    t0 = time.perf_counter()
    import_voters(engine, election_id, ((_code(n), "d", None) for n in range(1, voters + 1)))
    load_s = time.perf_counter() - t0
    tokens = [issue_token(engine, election_id, s) for s in stations]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "verivote", "serve", "--db", url, "--election", election_id,
         "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/api/turnout")
        cpu0, client0, pg0 = cpu_seconds(server.pid), time.process_time(), postgres_cpu()
        results = _drive(base, tokens, voters, clients, seconds)
        server_cpu, client_cpu = cpu_seconds(server.pid) - cpu0, time.process_time() - client0
        pg_cpu = postgres_cpu() - pg0
    finally:
        server.terminate()
        server.wait(30)
    with engine.begin() as conn:
        doubles = conn.execute(
            select(func.count()).select_from(
                select(checkins.c.national_code)
                .where(checkins.c.election_id == election_id)
                .group_by(checkins.c.national_code)
                .having(func.count() > 1)
                .subquery()
            )
        ).scalar_one()
    engine.dispose()
    latencies = sorted(results["latencies"])
    n = len(latencies)
    return {
        "checkins_per_s": round(n / seconds, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2) if n else None,
        "p99_ms": round(1000 * latencies[int(0.99 * (n - 1))], 2) if n else None,
        "double_votes": int(doubles),
        "errors": results["errors"],
        "requests": n,
        "statuses": results["statuses"],
        "clients": clients,
        "server_workers": workers,
        "voters": voters,
        "roll_load_seconds": round(load_s, 1),
        "backend": engine.dialect.name,
        # CPU time per request of the server's processes and of the load generator: steadier
        # than the rate on a shared machine, and what tells where the time goes.
        "server_cpu_us_per_request": round(1e6 * server_cpu / n, 1) if n else None,
        "client_cpu_us_per_request": round(1e6 * client_cpu / n, 1) if n else None,
        # every PostgreSQL process of this machine (0 when the database is elsewhere)
        "postgres_cpu_us_per_request": round(1e6 * pg_cpu / n, 1) if n else None,
    }


def _drive(
    base: str, tokens: list[str], voters: int, clients: int, seconds: float
) -> dict[str, Any]:
    try:
        import uvloop

        return uvloop.run(_drive_async(base, tokens, voters, clients, seconds))
    except ImportError:  # pragma: no cover - uvloop is a dependency on every POSIX system
        return asyncio.run(_drive_async(base, tokens, voters, clients, seconds))


async def _drive_async(
    base: str, tokens: list[str], voters: int, clients: int, seconds: float
) -> dict[str, Any]:
    """C clients, each on its own keep-alive connection, one request at a time.

    HTTP/1.1 is written and read by hand on asyncio streams: a general client (httpx) costs
    more CPU per request than the server's handler, and the load generator shares the machine.
    """
    host, port = base.removeprefix("http://").rsplit(":", 1)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = [0]
    next_voter = [1]
    done: list[str] = []
    deadline = time.perf_counter() + seconds

    async def client(k: int) -> None:
        rng = random.Random(k)
        reader, writer = await asyncio.open_connection(host, int(port))
        i = 0
        try:
            while time.perf_counter() < deadline:
                roll = rng.random()
                if roll < 0.02 and done:
                    code = rng.choice(done)  # a voter who already voted, at another station
                elif roll < 0.03:
                    code = _code(voters + 1 + rng.randrange(10**6))  # not on the roll
                else:
                    code = _code(next_voter[0])
                    next_voter[0] += 1
                body = json.dumps(
                    {"national_code": code, "request_id": f"c{k}-{i}-{rng.getrandbits(32):08x}"}
                ).encode()
                i += 1
                token = tokens[rng.randrange(len(tokens))]
                t0 = time.perf_counter()
                answer = await post_json(reader, writer, host, "/api/checkin", token, body)
                status = answer["status"]
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
                if status == "accepted":
                    done.append(code)
                elif status not in ("already_voted", "not_eligible"):
                    errors[0] += 1
                    if status == "error":
                        return
        finally:
            writer.close()

    await asyncio.gather(*(client(k) for k in range(clients)))
    return {"latencies": latencies, "statuses": statuses, "errors": errors[0]}
