"""Check-in on SQLite and PostgreSQL: once per voter in the whole election, under races between
threads and processes, idempotent under retries."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests import checkin_worker
from tests.store_fixtures import BACKENDS, backend_database
from verivote.store import Store, make_engine, migrate
from verivote.store.roll import check_in, import_voters, turnout

E = "roll-test"
CODES = [f"{i:010d}" for i in range(1, 41)]


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_database(request.param, tmp_path) as database:
        engine = make_engine(database)
        migrate(engine)
        Store(engine).create_election(E, "ab" * 32, b"{}")
        import_voters(engine, E, [(c, "tabriz", None) for c in CODES])
        engine.dispose()
        yield database


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_a_voter_checked_in_twice_is_refused_with_where_and_when(engine: Engine) -> None:
    assert check_in(engine, E, CODES[0], "s1", "tabriz", 9, "r1").status == "accepted"
    second = check_in(engine, E, CODES[0], "s2", "tabriz", 11, "r2")
    assert (second.status, second.station, second.hour) == ("already_voted", "s1", 9)


def test_a_retried_request_gets_the_same_answer_and_no_second_record(engine: Engine) -> None:
    for _ in range(3):
        assert check_in(engine, E, CODES[1], "s1", "tabriz", 9, "retry").status == "accepted"
    assert turnout(engine, E) == {"s1": 1}


def test_unknown_voters_and_other_districts_are_refused(engine: Engine) -> None:
    assert check_in(engine, E, "9999999999", "s1", "tabriz", 9, "a").status == "not_eligible"
    assert check_in(engine, E, CODES[2], "k1", "karaj", 9, "b").status == "wrong_district"
    assert turnout(engine, E) == {}


def test_threads_racing_on_the_same_voters_give_one_acceptance_each(engine: Engine) -> None:
    jobs = [(code, f"s{t}", f"req-{t}-{code}") for t in range(8) for code in CODES]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda j: (j[0], check_in(engine, E, j[0], j[1], "tabriz", 10, j[2])), jobs)
        )
    accepted = Counter(code for code, r in results if r.status == "accepted")
    assert accepted == Counter(dict.fromkeys(CODES, 1))
    assert sum(turnout(engine, E).values()) == len(CODES)


def test_processes_racing_on_the_same_voters_give_one_acceptance_each(url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    queue = ctx.Queue()
    workers = [
        ctx.Process(target=checkin_worker.race, args=(url, E, CODES, f"s{p}", barrier, queue))
        for p in range(4)
    ]
    for w in workers:
        w.start()
    results = [queue.get(timeout=120) for _ in range(4 * len(CODES))]
    for w in workers:
        w.join(60)
    accepted = Counter(code for code, status in results if status == "accepted")
    assert accepted == Counter(dict.fromkeys(CODES, 1))
    assert all(status in ("accepted", "already_voted") for _, status in results)


def test_a_checkin_holds_the_voter_the_station_and_the_hour_only(engine: Engine) -> None:
    from sqlalchemy import inspect

    schema = inspect(engine)
    columns = {c["name"] for c in schema.get_columns("checkins")}
    assert columns == {"election_id", "national_code", "station_id", "hour", "request_id"}
    assert {fk["referred_table"] for fk in schema.get_foreign_keys("checkins")} == {"voters"}
    assert all(c["default"] is None for c in schema.get_columns("checkins"))
    # and nothing of a ballot refers to a voter or a check-in
    ballot_columns = {c["name"] for c in schema.get_columns("ballots")}
    assert not ballot_columns & {"national_code", "request_id", "hour"}
