"""Checking one encrypted ballot of an ElectionGuard 2.0 record on its own: what the
`eg-ballots` and `eg-confirmation-codes` checks need of it, and its share of the tally.

Per ballot (spec 2.0.0 §3.3, §3.4; Verifications 5, 6 and 7.A–7.B):
- it reads, and every element in it lies in the order-q subgroup (5.A);
- it is of this election (`election_id` = H_E), CAST or CHALLENGED, of a known ballot style,
  and holds exactly that style's contests, each with exactly the manifest's options;
- each selection's range proof for 0 … R, R the contest's option limit (5);
- each contest's range proof for 0 … L on the product of its selections, L its votes
  allowed (6);
- each contest hash χ (7.A) and the confirmation code H(B) (7.B).

Pure functions of one file and the election's public values, so ballots can be checked in
any order on any number of processes (`pool`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verivote.crypto.groups.eg4096 import P
from verivote.interop.electionguard import hashing, proofs
from verivote.interop.electionguard.encoding import Elements, FormatError
from verivote.interop.electionguard.proofs import KeyPowers
from verivote.interop.electionguard.record import (
    CAST,
    CHALLENGED,
    Ballot,
    BallotContest,
    Ciphertext,
    Manifest,
    RangeProof,
    parse_ballot,
    read_json,
)

SelectionKey = tuple[str, str]
"""(contest id, selection id)."""


@dataclass(frozen=True)
class Setup:
    """The public values every ballot is checked against: H_E and K as published in
    `election_initialized.json` (whether they are right is `eg-joint-key`'s question), the
    manifest, and the record folder (ballot files are named relative to it)."""

    h_e: bytes
    key: KeyPowers
    manifest: Manifest
    root: Path


@dataclass
class BallotOutcome:
    """One ballot file's results. `ballot` is None when the file cannot be read at all."""

    file: str
    ballot: Ballot | None = None
    selections: int = 0
    """Selections whose range proofs were checked."""
    range_proofs: int = 0
    """Range proofs computed, of selections and contests (a repeated one counts once)."""
    proof_failures: list[str] = field(default_factory=list)
    code_failures: list[str] = field(default_factory=list)


@dataclass
class ChunkOutcome:
    ballots: list[BallotOutcome]
    sums: dict[SelectionKey, tuple[Any, Any]]
    """The product of the CAST ballots' ciphertexts, per selection."""


def _ordered_votes(contest: BallotContest, option_order: dict[str, int]) -> list[Ciphertext]:
    """The contest's ciphertexts in manifest order (χ hashes them so, spec §3.4.1)."""
    chosen = sorted(contest.selections, key=lambda s: option_order.get(s.selection_id, 0))
    return [s.vote for s in chosen]


def _structure(setup: Setup, ballot: Ballot) -> list[str]:
    """Whatever makes the ballot not one of this election's, each as a reason."""
    reasons = []
    if ballot.election_id != setup.h_e:
        reasons.append("election_id is not this election's extended base hash H_E")
    if ballot.state not in (CAST, CHALLENGED):
        reasons.append(f"state {ballot.state!r} is neither {CAST} nor {CHALLENGED}")
    if ballot.is_preencrypt:
        reasons.append("a pre-encrypted ballot (spec §4, Verifications 15–19: not supported)")
    expected = setup.manifest.style_contests(ballot.style_id)
    if expected is None:
        reasons.append(f"ballot style {ballot.style_id!r} is not in the manifest")
        return reasons
    have = [c.contest_id for c in ballot.contests]
    want = [c.contest_id for c in expected]
    if sorted(have) != sorted(want):
        reasons.append(
            f"contests {sorted(have)} are not those of ballot style {ballot.style_id!r}: "
            f"{sorted(want)}"
        )
    for contest in ballot.contests:
        m = setup.manifest.contest(contest.contest_id)
        if m is None:
            continue  # named above
        if contest.index != m.index:
            reasons.append(
                f"contest {contest.contest_id}: sequence_order {contest.index}, the manifest "
                f"says {m.index}"
            )
        got = sorted((s.selection_id, s.index) for s in contest.selections)
        options = sorted((o.selection_id, o.index) for o in m.options)
        if got != options:
            reasons.append(
                f"contest {contest.contest_id}: selections {got} are not the manifest's "
                f"options {options}"
            )
    return reasons


def _product(votes: list[Ciphertext]) -> Ciphertext:
    pad = data = 1
    for v in votes:
        pad = pad * v.pad % P
        data = data * v.data % P
    return Ciphertext(pad, data)


def _proofs(setup: Setup, ballot: Ballot, outcome: BallotOutcome) -> None:
    """Verifications 5 and 6 on every contest of the ballot."""
    done: dict[tuple[Any, Any, RangeProof, int], str | None] = {}

    def check(vote: Ciphertext, proof: RangeProof, limit: int) -> str | None:
        # A one-option contest with L = R proves the same statement twice, with the same
        # proof (egk reuses it): the second check would repeat the first's work exactly.
        memo = (vote.pad, vote.data, proof, limit)
        if memo not in done:
            done[memo] = proofs.range_proof(setup.h_e, setup.key, vote, proof, limit)
            outcome.range_proofs += 1
        return done[memo]

    for contest in ballot.contests:
        m = setup.manifest.contest(contest.contest_id)
        if m is None:
            continue
        for selection in contest.selections:
            outcome.selections += 1
            reason = check(selection.vote, selection.proof, m.option_limit)
            if reason:
                outcome.proof_failures.append(
                    f"contest {contest.contest_id} selection {selection.selection_id}: {reason} "
                    f"(Verification 5)"
                )
        total = _product([s.vote for s in contest.selections])
        reason = check(total, contest.proof, m.votes_allowed)
        if reason:
            outcome.proof_failures.append(
                f"contest {contest.contest_id}: the limit proof: {reason} (Verification 6)"
            )


def _codes(setup: Setup, ballot: Ballot) -> list[str]:
    """Verification 7.A (every χ) and 7.B (H(B)), the contests in manifest order."""
    reasons = []
    hashes: list[tuple[int, bytes]] = []
    for contest in ballot.contests:
        m = setup.manifest.contest(contest.contest_id)
        if m is None:
            reasons.append(f"contest {contest.contest_id}: not in the manifest, no χ to check")
            continue
        order = {o.selection_id: o.index for o in m.options}
        votes = [(v.pad, v.data) for v in _ordered_votes(contest, order)]
        chi = hashing.contest_hash(setup.h_e, m.index, setup.key.value, votes)
        if chi != contest.contest_hash:
            reasons.append(f"contest {contest.contest_id}: the contest hash χ is wrong (7.A)")
        hashes.append((m.index, contest.contest_hash))
    codes = hashing.confirmation_codes(setup.h_e, [h for _, h in sorted(hashes)], ballot.code_baux)
    if ballot.confirmation_code not in codes:
        reasons.append("the confirmation code is not H(H_E; 0x24, χ_1, …, χ_m, B_aux) (7.B)")
    return reasons


def check_ballot(setup: Setup, path: Path) -> BallotOutcome:
    """Every check of one ballot file; never raises for anything in the file."""
    try:
        name = str(path.relative_to(setup.root))
    except ValueError:
        name = str(path)
    outcome = BallotOutcome(name)
    elements = Elements()
    try:
        ballot = parse_ballot(read_json(path), elements)
    except FormatError as exc:
        reason = f"cannot be read: {exc}"
        outcome.proof_failures.append(reason)
        outcome.code_failures.append(reason)
        return outcome
    outcome.ballot = ballot
    outcome.proof_failures += _structure(setup, ballot)
    bad = elements.invalid()
    for place in bad:
        outcome.proof_failures.append(f"{place}: not in the order-q subgroup (Verification 5.A)")
    if not bad:
        # with an element outside the group no proof about it means anything
        _proofs(setup, ballot, outcome)
    outcome.code_failures += _codes(setup, ballot)
    return outcome


def check_chunk(setup: Setup, paths: list[Path]) -> ChunkOutcome:
    """`check_ballot` on each file, and the product of the CAST ballots' ciphertexts."""
    outcomes = [check_ballot(setup, path) for path in paths]
    sums: dict[SelectionKey, tuple[Any, Any]] = {}
    for outcome in outcomes:
        ballot = outcome.ballot
        if ballot is None or ballot.state != CAST:
            continue
        for contest in ballot.contests:
            for s in contest.selections:
                key = (contest.contest_id, s.selection_id)
                a, b = sums.get(key, (1, 1))
                sums[key] = (a * s.vote.pad % P, b * s.vote.data % P)
    return ChunkOutcome(outcomes, sums)
