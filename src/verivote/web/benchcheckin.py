"""`verivote bench checkin`: check-ins per second over HTTP against a real server (issue 7).

The benchmark creates an election with a roll of `voters` voters in the given database,
starts `verivote serve` on it as a separate process on the loopback interface, and drives it
for `seconds` from `clients` concurrent clients with a realistic mix: about 2 % of requests are
a voter who already checked in (at another station), about 1 % a person not on the roll, the
rest first check-ins. Double votes are counted from the database afterwards (voters with more
than one check-in), never from the responses.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
from sqlalchemy import func, select

from verivote.polling.roll import check_digit
from verivote.store import Store, make_engine, migrate
from verivote.store.roll import import_voters, issue_token
from verivote.store.schema import checkins

STATIONS = 100


def _code(n: int) -> str:
    nine = f"{n:09d}"
    return nine + check_digit(nine)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure_checkin(url: str, voters: int, clients: int, seconds: float) -> dict[str, Any]:
    """Run the benchmark (see the module docstring) and return its figures."""
    from verivote.election.service import init_election
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
    t0 = time.perf_counter()
    import_voters(engine, election_id, ((_code(n), "d", None) for n in range(1, voters + 1)))
    load_s = time.perf_counter() - t0
    tokens = [issue_token(engine, election_id, s) for s in stations]
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "verivote", "serve", "--db", url, "--election", election_id,
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/api/turnout", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        results = _drive(base, tokens, voters, clients, seconds)
    finally:
        server.terminate()
        server.wait(10)
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
        "voters": voters,
        "roll_load_seconds": round(load_s, 1),
        "backend": engine.dialect.name,
    }


def _drive(
    base: str, tokens: list[str], voters: int, clients: int, seconds: float
) -> dict[str, Any]:
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = [0]
    next_voter = [1]
    done: list[str] = []
    deadline = time.perf_counter() + seconds

    def client(k: int) -> None:
        rng = random.Random(k)
        with httpx.Client(base_url=base, timeout=10) as http:
            i = 0
            while time.perf_counter() < deadline:
                roll = rng.random()
                with lock:
                    if roll < 0.02 and done:
                        code = rng.choice(done)
                    elif roll < 0.03:
                        code = _code(voters + 1 + rng.randrange(10**6))  # not on the roll
                    else:
                        code = _code(next_voter[0])
                        next_voter[0] += 1
                token = tokens[rng.randrange(len(tokens))]
                body = {"national_code": code, "request_id": f"c{k}-{i}-{secrets.token_hex(4)}"}
                i += 1
                t0 = time.perf_counter()
                try:
                    r = http.post("/api/checkin", json=body,
                                  headers={"Authorization": f"Bearer {token}"})  # fmt: skip
                    status = r.json().get("status", f"http {r.status_code}")
                except (httpx.HTTPError, ValueError):
                    status = "error"
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == "accepted":
                        done.append(code)
                    elif status not in ("already_voted", "not_eligible"):
                        errors[0] += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"latencies": latencies, "statuses": statuses, "errors": errors[0]}
