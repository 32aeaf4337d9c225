"""`verivote bench tehran` (issue 16, "Speed"): run as a real process its JSON line holds the
figures with sane, consistent values and the count equals the plaintext count; bad sizes are
one-line errors; and the pieces the figures rest on (the count check, the seeded ballots,
packed rows as the shuffle's input, the progress total) do what they say. No timing is
asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from verivote.bench.tehran import (
    AFTER_POLLS,
    STEPS,
    TEHRAN_BALLOTS,
    CountMismatch,
    PackedRows,
    _ballot_line,
    _compare,
    _multiset_digest,
    measure_tehran,
    pack_rows,
    plaintext_chunk,
    units,
)
from verivote.crypto.elgamal import ElectionKey, encrypt_element
from verivote.crypto.groups import get_group
from verivote.crypto.shuffle import check_shuffle, prove_shuffle, shuffle
from verivote.model.ballots import Ballot
from verivote.rules.majlis import tally_majlis

SRC = str(Path(__file__).resolve().parents[1] / "src")
STEP_KEYS = {
    "wall_s",
    "cpu_s",
    "cpu_ms_per_ballot",
    "peak_rss_main_mib",
    "peak_rss_worker_mib",
    "rss_main_at_start_mib",
    "traced_peak_main_mib",
    "tehran_core_hours",
}


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "verivote", "bench", "tehran", *args],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip


def figures_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def check_consistent(figures: dict[str, Any]) -> None:
    """Every step reported, each figure derived from the others as documented."""
    assert set(figures["steps"]) == set(STEPS)
    n = figures["ballots"]
    for name, step in figures["steps"].items():
        assert set(step) == STEP_KEYS, name
        assert step["wall_s"] >= 0
        assert step["cpu_s"] >= 0
        # cpu_s is rounded to the ms
        assert step["cpu_ms_per_ballot"] == pytest.approx(1000 * step["cpu_s"] / n, abs=0.6 / n)
        assert step["tehran_core_hours"] == pytest.approx(
            step["cpu_ms_per_ballot"] * TEHRAN_BALLOTS / 3.6e6, rel=0.01, abs=0.002
        )
        assert step["peak_rss_main_mib"] > 10  # an interpreter with its libraries
        assert step["peak_rss_main_mib"] >= step["rss_main_at_start_mib"] > 0
    total = sum(s["tehran_core_hours"] for s in figures["steps"].values())
    assert figures["tehran_core_hours_total"] == pytest.approx(total, abs=0.002)
    after = sum(figures["steps"][s]["tehran_core_hours"] for s in AFTER_POLLS)
    assert figures["tehran_core_hours_after_polls"] == pytest.approx(after, abs=0.002)
    assert figures["goal_core_hours_met"] == (total <= figures["goal_core_hours"])
    assert figures["count_matches"] is True
    assert figures["valid"] + figures["void"] == n
    assert len(figures["mix_details"]) == figures["mixes"] == 5
    assert (figures["guardians"], figures["quorum"]) == (5, 3)
    assert figures["bytes"]["rows"] == n * figures["width"] * 2 * 32
    assert figures["machine"]["cores"] >= 1


def test_tehran_shape_as_a_real_process() -> None:
    """Tehran's shape (3,545 candidates, 30 seats: 2 ciphertexts a ballot), on one process."""
    done = bench("--ballots", "40", "--jobs", "1", "--json")
    figures = figures_of(done)
    assert (figures["candidates"], figures["seats"], figures["width"]) == (3545, 30, 2)
    assert (figures["ballots"], figures["jobs"], figures["group"]) == (40, 1, "ristretto255")
    check_consistent(figures)
    assert figures["steps"]["check_at_cast"]["peak_rss_worker_mib"] == 0  # no workers
    assert figures["trace_memory"] is False
    assert all(s["traced_peak_main_mib"] is None for s in figures["steps"].values())
    assert "equal to the plaintext count" in done.stderr  # the table went to stderr
    assert "core-hours" in done.stderr


def test_smaller_district_on_two_processes() -> None:
    done = bench("--ballots", "41", "--candidates", "60", "--seats", "8", "--jobs", "2",
                 "--seed", "7", "--trace-memory", "--json")  # fmt: skip
    figures = figures_of(done)
    assert figures["trace_memory"] is True
    assert all(s["traced_peak_main_mib"] >= 0 for s in figures["steps"].values())
    assert "traced MiB" in done.stderr
    assert (figures["candidates"], figures["seats"], figures["width"]) == (60, 8, 1)
    assert (figures["ballots"], figures["jobs"], figures["seed"]) == (41, 2, 7)
    check_consistent(figures)
    assert figures["steps"]["shuffle_prove"]["peak_rss_worker_mib"] > 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ballots", "1"], "--ballots must be at least 2"),
        (["--ballots", "-5"], "--ballots must be at least 2"),
        (["--ballots", "10", "--candidates", "0"], "--candidates must be between 1 and 3,999"),
        (["--ballots", "10", "--candidates", "4000"], "--candidates must be between 1 and 3,999"),
        (["--ballots", "10", "--seats", "0"], "--seats must be between 1 and 100"),
        (["--ballots", "10", "--jobs", "0"], "--jobs must be at least 1"),
        (["--ballots", "ten"], "ten"),
        ([], "--ballots"),
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


# --- the pieces ---------------------------------------------------------------------------------

CODES = [str(1001 + i) for i in range(50)]


def test_the_seeded_ballots_are_reproducible_and_have_every_oddity() -> None:
    a = plaintext_chunk(CODES, 6, 1, 3, 2000)
    assert a == plaintext_chunk(CODES, 6, 1, 3, 2000)  # the same in every process
    assert a != plaintext_chunk(CODES, 6, 1, 4, 2000)
    assert a != plaintext_chunk(CODES, 6, 2, 3, 2000)
    assert all(len(b) <= 6 for b in a)
    assert any(b == [] for b in a)  # blank
    assert any(len(set(b)) < len(b) for b in a)  # a name twice
    assert any(c not in CODES and 5000 <= int(c) <= 9999 for b in a for c in b)  # a stranger
    assert any(len(b) == 6 for b in a)
    assert any(0 < len(b) < 6 for b in a)
    votes = Counter(c for b in a for c in b)
    assert votes.most_common(1)[0][1] > 4 * votes[CODES[-1]]  # popular names


def tally(ballots: list[list[str]]) -> Any:
    return tally_majlis((Ballot(tuple(b)) for b in ballots), CODES, 6)


def test_the_count_check_fails_loudly() -> None:
    ballots = plaintext_chunk(CODES, 6, 1, 0, 300)
    full = [i for i, b in enumerate(ballots) if len(b) == 6 and len(set(b)) == 6]
    lines = [_ballot_line(b) for b in ballots]
    _compare(tally(ballots), tally([list(b) for b in ballots]), True)  # equal: silent

    moved = [list(b) for b in ballots]
    i = full[0]
    moved[i][0] = next(c for c in CODES if c not in moved[i])
    with pytest.raises(CountMismatch, match="votes after decryption"):
        _compare(tally(ballots), tally(moved), True)

    voided = [list(b) for b in ballots]
    voided[i] = []
    with pytest.raises(CountMismatch, match="valid and"):
        _compare(tally(ballots), tally(voided), True)

    # two ballots trade a name: every candidate's count is the same, the ballots are not
    swapped = [list(b) for b in ballots]
    j = next(
        k for k in full[1:] if swapped[k][0] not in swapped[i] and swapped[i][0] not in swapped[k]
    )
    swapped[i][0], swapped[j][0] = swapped[j][0], swapped[i][0]
    assert tally(swapped) == tally(ballots)
    digest = _multiset_digest([_ballot_line(b) for b in swapped])
    assert digest != _multiset_digest(lines)
    with pytest.raises(CountMismatch, match="multiset"):
        _compare(tally(ballots), tally(swapped), digest == _multiset_digest(lines))
    # the digest does not depend on the order (the mix changes it)
    assert _multiset_digest(reversed(lines)) == _multiset_digest(lines)


def test_packed_rows_are_the_shuffles_input() -> None:
    group = get_group("ristretto255")
    ek = ElectionKey(group, group.pow_g(group.random_scalar()))
    rows = [
        tuple(encrypt_element(ek, group.pow_g(group.random_scalar()), group.random_scalar())
              for _ in range(2))
        for _ in range(5)
    ]  # fmt: skip
    packed = PackedRows(pack_rows(rows), 2)
    assert len(packed) == 5
    assert list(packed) == rows
    assert packed[-1] == rows[4]
    assert packed[1:3] == rows[1:3]
    assert PackedRows(packed.chunk(2, 2), 2)[1] == rows[3]
    with pytest.raises(IndexError):
        packed[5]
    with pytest.raises(ValueError, match="whole rows"):
        PackedRows(pack_rows(rows)[:-1], 2)
    outputs, witness = shuffle(ek, packed)
    out = PackedRows(pack_rows(outputs), 2)
    proof = prove_shuffle(ek, b"test", packed, out, witness)
    assert check_shuffle(ek, b"test", packed, out, proof)
    blob = bytearray(out.blob)
    blob[70:102] = rows[0][0].alpha  # one ciphertext of another row
    assert not check_shuffle(ek, b"test", packed, PackedRows(bytes(blob), 2), proof)


def test_in_process_run_and_its_progress() -> None:
    seen: list[tuple[str, float]] = []
    figures = measure_tehran(5, 1, candidates=40, seats=4, seed=3,
                             step=lambda what, done: seen.append((what, done)))  # fmt: skip
    assert sum(done for _, done in seen) == pytest.approx(units(5))
    assert figures["count_matches"] is True
    assert figures["valid"] + figures["void"] == 5
    check_consistent(figures)
    with pytest.raises(ValueError, match="--ballots must be at least 2"):
        measure_tehran(1, 1)
