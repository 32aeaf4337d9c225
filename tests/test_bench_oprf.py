"""`verivote bench oprf` (issue 19, provable turnout) run as a real process at a tiny size: its
JSON line holds the figures other tools read, consistent with each other; and the pieces the
figures rest on do what they say: valid national codes, a real 3-of-5 sharing of the key, a
flow whose pseudonyms are H1(code)^k, and checks that fail a run measuring wrong work. Bad
sizes are one-line errors. No timing is asserted."""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from verivote.bench import oprf as bench
from verivote.crypto import oprf
from verivote.crypto.groups import get_group
from verivote.crypto.threshold import lagrange_coefficient
from verivote.polling.roll import national_code_valid

SRC = str(Path(__file__).resolve().parents[1] / "src")
G = get_group("ristretto255")


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "verivote", "bench", "oprf", *args],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip


def test_the_json_line_holds_consistent_figures() -> None:
    done = run_bench("--voters", "64", "--batch", "16", "--processes", "2", "--json")
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.strip().splitlines()  # exactly one line on stdout: the JSON
    figures = json.loads(line)
    assert (figures["voters"], figures["batch"], figures["processes"]) == (64, 16, 2)
    assert (figures["guardians"], figures["quorum"]) == (5, 3)
    assert len(figures["quorum_guardians"]) == 3
    assert figures["checked_voters"] == 8  # their pseudonyms equalled H1(code)^k
    assert figures["floor_pows_per_voter"] == 8
    cost, floor = figures["per_voter_ms"], figures["floor_per_voter_ms"]
    assert cost > 0
    assert floor > 0
    # per voter on one core: wall time × processes ÷ voters; the ratio and projection from it
    assert cost == pytest.approx(1000 * figures["seconds"] * 2 / 64, rel=0.01)
    assert figures["floor_ratio"] == pytest.approx(floor / cost, rel=0.01, abs=0.002)
    hours = 61_200_000 * cost / 1000 / (32 * 16) / 3600
    assert figures["projected_national_hours_32x16"] == pytest.approx(hours, rel=0.01, abs=0.002)
    assert set(figures["stage_ms_per_voter"]) == set(bench.STAGES)
    assert all(v > 0 for v in figures["stage_ms_per_voter"].values())
    assert sum(figures["stage_floor_ms_per_voter"].values()) == pytest.approx(floor, rel=0.01)
    assert figures["machine"]["cores"] >= 1
    assert "floor" in done.stderr  # the table went to stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--voters", "0"], "--voters must be between 1"),
        (["--voters", "10", "--batch", "0"], "--batch must be at least 1"),
        (["--voters", "10", "--processes", "0"], "--processes must be at least 1"),
        (["--voters", "ten"], "ten"),
    ],
)
def test_bad_input_is_a_one_line_error(args: list[str], message: str) -> None:
    done = run_bench(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("verivote: error:")
    assert message in lines[0]


def test_the_roll_is_valid_distinct_national_codes() -> None:
    codes = [bench.national_code(n) for n in range(2000)]
    assert all(national_code_valid(c) for c in codes)
    assert len(set(codes)) == len(codes)
    assert national_code_valid(bench.national_code(bench.MAX_VOTERS - 1))


def test_any_three_shares_rebuild_the_key_and_two_do_not() -> None:
    key = G.random_scalar()
    shares = bench.split_key(key, random.Random(5))
    assert sorted(shares) == [1, 2, 3, 4, 5]
    for quorum in itertools.combinations(shares, 3):
        rebuilt = sum(shares[i] * lagrange_coefficient(G.q, i, quorum) for i in quorum) % G.q
        assert rebuilt == key
    pair = (1, 2)
    assert sum(shares[i] * lagrange_coefficient(G.q, i, pair) for i in pair) % G.q != key


def held(key: int, quorum: tuple[int, ...]) -> dict[int, tuple[int, bytes]]:
    shares = bench.split_key(key, random.Random(7))
    return {i: (shares[i], G.pow_g(shares[i])) for i in quorum}


def test_the_flow_gives_each_voter_its_pseudonym() -> None:
    key = G.random_scalar()
    bench._init(held(key, (2, 4, 5)))
    result, seconds = bench.pseudonyms(100, 5)
    assert result == [oprf.pseudonym(G, key, bench.ELECTION, bench.national_code(n))
                      for n in range(100, 105)]  # fmt: skip
    assert set(seconds) == set(bench.STAGES)


def test_a_wrong_share_fails_its_proof() -> None:
    shares = held(G.random_scalar(), (1, 2, 3))
    secret, public = shares[2]
    bench._init({**shares, 2: ((secret + 1) % G.q, public)})
    with pytest.raises(bench.WrongPseudonym, match="guardian 2's proof"):
        bench.pseudonyms(0, 4)


def test_a_run_that_computes_wrong_pseudonyms_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check after the clock is live: a flow handing back each batch's pseudonyms in the
    wrong order fails the run (voter 0 is always checked)."""
    right = bench.pseudonyms

    def shuffled(first: int, count: int) -> tuple[list[bytes], dict[str, float]]:
        result, seconds = right(first, count)
        return result[::-1], seconds

    monkeypatch.setattr(bench, "pseudonyms", shuffled)
    with pytest.raises(bench.WrongPseudonym, match="is not H1"):
        bench.measure_oprf(24, batch=8, processes=1)


def test_in_one_process_the_progress_counts_every_batch() -> None:
    steps: list[tuple[str, float]] = []
    figures: dict[str, Any] = bench.measure_oprf(
        20, batch=8, processes=1, step=lambda what, done: steps.append((what, done))
    )
    assert figures["processes"] == 1
    assert sum(done for _, done in steps) == bench.units(20, 8) == 6
