"""`verivote bench turnout-memory`: the peak memory of the `turnout` check's own work (issue 19:
a national roll of 61.2 M and its check-ins verified in under 2 GB), measured in a fresh
process on a synthetic roll, and projected to the national roll.

The child process writes nothing but reads a roll file of N sorted leaves over 208 districts
(written by the parent beforehand) exactly as `verify.check_turnout` does: the streamed RFC
6962 root, the fingerprint column, the repeats, the sorted index; then it fingerprints the
check-ins of a share of the voters, looks each up and looks for repeats. Its peak resident
memory (VmHWM, reset after the imports) minus its resident memory just before the work (after
the imports) is the check's; the
projection is linear in the voters (every structure is a column of fixed width per leaf or per
check-in). The record's loader is not measured here: check-in lists are streamed from the
record like ballots (`verify.loader.STREAMED`), and the ballots' own streaming is measured by
`verivote bench verify-memory`.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from array import array
from pathlib import Path
from typing import Any

from verivote.bench.procfs import peak_kib, reset_peak

NATIONAL = 61_200_000
DISTRICTS = 208


def write_roll(path: Path, voters: int, seed: int = 19) -> None:
    """A sorted roll of `voters` random pseudonyms spread over DISTRICTS districts."""
    rng = random.Random(seed)
    per = [voters // DISTRICTS + (1 if d < voters % DISTRICTS else 0) for d in range(DISTRICTS)]
    with path.open("w", encoding="ascii") as fh:
        for d, n in enumerate(per):
            name = f"d{d:03d}"
            for p in sorted(f"{rng.getrandbits(256):064x}" for _ in range(n)):
                fh.write(f"{name},{p}\n")


def child(path: Path, share: float) -> dict[str, Any]:
    """The check's work on the roll in `path` (in this process); its figures."""
    from verivote.verify.check_turnout import _read_roll
    from verivote.verify.report import Check
    from verivote.verify.turnout_index import (
        Fingerprinter,
        RollIndex,
        column,
        repeated,
        view,
    )

    # Forget the imports' high-water mark: the peak from here on is the work's (Linux 4.0+).
    reset_peak("self")
    before = peak_kib("self", "VmRSS")
    started = time.perf_counter()
    check = Check("turnout")
    districts = [f"d{d:03d}" for d in range(DISTRICTS)]
    fingerprint = Fingerprinter(len(districts))
    packed, counts, _, size = _read_roll(path, districts, fingerprint, check)
    # The check-ins: a share of the roll, in the same packed form, with an entry index each.
    rng = random.Random(7)
    checked = column()
    where = array("q")
    number_of = {d: n for n, d in enumerate(districts)}
    with path.open("rb") as fh:
        for n, line in enumerate(fh):
            if rng.random() < share:
                district, p = line.decode("ascii").rstrip("\n").split(",")
                checked.append(fingerprint(p, number_of[district]))
                where.append(n // 500)
    roll = RollIndex(packed, fingerprint)
    twice = roll.repeats()
    prints = view(checked)
    wrong = int((roll.labels_of(prints) != roll.labels(prints)).sum())
    again = repeated(fingerprint.unlabelled(prints))
    seconds = time.perf_counter() - started
    peak = peak_kib("self")
    return {
        "voters": size,
        "checkins": len(checked),
        "districts": len(counts),
        "failures": len(check.failures) + wrong + len(twice) + len(again),
        "seconds": round(seconds, 2),
        "baseline_mib": round(before / 1024, 1),
        "peak_mib": round(peak / 1024, 1),
        "work_mib": round((peak - before) / 1024, 1),
    }


def measure(folder: Path, voters: int, share: float) -> dict[str, Any]:
    """Write the roll (if missing), run the child, project to the national roll."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"roll-{voters}.txt"
    if not path.is_file():
        write_roll(path, voters)
    done = subprocess.run(
        [sys.executable, "-m", "verivote.bench.turnout_memory", str(path), str(share)],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
    )
    if done.returncode != 0:
        raise ValueError(f"the measuring process failed: {done.stderr.strip()[-400:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    per_voter = figures["work_mib"] * 2**20 / voters
    figures["bytes_per_voter"] = round(per_voter, 1)
    figures["projected_national_mib"] = round(
        figures["baseline_mib"] + per_voter * NATIONAL / 2**20, 0
    )
    figures["projected_national_seconds"] = round(figures["seconds"] * NATIONAL / voters, 0)
    return figures


if __name__ == "__main__":
    print(json.dumps(child(Path(sys.argv[1]), float(sys.argv[2]))))
