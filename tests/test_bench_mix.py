"""`verivote bench mix` (issue 16, "Speed") run as a real process: its JSON line holds the
figures other tools read, with sane values, and bad sizes are one-line errors. No timing is
asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [sys.executable, "-m", "verivote", "bench", "mix", *args],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip


def test_the_json_line_holds_sane_figures() -> None:
    done = bench("--ciphertexts", "40", "--width", "2", "--jobs", "2", "--json")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["group"] == "ristretto255"
    assert (figures["ciphertexts"], figures["width"], figures["rows"], figures["jobs"]) == (
        40, 2, 20, 2,
    )  # fmt: skip
    for step in ("prove", "verify"):
        ms = figures[f"{step}_ms_per_ciphertext"]
        floor = figures[f"{step}_floor_ms_per_ciphertext"]
        assert 0 < ms < 1000
        assert 0 < floor < 1000
        # the ratio is the floor over the step, as measured
        assert figures[f"{step}_floor_ratio"] == pytest.approx(floor / ms, rel=0.01, abs=0.002)
        assert 0 < figures[f"{step}_floor_ratio"] < 5
        jobs_ms = figures[f"{step}_ms_per_ciphertext_jobs"]
        assert figures[f"{step}_speedup_jobs"] == pytest.approx(ms / jobs_ms, rel=0.01, abs=0.002)
    counts = figures["exponentiations"]
    # 20 rows of 2: the prover re-encrypts 40 ciphertexts (40 powers of g and of the key) …
    assert counts["prove"] == {"g": 40 + 60 + 3 + 2, "key": 40 + 2, "h": 40, "other": 20 + 80}
    assert counts["verify"] == {"g": 3 + 2 + 20, "key": 2, "h": 2, "other": 1 + 80 + 160}
    machine = figures["machine"]
    assert machine["cores"] >= 1
    assert machine["cpu"]
    assert machine["python"]
    assert "floor" in done.stderr  # the table went to stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ciphertexts", "41", "--width", "2"], "multiple of --width"),
        (["--ciphertexts", "1", "--width", "1"], "at least 2"),
        (["--ciphertexts", "10", "--width", "0"], "--width must be at least 1"),
        (["--ciphertexts", "10", "--width", "2", "--jobs", "0"], "--jobs must be at least 1"),
        (["--ciphertexts", "ten"], "ten"),
        (["--group", "p256"], "p256"),
    ],
)
def test_bad_input_is_a_one_line_error(args: list[str], message: str) -> None:
    done = bench(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("verivote: error:")
    assert message in lines[0]
