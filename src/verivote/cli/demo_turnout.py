"""Provable turnout in `verivote demo` (issue 19): two voters of round 1 check their own status
as their own processes (`verivote voter status`, against the authority's server, checking the
answer against the signed board with the round's published verifier keys), one who came and one
who stayed home; and the ghost-voter audit of round 1's record (`verivote audit turnout`), its
drawn check-ins all confirmed on the sign-in sheets, as in an honest election.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from verivote.audit.turnout_audit import Finding, Key, audit_result, draw
from verivote.audit.turnout_record import record_checkins
from verivote.board.record import read_record
from verivote.cli.demo_paper import dice
from verivote.election.service import load_context
from verivote.polling.turnout import COMMITMENT_TYPE
from verivote.sim.election import RoundOutcome
from verivote.store import Store, make_engine
from verivote.web.app import live_app, read_verifiers
from verivote.web.serving import in_thread

PER_DISTRICT = 20
"""Check-ins the demo's ghost-voter audit draws in each district."""


def voter_checks(folder: Path, first: RoundOutcome) -> list[dict[str, Any]]:
    """`verivote voter status --json` of the first voter who came and the first who stayed
    home, each as its own process; their answers (each with "voter": "came" or "absent")."""
    ctx = first.ctx
    came = next(code for code in first.status_codes if code not in set(first.absent))
    chosen = [("came", came)] + [("absent", code) for code in first.absent[:1]]
    keys = folder / "authority" / "keys" / "round1"
    engine = make_engine(f"sqlite:///{folder / 'authority' / 'verivote.db'}")
    out = []
    try:
        store = Store(engine)
        app = live_app(store, load_context(store, ctx.election_id),
                       read_verifiers(keys, ctx.election_id))  # fmt: skip
        with in_thread(app) as url:
            # both voters at once, each its own process
            started = [
                (label, subprocess.Popen(
                    [sys.executable, "-m", "verivote", "voter", "status", code, "--status-code",
                     first.status_codes[code], "--server", url, "--trust",
                     str(keys / "verifiers"), "--json"],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    env=dict(os.environ),
                ))
                for label, code in chosen
            ]  # fmt: skip
            for label, process in started:
                stdout, stderr = process.communicate(timeout=120)
                if process.returncode != 0:
                    raise RuntimeError(f"voter status failed: {stderr.strip()[-300:]}")
                out.append({"voter": label, **json.loads(stdout.strip().splitlines()[-1])})
    finally:
        engine.dispose()
    return out


def ghost_audit(record: Path, seed: int) -> dict[str, Any]:
    """The ghost-voter audit of a record whose drawn check-ins are all on the sign-in sheets."""
    checkins = record_checkins(record)
    drawn = draw(checkins, dice(seed), PER_DISTRICT)
    signed: Finding = "signed"
    findings: dict[Key, Finding] = {
        (d, s, p): signed for d, items in drawn.items() for s, p in items
    }
    result = audit_result(checkins, dice(seed), PER_DISTRICT, findings)
    return {
        "checkins": result.population,
        "drawn": result.sample,
        "ghosts_found": result.found,
        "ghosts_bound": result.bound,
        "confidence": float(result.confidence),
    }


def commitment_of(record: Path) -> dict[str, Any]:
    """The record's roll-commitment entry."""
    for line in read_record(record).entries:  # the national log
        if f'"type":"{COMMITMENT_TYPE}"'.encode() in line:
            doc: dict[str, Any] = json.loads(line)
            return doc
    raise ValueError(f"{record} has no roll commitment")


def lines(first: RoundOutcome, checks: list[dict[str, Any]], audit: dict[str, Any]) -> list[str]:
    """The demo's lines about turnout."""
    assert first.record is not None
    commitment = commitment_of(first.record)
    out = [
        f"turnout (round 1): roll of {commitment['size']:,} pseudonyms committed (root "
        f"{commitment['root'][:16]}…), {first.checked_in:,} check-ins published as "
        f"pseudonyms; {len(first.absent)} voters of the roll stayed home"
    ]
    for c in checks:
        where = c["checked_in"]
        seen = f"a check-in at {where['station']}, hour {where['hour']}" if where else "none"
        who = "a voter who came" if c["voter"] == "came" else "a voter who stayed home"
        out.append(
            f"voter status ({who}, own process, checked against the signed board): "
            f"on the roll; check-in: {seen}"
        )
    out.append(
        f"ghost-voter audit: {audit['drawn']} of {audit['checkins']} check-ins drawn, all on "
        f"the sign-in sheets; at {audit['confidence']:.0%} confidence at most "
        f"{audit['ghosts_bound']} ghost check-ins"
    )
    return out
