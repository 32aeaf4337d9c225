"""`verivote bench cast-api` (issue 15): a short run on PostgreSQL ends with its JSON line, and
no acknowledged ballot is lost or duplicated. No timing is asserted."""

from __future__ import annotations

import json

import pytest

from tests.store_fixtures import POSTGRES_URL, postgres_database
from verivote.cli.app import run

KEYS = {"ballots_per_s", "capacity_per_s", "capacity_share", "pool_share", "capacity_serial_per_s",
        "capacity_pool_per_s", "append_only_per_s", "p50_ms", "p99_ms", "lost",
        "duplicated"}  # fmt: skip


@pytest.mark.slow
def test_the_cast_api_benchmark_loses_and_duplicates_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with postgres_database():  # skips (or fails) as the other PostgreSQL tests do
        pass
    code = run(["bench", "cast-api", "--db", POSTGRES_URL, "--seconds", "1", "--devices", "3",
                "--json"])  # fmt: skip
    assert code == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    figures = json.loads(line)
    assert set(figures) >= KEYS
    # the capacity is the largest of its three measurements (the strictest for the share)
    assert len(figures["capacity_pool_per_s"]) == 2
    assert figures["capacity_per_s"] == max(
        figures["capacity_serial_per_s"], *figures["capacity_pool_per_s"]
    )
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0
    for phase in figures["phases"].values():
        assert phase["acknowledged"] > 0
        assert set(phase["statuses"]) == {"accepted"}
