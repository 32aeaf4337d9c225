"""Attack (issue 15, item 3): linking voters to their ballots from a dump of the database and
the published board.

200 voters at one station check in and cast, each after their own check-in, with others
checking in between (a random interleaving); the queue is first come, first served, so the
k-th voter checked in casts the k-th ballot: the attacker's best case. After the polls close,
the attacker reads every table of the database (whatever tables a later migration adds: the
schema is read through SQLAlchemy's inspector), finds every row that names one of the station's
voters (national code) or ballots (tracking code or nonce), and orders them every way a dump
allows: the physical order of a SELECT without ORDER BY, SQLite's `rowid`, PostgreSQL's `xmin`
and `ctid`, and every column (board index, hour, request id, any timestamp or batch number a
later table may hold), each with every other key as tie-break. Each (check-ins ordering,
ballots ordering) pair joins the k-th voter to the k-th ballot; the test, which knows who cast
which ballot, counts the voters each join links to their own ballot.

With ballots put on the board in batches of k shuffled at random, no join can do better than
chance inside a batch: the assertion is that the best join links at most 2/k of the voters
(k = `polling.batch_ballots` = 20, so at most 20 of 200). Before batching, ballots were
appended in cast order and the board's index alone linked every voter.

Chance: an ordering that is right up to the shuffle inside each batch links each batch's
voters by a random permutation of 20 (one fixed point expected), so about Poisson(10) voters in
all, and more than 20 with probability about 0.2 %. The orderings are therefore deduplicated
(two keys giving the same permutation are one join), so that the false-failure rate is that of
the few distinct informative joins (a simulation of the shuffle model: about 0.2 % per
database), not that of the hundreds of keys tried; uninformative orderings (sorted by a hash
or a national code) link Poisson(1) voters and never come near 20.
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from tests.attacks.casting_fixtures import polling_election
from tests.manifests import small_manifest_data
from tests.store_fixtures import BACKENDS
from verivote.crypto.ballot import encrypt_ballot
from verivote.election.polls import close_polls
from verivote.election.service import cast
from verivote.polling.roll import check_digit
from verivote.store.roll import check_in, import_voters

VOTERS = 200
BATCH = 20
STATION = "isfahan-arm-1"  # the small manifest's 1-seat district of 2 candidates: fast ballots
FIRST_HOUR, HOURS = 8, 12  # polling day from 08:00 to 20:00


def _manifest() -> dict[str, Any]:
    data = small_manifest_data("ristretto255")
    data["polling"] = {"roll": True, "batch_ballots": BATCH}
    return data


def _national_code(n: int) -> str:
    nine = f"{n:09d}"
    return nine + check_digit(nine)


def _queue(rng: random.Random, n: int) -> list[str]:
    """The day's events, "in" (the next voter checks in) or "cast" (the first voter checked in
    and not yet cast casts): every cast after its voter's check-in, others between."""
    events: list[str] = []
    checked, waiting = 0, 0
    while len(events) < 2 * n:
        if checked < n and (waiting == 0 or rng.random() < 0.5):
            events.append("in")
            checked += 1
            waiting += 1
        else:
            events.append("cast")
            waiting -= 1
    return events


# ---- the attacker's side: nothing below knows the store's tables or columns ------------------


@dataclass
class Orderings:
    """Distinct orderings of one kind of entity (voters or ballots) as tuples of entity ids,
    each with the names of every key that gave it; `partial` names orderings that did not
    cover every entity (a table holding only some of them), left out of the joins."""

    complete: dict[tuple[int, ...], list[str]] = field(default_factory=dict)
    partial: set[str] = field(default_factory=set)

    def add(self, name: str, sequence: Iterable[int], everyone: int) -> None:
        order = tuple(dict.fromkeys(sequence))  # first appearance of each entity
        if len(order) != everyone:
            self.partial.add(f"{name} ({len(order)} of {everyone})")
        else:
            self.complete.setdefault(order, []).append(name)


def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    return "" if value is None else str(value)


def _sortable(value: object) -> tuple[int, Any]:
    if value is None:
        return (1, 0)
    if isinstance(value, memoryview | bytearray):
        return (0, bytes(value))
    return (0, value)


def _finder(tokens: dict[str, int]) -> Callable[[str], list[int]]:
    """The entities whose tokens occur in a text, in order of occurrence."""
    alternatives = "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True))
    pattern = re.compile(rf"(?<![0-9A-Za-z])(?:{alternatives})(?![0-9A-Za-z])")
    return lambda s: [tokens[m.group(0)] for m in pattern.finditer(s)]


def _rows(engine: Engine, table: str) -> tuple[list[str], list[tuple[Any, ...]], list[str]]:
    """Every row of `table` in the order of a plain SELECT (no ORDER BY, the physical order),
    with the row's system ordering keys appended: its columns, rows, and the keys' names."""
    quoted = engine.dialect.identifier_preparer.quote(table)
    if engine.dialect.name == "postgresql":
        extra = {"xmin": "xmin::text::bigint", "ctid": "ctid::text"}
    else:
        extra = {"rowid": "rowid"}
    select = ", ".join(f"{expr} AS __sys_{name}" for name, expr in extra.items())
    with engine.connect() as conn:
        try:
            result = conn.execute(text(f"SELECT *, {select} FROM {quoted}"))
        except DBAPIError:  # a table without rowid: its plain order only
            conn.rollback()
            result = conn.execute(text(f"SELECT * FROM {quoted}"))
            extra = {}
        columns = list(result.keys())
        rows = [tuple(row) for row in result]
    names = columns[: len(columns) - len(extra)]
    if "ctid" in extra:  # "(page,item)", ordered as numbers
        at = columns.index("__sys_ctid")
        rows = [
            (*r[:at], tuple(int(x) for x in str(r[at]).strip("()").split(",")), *r[at + 1 :])
            for r in rows
        ]
    return names, rows, list(extra)


def _orderings(
    engine: Engine,
    voters: Callable[[str], list[int]],
    ballots: Callable[[str], list[int]],
    everyone: int,
) -> tuple[Orderings, Orderings, list[str]]:
    """Every ordering of the voters and of the ballots that some table of the database gives,
    and the rows that name a voter and a ballot together (a direct link)."""
    of_voters, of_ballots, direct = Orderings(), Orderings(), []
    for table in sorted(inspect(engine).get_table_names()):
        columns, rows, system = _rows(engine, table)
        texts = ["\x00".join(_text(v) for v in row[: len(columns)]) for row in rows]
        found_voters = [voters(t) for t in texts]
        found_ballots = [ballots(t) for t in texts]
        direct += [
            f"{table}: {t[:120]!r}"
            for t, v, b in zip(texts, found_voters, found_ballots, strict=True)
            if v and b
        ]
        keys: dict[str, list[tuple[int, Any]]] = {
            "physical order": [(0, i) for i in range(len(rows))]
        }
        for at, name in enumerate(columns + system):
            keys[name] = [_sortable(row[at]) for row in rows]
            try:
                sorted(keys[name])
            except TypeError:  # values that do not compare (JSON, say): by their text
                keys[name] = [(0, _text(row[at])) for row in rows]
        for kind, found, into in (
            ("voters", found_voters, of_voters),
            ("ballots", found_ballots, of_ballots),
        ):
            if not any(found):
                continue
            for first, by_first in keys.items():
                for then, by_then in keys.items():
                    order = sorted(range(len(rows)), key=lambda i: (by_first[i], by_then[i], i))
                    name = f"{table} by {first}" + ("" if then == first else f", then {then}")
                    sequence = [e for i in order for e in found[i]]
                    into.add(name, sequence, everyone)
                    if kind == "ballots":  # reversing one side is enough for a join
                        into.add(f"{name}, reversed", reversed(sequence), everyone)
    return of_voters, of_ballots, direct


def _names(names: list[str]) -> str:
    """The simplest few names of one ordering, and how many other keys gave it too."""
    simplest = sorted(names, key=lambda n: (len(n), n))
    shown = "; ".join(simplest[:4])
    more = len(names) - 4
    return shown + (f" and {more} more keys giving the same order" if more > 0 else "")


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_ordering_in_the_database_or_on_the_board_links_voters_to_their_ballots(
    backend: str, tmp_path: Path
) -> None:
    rng = random.Random(f"linkability-{backend}")
    with polling_election(backend, tmp_path, data=_manifest()) as polling:
        store, ctx = polling.store, polling.ctx
        assert ctx.key is not None
        assert ctx.manifest.polling.roll
        k = ctx.manifest.polling.batch_ballots
        assert k == BATCH
        district = ctx.manifest.station(STATION).district
        minority = ctx.manifest.district(district).minority
        # The roll, in its own order (by national code), unrelated to the order of arrival.
        codes = [_national_code(n) for n in rng.sample(range(1, 10**6), VOTERS)]
        import_voters(
            store.engine, ctx.election_id, [(c, district, minority) for c in sorted(codes)]
        )
        candidates = [c.code for c in ctx.manifest.district(district).candidates]

        tracking: dict[str, str] = {}  # the truth: voter (national code) -> tracking code
        nonces: dict[str, str] = {}
        arrived, voted = 0, 0
        events = _queue(rng, VOTERS)
        for step, event in enumerate(events):
            if event == "in":
                hour = FIRST_HOUR + step * HOURS // len(events)
                request = secrets.token_urlsafe(12)  # as a station's device chooses it
                answer = check_in(
                    store.engine, ctx.election_id, codes[arrived], STATION, district, hour, request
                )
                assert answer.status == "accepted", answer
                arrived += 1
            else:
                voter = codes[voted]
                doc, _ = encrypt_ballot(
                    ctx.manifest, ctx.key, ctx.base_hash, STATION, [rng.choice(candidates)]
                )
                tracking[voter] = cast(store, ctx, doc).code
                nonces[voter] = str(doc["nonce"])
                voted += 1
        assert arrived == voted == VOTERS
        close_polls(store, ctx, [STATION])  # any open batch goes onto the board

        # The attacker, with the database and the board.
        index = {code: i for i, code in enumerate(codes)}
        voter_tokens = dict(index)
        ballot_tokens = {tracking[c]: i for c, i in index.items()}
        ballot_tokens |= {nonces[c]: i for c, i in index.items()}
        of_voters, of_ballots, direct = _orderings(
            store.engine, _finder(voter_tokens), _finder(ballot_tokens), VOTERS
        )

    assert not direct, f"rows name a voter and a ballot together: {direct[:5]}"
    assert of_voters.complete, f"no ordering of the check-ins found ({of_voters.partial})"
    assert of_ballots.complete, f"no ordering of the ballots found ({of_ballots.partial})"
    joins = sorted(
        (
            (sum(v == b for v, b in zip(vs, bs, strict=True)), v_names, b_names)
            for vs, v_names in of_voters.complete.items()
            for bs, b_names in of_ballots.complete.items()
        ),
        key=lambda j: -j[0],
    )
    limit = 2 * VOTERS // k
    best = joins[0][0]
    report = "\n".join(
        f"  {linked}/{VOTERS} linked: voters [{_names(v)}] x ballots [{_names(b)}]"
        for linked, v, b in joins[:8]
        if linked > limit
    )
    assert best <= limit, (
        f"on {backend}, joining the k-th voter checked in to the k-th ballot links up to "
        f"{best} of {VOTERS} voters to their own ballot (chance inside batches of {k}: at most "
        f"{limit}); of {len(of_voters.complete)} distinct orderings of the check-ins and "
        f"{len(of_ballots.complete)} of the ballots, the worst joins:\n{report}"
    )
