"""`verivote bench board` (issue 17, "Speed") run as a real process at a tiny size, on SQLite
and PostgreSQL: its JSON line holds the figures other tools read, the logs it built have the
right roots (merkle.py over their entries), and bad sizes are one-line errors. No timing is
asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.store_fixtures import postgres_database
from verivote.board import merkle
from verivote.store import Store, make_engine

SRC = str(Path(__file__).resolve().parents[1] / "src")


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [sys.executable, "-m", "verivote", "bench", "board", *args],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip


def test_the_json_line_and_the_logs_it_built(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'board.db'}"
    done = bench("--entries", "700", "--districts", "3", "--batch", "64", "--db", url, "--json")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert (figures["entries"], figures["districts"], figures["batch"]) == (700, 3, 64)
    assert figures["backend"] == "sqlite"
    for key in ("appends_per_s", "proofs_per_s", "checkpoint_ms", "append_hash_floor_per_s",
                "proof_verify_floor_per_s", "checkpoint_hash_ms", "load_per_s"):  # fmt: skip
        assert figures[key] > 0, key
    assert figures["proofs"] >= 200
    assert 750 <= figures["entry_bytes"] <= 850  # ballot-sized entries
    assert figures["proof_client_cpu_ms"] > 0
    assert figures["proof_server_cpu_ms"] is None  # SQLite's work is the readers' own

    engine = make_engine(url)
    try:
        store = Store(engine)
        [election] = store.election_ids()
        assert store.logs(election) == {"": 700, "d0": 234, "d1": 233, "d2": 233}
        for log in ("", "d0", "d1", "d2"):
            entries = store.entries(election, log=log)
            assert all(json.loads(e)["district"] == log for e in entries)
            expected = merkle.root([merkle.leaf_hash(e) for e in entries])
            assert store.tree_root(election, log=log) == expected
            if not log:
                assert figures["root"] == expected.hex()
    finally:
        engine.dispose()


def test_on_postgresql_the_log_is_loaded_by_copy_and_read_by_processes() -> None:
    """The same figures from PostgreSQL (a schema of its own, dropped after): the proof log
    loaded through COPY, proofs asked by reader processes, fewer entries appended."""
    with postgres_database() as url:
        done = bench("--entries", "1000", "--appends", "90", "--districts", "3", "--readers",
                     "2", "--db", url, "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["backend"] == "postgresql"
    assert (figures["entries"], figures["appends"], figures["readers"]) == (1000, 90, 2)
    for key in ("appends_per_s", "proofs_per_s", "checkpoint_ms", "load_per_s"):
        assert figures[key] > 0, key
    assert figures["proofs"] >= 200
    assert figures["proof_hashes"] == 10  # ⌈log₂ 1000⌉
    assert figures["proof_client_cpu_ms"] > 0
    assert figures["proof_server_cpu_ms"] >= 0  # the server runs here: its CPU is read


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--entries", "0"], "--entries must be at least 1"),
        (["--entries", "10", "--districts", "0"], "--districts must be between 1 and 1000"),
        (["--entries", "10", "--batch", "0"], "--batch must be at least 1"),
        (["--entries", "10", "--readers", "0"], "--readers must be between 1 and 64"),
        (["--entries", "10", "--appends", "0"], "--appends must be at least 1"),
    ],
)
def test_bad_sizes_are_one_line_errors(args: list[str], message: str) -> None:
    done = bench(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_database_that_cannot_be_reached_is_a_one_line_error() -> None:
    done = bench("--entries", "10", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert done.returncode == 1
    assert "bench board failed" in done.stderr
    assert "Traceback" not in done.stderr
