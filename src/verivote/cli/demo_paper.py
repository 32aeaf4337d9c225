"""The paper trail of `verivote demo` (issue 18): the paper ballots one station's device
printed, the stations' signed result forms, a ballot-polling audit of one district at a 5 %
risk limit, and the forensics report of the stations' counts.

The audit is run as any audit board would run it with `verivote audit start|enter`: from the
published record alone, with a public seed, the board reading each ballot of each round's pull
list from the paper in the boxes (`verivote.sim.paper_forms.audit_board_entries`).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from verivote.audit import audit_files
from verivote.audit.ballot_polling import IN_PROGRESS
from verivote.sim.election import RoundOutcome
from verivote.sim.paper_forms import audit_board_entries

AUDITED = "karaj"
"""The district the demo audits: one seat, and its outcome rests on assertions with margins."""
RISK_LIMIT = 0.05


def dice(seed: int) -> str:
    """The audit's public seed. In a real audit: twenty or more rolls of ten-sided dice, in
    public, typed in; here digits drawn from the demo's seed, so a run can be repeated."""
    digest = hashlib.sha256(f"verivote demo dice {seed}".encode()).digest()
    return "".join(str(b % 10) for b in digest[:24])


def run_audit(first: RoundOutcome, folder: Path, seed: int) -> dict[str, Any]:
    """The ballot-polling audit of AUDITED in round 1's record; its final state."""
    assert first.record is not None
    audit_files.start(first.record, AUDITED, RISK_LIMIT, dice(seed), folder)
    while (state := audit_files.read_state(folder))["status"] == IN_PROGRESS:
        pulled = audit_files.pull_path(folder, len(state["rounds"]) + 1).read_text()
        audit_files.enter(folder, audit_board_entries(first.paper, pulled))
    return audit_files.read_state(folder)


def audit_line(state: dict[str, Any], folder: Path) -> str:
    rounds = state["rounds"]
    worst = max(a["risk"] for a in rounds[-1]["assertions"].values())
    sizes = " then ".join(f"{r['size']:,}" for r in rounds)
    return (
        f"audit of {state['district']} at risk limit {state['risk_limit']:.0%}: "
        f"{len(state['assertions'])} assertions, sample of {sizes} of "
        f"{state['population']:,} paper ballots (seed {state['seed']}); {state['status']}, "
        f"highest measured risk {worst:.4f}; {folder}"
    )


def paper_pages(pdf: Path | None) -> str | None:
    """'<path> (<n> pages)' of the printed ballots."""
    if pdf is None or not pdf.is_file():
        return None
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf.read_bytes()))
    return f"{pdf} ({pages} pages)"


def summary(state: dict[str, Any]) -> dict[str, Any]:
    """The audit in the demo's JSON."""
    keys = ("district", "risk_limit", "seed", "population", "status", "rounds", "assertions")
    return {k: state[k] for k in keys}


def forensics(record: Path, out: Path) -> tuple[dict[str, Any], str]:
    """The forensics report of a record's result forms, written to `out`/forensics.html and
    .json; (the summary, one line saying what it found)."""
    import json

    from verivote.audit.forensics_report import TEST_NAMES, VERDICT_TESTS, analyse, render_html
    from verivote.audit.stations import station_counts

    counts = station_counts(record)
    found = analyse(counts)
    out.mkdir(parents=True, exist_ok=True)
    (out / "forensics.html").write_text(render_html(found, counts), encoding="utf-8")
    (out / "forensics.json").write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")
    rejected = ", ".join(TEST_NAMES[k] for k in found["verdict"]) or "no test"
    line = (
        f"forensics of {found['stations']} stations' result forms: {rejected} rejects at "
        f"α/{len(VERDICT_TESTS)} = {found['bonferroni_alpha']:.3g}, "
        f"{len(found['flagged'])} stations flagged; {out / 'forensics.html'}"
    )
    return found, line
