"""`verivote sim national` (issue 17, item 5): the national shape of 2024 has the published
totals, every district is counted as the manifest's rule says, scaling changes only the
ballots and the stations, and the whole flow at a tiny scale ends with a valid record whose
count is the plaintext count, and the JSON line of the contract."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.store_fixtures import backend_database
from verivote.cli.app import run
from verivote.model.ballots import Ballot
from verivote.model.manifest import MIXNET_ABOVE
from verivote.rules.majlis import tally_majlis
from verivote.sim.national import (
    CANDIDATES,
    ELECTORATE,
    MIN_BALLOTS,
    STATIONS,
    TURNOUT,
    largest_remainder,
    national_manifest,
    national_shape,
)
from verivote.sim.national_flow import draw_jobs, two_point
from verivote.sim.projection import Kind, project
from verivote.verify.loader import load_board

SHAPE = national_shape()
TINY = 0.00002


def test_the_shape_has_the_published_totals() -> None:
    assert len(SHAPE) == 208
    assert sum(d.seats for d in SHAPE) == 290
    assert sum(d.candidates for d in SHAPE) == CANDIDATES == 15_200
    assert sum(d.electorate for d in SHAPE) == ELECTORATE == 61_172_298
    assert sum(d.stations for d in SHAPE) == STATIONS == 59_000
    assert len({d.id for d in SHAPE}) == 208
    tehran = next(d for d in SHAPE if d.id == "tehran")
    assert (tehran.seats, tehran.candidates) == (30, 3545)
    # Tehran is the largest district by far: about a sixth of the national electorate
    assert 0.1 < tehran.electorate / ELECTORATE < 0.25
    minorities = {d.minority: d for d in SHAPE if d.minority}
    assert set(minorities) == {
        "armenian-north", "armenian-south", "assyrian-chaldean", "jewish", "zoroastrian"
    }  # fmt: skip
    assert all(d.seats == 1 and d.province is None for d in minorities.values())
    territorial = [d for d in SHAPE if not d.minority]
    assert len(territorial) == 203
    assert sum(d.seats for d in territorial) == 285
    assert {d.seats for d in SHAPE if d.id in {"tabriz", "mashhad", "isfahan", "shiraz"}} == {
        6, 5, 4
    }  # fmt: skip
    # about 25 million ballots at 41 %
    assert sum(d.ballots(1.0) for d in SHAPE) == pytest.approx(ELECTORATE * TURNOUT, abs=208)


def test_every_district_is_counted_as_the_manifest_rule_says() -> None:
    manifest, _ = national_manifest(SHAPE, TINY, seed=7)
    assert len(manifest.districts) == 208
    modes = Counter(d.counted_by for d in manifest.districts)
    assert modes["mixnet"] > 0
    assert modes["homomorphic"] > 0
    for plan, district in zip(SHAPE, manifest.districts, strict=True):
        assert district.id == plan.id
        assert len(district.candidates) == plan.candidates
        assert district.mode is None  # the default rule, not an override
        expected = "mixnet" if plan.candidates > MIXNET_ABOVE else "homomorphic"
        assert district.counted_by == expected
    assert manifest.district("tehran").counted_by == "mixnet"
    assert manifest.district("jews").counted_by == "homomorphic"


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=1e-7, max_value=1.0), st.floats(min_value=1e-7, max_value=1.0))
def test_scaling_changes_only_ballots_and_stations(a: float, b: float) -> None:
    low, high = sorted((a, b))
    for d in SHAPE:
        assert MIN_BALLOTS <= d.ballots(low) <= d.ballots(high)
        assert 1 <= d.stations_at(low) <= d.ballots(low)
        assert d.stations_at(low) <= d.stations_at(high)
    total = sum(d.ballots(high) for d in SHAPE)
    # F of the ballots, give or take the rounding and the floor of each district
    assert abs(total - high * ELECTORATE * TURNOUT) <= len(SHAPE) * (MIN_BALLOTS + 0.5)


@given(st.integers(0, 10**8), st.lists(st.floats(0, 1e6), min_size=1, max_size=50))
def test_largest_remainder_splits_exactly(total: int, weights: list[float]) -> None:
    if sum(weights) <= 0:
        with pytest.raises(ValueError, match="weights"):
            largest_remainder(total, weights)
        return
    parts = largest_remainder(total, weights)
    assert sum(parts) == total
    whole = sum(weights)
    for part, w in zip(parts, weights, strict=True):
        assert abs(part - total * w / whole) < 1 + 1e-6


kinds = st.builds(
    Kind,
    st.sampled_from(["a", "b", "c"]),
    st.just("units"),
    st.floats(1, 1e6),
    st.floats(0, 1e3),
    st.floats(0, 1e9),
    st.floats(1, 1e6),
    st.floats(0, 1e6),
)


@given(st.lists(kinds, min_size=1, max_size=6), st.floats(0, 0.01), st.integers(1, 64))
def test_projection_is_the_larger_of_spread_work_and_longest_task(
    ks: list[Kind], overhead: float, machines: int
) -> None:
    p = project(ks, overhead, machines, 16)
    work = sum(k.cpu_s / k.units * k.units_f1 for k in ks) + overhead * sum(k.tasks_f1 for k in ks)
    assert p.spread_hours == pytest.approx(work / (machines * 16) / 3600)
    assert p.hours >= p.spread_hours
    assert p.hours >= p.longest_task_hours
    assert p.hours == pytest.approx(max(p.spread_hours, p.longest_task_hours))
    more = project(ks, overhead, machines * 2, 16)
    assert more.hours <= p.hours + 1e-12
    assert project(ks, overhead * 2 + 0.001, machines, 16).hours >= p.hours


def test_bad_scale_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for scale in ("0", "1.5", "-1"):
        assert run(["sim", "national", "--scale", scale]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "--scale" in err


def _plaintext(scale: float, seed: int) -> dict[str, dict[str, object]]:
    """The count by the law of the ballots the voters chose, drawn again from the seed, with
    no cryptography at all."""
    manifest, models = national_manifest(SHAPE, scale, seed)
    district_of = {s.id: s.district for s in manifest.stations}
    ballots: dict[str, list[Ballot]] = {d.id: [] for d in manifest.districts}
    for station, codes in draw_jobs(manifest, models, scale, seed, SHAPE):
        ballots[district_of[station]].append(Ballot(tuple(codes)))
    out: dict[str, dict[str, object]] = {}
    for d in manifest.districts:
        law = tally_majlis(ballots[d.id], [c.code for c in d.candidates], d.seats)
        out[d.id] = {"ballots": len(ballots[d.id]), "blank": law.void, "votes": dict(law.votes)}
    return out


@pytest.mark.slow
def test_national_at_a_tiny_scale_verifies_and_counts_the_plaintext(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole national flow on PostgreSQL only: the store under it (district logs, runs,
    seals, casting) is tested on both backends by the store's own tests, and the same flow on
    SQLite by the demo's and the end-to-end tests; a second backend here cost a minute."""
    seed = 11
    with backend_database("postgresql", tmp_path) as url:
        argv = ["sim", "national", "--scale", str(TINY), "--seed", str(seed), "--json",
                "--db", url, "--out", str(tmp_path / "run"), "--jobs", "2"]  # fmt: skip
        assert run(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    doc = json.loads(out[-1])
    for key in ("districts", "seats", "ballots", "stages", "projected_verify_hours_32x16"):
        assert key in doc
    assert (doc["districts"], doc["seats"]) == (208, 290)
    assert doc["ballots"] == sum(d.ballots(TINY) for d in SHAPE)
    assert doc["projected_verify_hours_32x16"] > 0
    assert doc["task_overhead_source"].startswith("local process pool")
    names = [s["stage"] for s in doc["stages"]]
    for stage in ("ceremony and lot", "check-in", "tally", "mix", "decrypt the mix", "verify"):
        assert stage in names
    assert all(isinstance(s["items"], int) and s["wall_s"] >= 0 for s in doc["stages"])
    record = Path(doc["record"])  # verified by the run itself: it exits 1 otherwise
    board = load_board(record)
    [(_, decrypted)] = board.of_type("decrypted-tally")
    plain = _plaintext(TINY, seed)
    for district, truth in plain.items():
        got = decrypted["districts"][district]
        assert got["ballots"] == truth["ballots"]
        assert got["blank"] == truth["blank"]
        votes = truth["votes"]
        assert isinstance(votes, dict)
        assert {c: n for c, n in got["votes"].items() if n} == {c: n for c, n in votes.items() if n}


def test_bad_database_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sim", "national", "--scale", "0.001", "--db", "nonsense://x", "--out", str(tmp_path)]
    assert run(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--db" in err


@given(
    st.floats(0, 100),
    st.floats(0, 1e-3),
    st.integers(1, 10**6),
    st.integers(1, 10**6),
)
def test_two_runs_give_back_the_fixed_cost_and_the_cost_a_ballot(
    fixed: float, per: float, small: int, more: int
) -> None:
    big = small + more
    got_fixed, got_per = two_point((big, fixed + per * big), (small, fixed + per * small))
    assert got_per == pytest.approx(per, rel=1e-6, abs=1e-12)
    assert got_fixed == pytest.approx(fixed, rel=1e-6, abs=1e-6)


def test_noise_never_makes_either_part_negative() -> None:
    assert two_point((2000, 1.0), (1000, 2.0)) == (2.0, 0.0)
    assert two_point((2000, 10.0), (1000, 1.0)) == (0.0, 0.009)
    with pytest.raises(ValueError, match="larger"):
        two_point((1000, 1.0), (1000, 1.0))
