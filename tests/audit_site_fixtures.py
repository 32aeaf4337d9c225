"""Audits for the website's audit pages and the audit's tests (issue 18, item 2): a real small
election (300 voters, about 8 s), made once a test session whichever module asks first
(`audit_site`; `test_audit_rounds` audits its record too), and two audits of its record:

- karaj, planned in small rounds (20 ballots first, then doubling), confirmed after 3 rounds;
- tehran, planned the same way, after its first round: in progress, round 2's list out.

A real plan's first round is the largest expected sample size, which in districts of a few
dozen ballots is nearly all of them: one round. The small plan (the assertions' expected
sizes lowered to `first`) makes an audit of several rounds from the same record and paper.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from verivote.audit import audit_files
from verivote.audit.ballot_polling import IN_PROGRESS
from verivote.sim.election import run_election
from verivote.sim.paper_forms import audit_board_entries
from verivote.store import Store, make_engine, migrate

VOTERS = 300
RISK_LIMIT = 0.05
SEED = "31415926535897932384626"
"""The audits' public seed (a real one is dice rolled in public)."""


@dataclass(frozen=True)
class AuditSite:
    record: Path
    paper: dict[str, list[list[str]]]
    karaj: Path
    """Confirmed after 3 rounds."""
    tehran: Path
    """In progress after round 1."""


def start_small(record: Path, district: str, folder: Path, first: int) -> None:
    """Start an audit of `district` whose first round is `first` ballots and whose rounds then
    double (its assertions' expected sample sizes lowered to `first`)."""
    state = audit_files.start(record, district, RISK_LIMIT, SEED, folder)
    state["next_size"] = first
    for a in state["assertions"]:
        a["asn"] = float(first)
    audit_files.write_pull_list(folder, state)
    (folder / audit_files.STATE).write_text(json.dumps(state, indent=2, ensure_ascii=False))


def enter_round(folder: Path, paper: dict[str, list[list[str]]]) -> None:
    """The audit board reads the current round's ballots as the paper has them."""
    n = len(audit_files.read_state(folder)["rounds"]) + 1
    pulled = audit_files.pull_path(folder, n).read_text()
    audit_files.enter(folder, audit_board_entries(paper, pulled))


def copy_audit(folder: Path, destination: Path) -> Path:
    """A copy of an audit's folder, to change without touching the session's."""
    shutil.copytree(folder, destination)
    return destination


def _make(folder: Path) -> AuditSite:
    engine = make_engine(f"sqlite:///{folder / 'v.db'}")
    migrate(engine)
    first, _ = run_election(Store(engine), folder, VOTERS, 7)
    engine.dispose()
    assert first.record is not None
    karaj, tehran = folder / "audit-karaj", folder / "audit-tehran"
    start_small(first.record, "karaj", karaj, 20)
    while audit_files.read_state(karaj)["status"] == IN_PROGRESS:
        enter_round(karaj, first.paper)
    start_small(first.record, "tehran", tehran, 20)
    enter_round(tehran, first.paper)
    return AuditSite(first.record, first.paper, karaj, tehran)


_MADE: dict[str, AuditSite] = {}


def audit_site(factory: pytest.TempPathFactory) -> AuditSite:
    """The session's audits (made on the first call)."""
    if "site" not in _MADE:
        _MADE["site"] = _make(factory.mktemp("audit-site"))
    return _MADE["site"]
