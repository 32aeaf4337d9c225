"""`verivote bench verify-memory` (issue 17's memory target): the records it builds from its
pool of encrypted ballots verify, hold the ballots asked for, and are measured."""

from __future__ import annotations

from pathlib import Path

from verivote.bench.verify_memory import measure


def test_the_memory_bench_measures_valid_records_of_each_size(tmp_path: Path) -> None:
    out = measure(tmp_path / "pool", [12, 24], jobs=1)
    runs = out["runs"]
    assert [r["ballots"] for r in runs] == [12, 24]
    assert all(r["valid"] for r in runs)
    # the ballots' bytes are counted wherever the record keeps them (a district's log)
    assert runs[1]["entries_bytes"] > runs[0]["entries_bytes"]
    assert all(r["main_peak_mib"] > 0 for r in runs)
    assert "main_peak_at_1m_mib" in out
