"""What the verifier says about a record: one named check per property, each with the entries
that fail it (the JSON form is part of the public interface; see `Report.to_json`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

CHECKS: dict[str, str] = {
    "board": "bulletin board: canonical entries, Merkle root, signatures",
    "manifest": "manifest and election base hash",
    "ceremony": "key ceremony transcript",
    "ballots": "cast ballots: proofs bound to station and nonce, tracking codes, no ballot twice",
    "challenged": "challenged ballots: proofs, openings, never cast",
    "tally": "encrypted tally is the product of the cast ballots",
    "decryption": "threshold decryption of the tally",
    "mix": "mix path: inputs, every shuffle proof, decryptions, decoding and count",
    "lot": "lot: guardians' contributions before the tally, decrypted by a quorum",
    "count": "seats by the counting law, lots seeded by the board and the guardians' lot",
    "runoff": "round 2 holds exactly round 1's runoff fields",
    "participation": "polls: ballots only while open, as many as published",
    "forms": "paper result forms: signed by head and observers, adding up to the count",
    "turnout": "turnout: committed roll of pseudonyms, check-ins on it, none twice, as published",
}
"""Every check's stable id and its name, in the order they are run and reported."""

ELECTIONGUARD_CHECKS: dict[str, str] = {
    "eg-parameters": "ElectionGuard: group constants, parameter, manifest and base hashes",
    "eg-guardians": "ElectionGuard: guardians' commitments and their Schnorr proofs",
    "eg-joint-key": "ElectionGuard: joint key is the guardians' product; extended base hash",
    "eg-ballots": "ElectionGuard: ballots' selection and contest range proofs",
    "eg-confirmation-codes": "ElectionGuard: contest hashes, confirmation codes and chains",
    "eg-tally": "ElectionGuard: encrypted tally is the product of the cast ballots",
    "eg-decryption": "ElectionGuard: tally decryptions, their proofs and values",
    "eg-challenged": "ElectionGuard: challenged ballots' decryptions, never cast",
}
"""The checks of an ElectionGuard 2.0 record (`verivote verify --format electionguard`), in
the order they are run and reported; their reports have the same form as the checks above."""

MAX_FAILURES = 1000
"""Failures kept per check; beyond it one last failure says how many more there were (a
record of millions of bad ballots must not need gigabytes to report)."""


Where = Callable[[int], tuple[str, int]]
"""A record's map from an entry's position to (log, index in that log)."""


@dataclass(frozen=True)
class Failure:
    """One thing wrong: the board entry it is about (its position in the record's one
    sequence; None: the record as a whole, or an entry outside that sequence such as a seal),
    why, and the log ("" the national log, else a district id) and index in it of the entry,
    when the failure is about one (README, "National scale (issue 17)", Order)."""

    entry: int | None
    reason: str
    log: str | None = None
    index: int | None = None

    @property
    def where(self) -> str | None:
        """The entry in text: "entry <index>" in the national log, "<district>/<index>" in a
        district's log; None for the record as a whole."""
        if self.log is not None and self.index is not None:
            return f"entry {self.index}" if self.log == "" else f"{self.log}/{self.index}"
        return None if self.entry is None else f"entry {self.entry}"

    def text(self) -> str:
        """The failure as one line of text."""
        where = self.where
        return self.reason if where is None else f"{where}: {self.reason}"

    def located(self, where: Where) -> Failure:
        """This failure with the log and index of its entry filled in, if it has an entry."""
        if self.entry is None or self.log is not None:
            return self
        try:
            log, index = where(self.entry)
        except IndexError:
            return self
        return replace(self, log=log, index=index)

    def to_json(self) -> dict[str, Any]:
        """{"entry", "reason", "log", "index"}: the first two as before issue 17, the log and
        index added (null when the failure is about no entry)."""
        return {"entry": self.entry, "reason": self.reason, "log": self.log, "index": self.index}


@dataclass
class Check:
    """The outcome of one check. `skipped` (a reason) marks a check that was not run: it
    neither passes nor fails."""

    id: str
    items: int = 0
    failures: list[Failure] = field(default_factory=list)
    skipped: str | None = None
    _dropped: int = 0

    @property
    def name(self) -> str:
        return CHECKS.get(self.id) or ELECTIONGUARD_CHECKS[self.id]

    @property
    def passed(self) -> bool | None:
        """True or False; None for a skipped check."""
        if self.skipped is not None:
            return None
        return not self.failures

    def fail(
        self, entry: int | None, reason: str, log: str | None = None, index: int | None = None
    ) -> None:
        """Record a failure about the entry at position `entry` (or, with `log` and `index`,
        an entry of that log, such as a seal, which has no position)."""
        if len(self.failures) < MAX_FAILURES:
            self.failures.append(Failure(entry, reason, log, index))
        else:
            self._dropped += 1

    def locate(self, where: Where) -> Check:
        """Fill in the log and index of every failure about an entry; returns the check."""
        self.failures = [f.located(where) for f in self.failures]
        return self

    def close(self) -> Check:
        """Add the count of failures not kept, if any; returns the check itself."""
        if self._dropped:
            self.failures.append(Failure(None, f"and {self._dropped} more failures"))
            self._dropped = 0
        return self

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "passed": self.passed,
            "items": self.items,
            "failures": [f.to_json() for f in self.failures],
        }
        if self.skipped is not None:
            doc["skipped"] = self.skipped
        return doc


def blocked(check_id: str, reason: str) -> Check:
    """A check that cannot be run because the record lacks what it needs: it fails."""
    check = Check(check_id)
    check.fail(None, f"not checked: {reason}")
    return check


@dataclass(frozen=True)
class Report:
    """Every check of one record, in the order of `CHECKS` (or `ELECTIONGUARD_CHECKS`), the
    ballot-checking rate, and for an ElectionGuard record the time per selection (`timing`:
    selections and range proofs checked, jobs, seconds of the ballot checks, milliseconds per
    selection; in the JSON only when present, so verivote records' JSON is unchanged)."""

    checks: tuple[Check, ...]
    ballots_per_second: float
    timing: dict[str, float] | None = None

    @property
    def valid(self) -> bool:
        """No check failed (a skipped check does not make a record invalid)."""
        return all(c.passed is not False for c in self.checks)

    def check(self, check_id: str) -> Check:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    def failed(self) -> list[str]:
        """The ids of the checks that failed."""
        return [c.id for c in self.checks if c.passed is False]

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "valid": self.valid,
            "checks": [c.to_json() for c in self.checks],
            "ballots_per_second": round(self.ballots_per_second, 1),
        }
        if self.timing is not None:
            doc["timing"] = self.timing
        return doc
