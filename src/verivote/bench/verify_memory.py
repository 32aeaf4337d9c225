"""`verivote bench verify-memory` (issue 17: `verivote verify` of a 1-million-ballot district in
at most 2 GB): the peak memory of `verivote verify RECORD --jobs J`, run as a command of its
own, on records of one district of growing numbers of ballots (`verivote.bench.big_record`),
and the growth per 100,000 ballots fitted through them, projected to 1,000,000.

The command's process tree is sampled every `INTERVAL` seconds from /proc: the main process's
own peak (its VmHWM, exact), each worker's peak (VmHWM, the largest of them), and the tree's
resident set (the sum of every live process's VmRSS at a sample, its largest; a sample can
miss a peak shorter than the interval), and its proportional set size (the sum of every
process's Pss from /proc/<pid>/smaps_rollup: a page a forked worker shares with the main
process counted once, where the sum of VmRSS counts it in each; the largest at a sample).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from verivote.bench.big_record import encrypt_pool, make_record
from verivote.bench.procfs import peak_kib
from verivote.board.record import entry_files

INTERVAL = 0.1
PROJECTED = 1_000_000


def _descendants(root: int) -> list[int]:
    """The process ids under `root` (its children, theirs, …)."""
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        with (
            contextlib.suppress(OSError, IndexError, ValueError),
            open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as f,
        ):
            parents.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(name))
    out, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def measure_verify(record: Path, jobs: int) -> dict[str, Any]:
    """Run `verivote verify record --jobs jobs --json` and sample its memory."""
    command = [sys.executable, "-m", "verivote", "verify", str(record), "--jobs", str(jobs)]
    started = time.perf_counter()
    child = subprocess.Popen([*command, "--json"], stdout=subprocess.PIPE, text=True)
    main_kib = tree_kib = worker_kib = pss_kib = 0
    while child.poll() is None:
        main_kib = max(main_kib, peak_kib(child.pid))
        workers = _descendants(child.pid)
        for pid in workers:
            worker_kib = max(worker_kib, peak_kib(pid))
        rss = peak_kib(child.pid, "VmRSS") + sum(peak_kib(p, "VmRSS") for p in workers)
        tree_kib = max(tree_kib, rss)
        pss_kib = max(pss_kib, _pss_kib(child.pid) + sum(_pss_kib(p) for p in workers))
        time.sleep(INTERVAL)
    out, _ = child.communicate()
    wall = time.perf_counter() - started
    report = json.loads(out)
    return {
        "record": str(record),
        "entries_bytes": sum(path.stat().st_size for path in entry_files(record)),
        "valid": bool(report.get("valid")),
        "ballots": next(c["items"] for c in report["checks"] if c["id"] == "ballots"),
        "jobs": jobs,
        "wall_seconds": round(wall, 1),
        "main_peak_mib": round(main_kib / 1024, 1),
        "worker_peak_mib": round(worker_kib / 1024, 1),
        "tree_peak_mib": round(max(tree_kib, main_kib) / 1024, 1),
        "tree_pss_peak_mib": round(pss_kib / 1024, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def slope(rows: list[dict[str, Any]], key: str) -> tuple[float, float]:
    """(MiB per 100,000 ballots, MiB at PROJECTED ballots) of `key`: the least-squares line
    through the rows."""
    xs = [r["ballots"] for r in rows]
    ys = [r[key] for r in rows]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    spread = sum((x - mx) ** 2 for x in xs)
    per = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0
    return round(per * 100_000, 1), round(my + per * (PROJECTED - mx), 1)


def measure(pool: Path, sizes: list[int], jobs: int) -> dict[str, Any]:
    """Records of each size from the pool in `pool` (encrypted first if there is none),
    each verified and measured; the slopes and projections. ValueError if the pool is
    smaller than the largest size."""
    lines = pool / "ballots.jsonl"
    if not (pool / "pool.db").exists():
        encrypt_pool(pool, max(sizes), jobs)
    with lines.open("rb") as f:
        have = sum(1 for _ in f)
    if have < max(sizes):
        raise ValueError(f"the pool in {pool} has {have:,} ballots, fewer than {max(sizes):,}")
    rows = []
    for n in sizes:
        record = pool / f"record-{n}"
        if not (record / "log" / "checkpoint").exists():
            make_record(pool, n, record)
        rows.append(measure_verify(record, jobs))
    out: dict[str, Any] = {"runs": rows}
    if len(rows) > 1:
        for key in ("main_peak_mib", "tree_peak_mib", "tree_pss_peak_mib", "worker_peak_mib"):
            per, projected = slope(rows, key)
            out[key.replace("_mib", "_per_100k_mib")] = per
            out[key.replace("_mib", "_at_1m_mib")] = projected
    return out
