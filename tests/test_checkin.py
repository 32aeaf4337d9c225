"""Check-in on SQLite and PostgreSQL: once per voter in the whole election, under races between
threads and processes, idempotent under retries."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from tests import checkin_worker
from tests.store_fixtures import BACKENDS, backend_database
from verivote.store import Store, make_engine, migrate
from verivote.store.roll import (
    Checkin,
    CheckinResult,
    RequestIdReused,
    check_in,
    check_in_many,
    import_voters,
    turnout,
)

E = "roll-test"
CODES = [f"{i:010d}" for i in range(1, 41)]
STATIONS = [*(f"s{i}" for i in range(8)), "k1"]


def create_open(engine: Engine) -> None:
    """The election, with the polls open at every station the tests check voters in at (a
    station takes check-ins only while its polls are open: issue 15)."""
    store = Store(engine)
    store.create_election(E, "ab" * 32, b"{}")
    for station in STATIONS:
        store.set_polls(E, station, "open", b"{}")


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_database(request.param, tmp_path) as database:
        engine = make_engine(database)
        migrate(engine)
        create_open(engine)
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


def test_a_batch_with_the_same_voter_twice_accepts_one_and_answers_the_retry_alike(
    engine: Engine,
) -> None:
    items = [
        Checkin(CODES[3], "s1", "tabriz", 9, "batch-a"),
        Checkin(CODES[3], "s2", "tabriz", 9, "batch-b"),  # the same voter at another station
        Checkin(CODES[3], "s1", "tabriz", 9, "batch-a"),  # a retry inside the same batch
        Checkin("9999999999", "s1", "tabriz", 9, "batch-c"),
    ]
    answers = check_in_many(engine, E, items)
    assert [a.status for a in answers if isinstance(a, CheckinResult)] == [
        "accepted", "already_voted", "accepted", "not_eligible"]  # fmt: skip
    assert turnout(engine, E) == {"s1": 1}


def test_a_request_id_used_for_another_voter_is_refused(engine: Engine) -> None:
    check_in(engine, E, CODES[4], "s1", "tabriz", 9, "shared-id")
    with pytest.raises(RequestIdReused):
        check_in(engine, E, CODES[5], "s1", "tabriz", 9, "shared-id")
    assert turnout(engine, E) == {"s1": 1}


def test_batches_racing_in_threads_on_the_same_voters_give_one_acceptance_each(
    engine: Engine,
) -> None:
    # Each thread checks every voter in, in batches of 7, in its own shuffled order: batches
    # overlap in every way, and must neither deadlock nor accept anyone twice.
    import random

    def run(t: int) -> list[tuple[str, str]]:
        order = random.Random(t).sample(CODES, len(CODES))
        out: list[tuple[str, str]] = []
        for k in range(0, len(order), 7):
            items = [Checkin(c, f"s{t}", "tabriz", 10, f"t{t}-{c}") for c in order[k : k + 7]]
            for item, answer in zip(items, check_in_many(engine, E, items), strict=True):
                assert isinstance(answer, CheckinResult)
                out.append((item.national_code, answer.status))
        return out

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = [r for part in pool.map(run, range(6)) for r in part]
    accepted = Counter(code for code, status in results if status == "accepted")
    assert accepted == Counter(dict.fromkeys(CODES, 1))
    assert Counter(status for _, status in results)["already_voted"] == 5 * len(CODES)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.integers(0, 5), st.sampled_from(["s1", "s2", "k1"]), st.integers(0, 3)),
            min_size=1, max_size=6,
        ),
        min_size=1, max_size=5,
    )
)  # fmt: skip
def test_any_sequence_of_batches_answers_as_first_come_first_served(
    batches: list[list[tuple[int, str, int]]],
) -> None:
    """The model: of the check-ins of one voter at stations of their district, the first to
    arrive is accepted and every later one refused with where and when the first happened; a
    retried request id gets its first answer. Within one batch the requests are simultaneous:
    any one of a new voter's may be the first, but exactly one."""
    import tempfile

    voters = [f"{i:010d}" for i in range(1, 6)]  # voter index 5 is not on the roll
    district = {"s1": "tabriz", "s2": "tabriz", "k1": "karaj"}
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/model.db")
        migrate(engine)
        create_open(engine)
        import_voters(engine, E, [(c, "tabriz", None) for c in voters])
        first: dict[str, tuple[str, int, str]] = {}  # voter -> station, hour, request id
        for b, batch in enumerate(batches):
            items = [
                Checkin(voters[v] if v < 5 else "9999999999", station, district[station], b,
                        f"req-{v}-{station}-{r}")  # request ids never shared between voters
                for v, station, r in batch
            ]  # fmt: skip
            answers = check_in_many(engine, E, items)
            for item, got in zip(items, answers, strict=True):
                if item.national_code == "9999999999":
                    assert isinstance(got, CheckinResult)
                    assert got.status == "not_eligible"
                elif item.station_district != "tabriz":
                    assert isinstance(got, CheckinResult)
                    assert got.status == "wrong_district"
                elif got == CheckinResult("accepted") and item.national_code not in first:
                    first[item.national_code] = (item.station_id, item.hour, item.request_id)
            for item, got in zip(items, answers, strict=True):
                if item.station_district != "tabriz" or item.national_code == "9999999999":
                    continue
                assert item.national_code in first  # some check-in of the voter was accepted
                station, hour, request_id = first[item.national_code]
                if item.request_id == request_id:
                    assert got == CheckinResult("accepted")
                else:
                    assert got == CheckinResult("already_voted", station, hour)
        assert sum(turnout(engine, E).values()) == len(first)
        engine.dispose()


def test_on_postgresql_the_batch_statement_is_planned_afresh_and_the_roll_analyzed(
    tmp_path: Path,
) -> None:
    """A prepared batch statement's generic plan, made while the check-ins table was nearly
    empty, read every check-in of the election for each batch (a slowdown found with
    `verivote bench checkin`): the statement is never prepared. And the roll is analyzed as
    soon as it is loaded, so that its plans are right from the first check-in."""
    from sqlalchemy import text

    with backend_database("postgresql", tmp_path) as url:
        engine = make_engine(url)
        migrate(engine)
        create_open(engine)
        import_voters(engine, E, [(c, "tabriz", None) for c in CODES])
        for k in range(12):  # psycopg prepares a statement after 5 runs
            check_in_many(engine, E, [Checkin(CODES[k], "s1", "tabriz", 9, f"plan-{k:04d}")])
        with engine.connect() as conn:
            prepared = conn.execute(text(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%INTO checkins%'"
            )).scalar_one()  # fmt: skip
            analyzed = conn.execute(text(
                "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE relname = 'voters' AND schemaname = current_schema()"
            )).scalar_one()  # fmt: skip
        engine.dispose()
    assert prepared == 0
    assert analyzed
