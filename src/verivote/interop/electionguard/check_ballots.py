"""Checks `eg-ballots` and `eg-confirmation-codes` over every ballot's outcome (`ballots`),
with what only the whole set shows: unique ballot ids, unique confirmation codes (7.C) and,
when the election chains them, each device's chain of codes (spec 2.0.0 §3.4.3)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from verivote.interop.electionguard import hashing
from verivote.interop.electionguard.ballots import BallotOutcome
from verivote.interop.electionguard.record import Ballot, Config
from verivote.verify.report import Check

BALLOTS = "eg-ballots"
CODES = "eg-confirmation-codes"

LINK = 32
"""Bytes of the previous code at the front of a chained B_aux."""


def check_ballots(outcomes: Sequence[BallotOutcome], blocked: str | None) -> Check:
    """Every ballot file's own failures (`ballots.check_ballot`: Verifications 5 and 6 and
    the ballot's structure), and no ballot id twice. `blocked`: why nothing can be checked."""
    check = Check(BALLOTS)
    if blocked is not None:
        check.fail(None, f"not checked: {blocked}")
        return check.close()
    for outcome in sorted(outcomes, key=lambda o: o.file):
        check.items += 1
        for reason in outcome.proof_failures:
            check.fail(None, f"{outcome.file}: {reason}")
    counts = Counter(o.ballot.ballot_id for o in outcomes if o.ballot is not None)
    for ballot_id, n in sorted(counts.items()):
        if n > 1:
            check.fail(None, f"ballot id {ballot_id!r} appears {n} times")
    return check.close()


def _chain(h_e: bytes, b_aux0: bytes, device: str, ballots: list[Ballot]) -> list[str]:
    """One device's ballots form one chain (§3.4.3, Verifications 7.D–7.E): B_aux,1 =
    H_0 ‖ B_aux,0 with H_0 = H(H_E; 0x24, B_aux,0), and B_aux,j = H(B_(j−1)) ‖ B_aux,0: each
    ballot names the code of the one before it. The record does not say the order, so it is
    rebuilt from the links. The closing hash (7.F–7.G) is not in a 2.0 record's files, so the
    end of the chain is not checked. An empty B_aux,0 stands for the device's name (egk)."""
    here = f"device {device!r}"
    b_aux0 = b_aux0 or device.encode()
    reasons = []
    starts = hashing.chain_starts(h_e, b_aux0)
    links: dict[bytes, Ballot] = {}
    first: list[Ballot] = []
    for ballot in ballots:
        aux = ballot.code_baux
        if len(aux) != LINK + len(b_aux0) or aux[LINK:] != b_aux0:
            reasons.append(f"{here}: ballot {ballot.ballot_id}: B_aux is not H(B_prev) ‖ B_aux,0")
            continue
        link = aux[:LINK]
        if link in starts:
            first.append(ballot)
        elif link in links:
            reasons.append(f"{here}: two ballots follow the same code ({ballot.ballot_id})")
        else:
            links[link] = ballot
    if len(first) != 1:
        reasons.append(f"{here}: {len(first)} ballots start the chain; exactly 1 must")
    if reasons:
        return reasons
    reached = 1
    current = first[0]
    while current.confirmation_code in links and reached <= len(ballots):
        current = links.pop(current.confirmation_code)
        reached += 1
    if reached != len(ballots):
        reasons.append(
            f"{here}: the chain from its first ballot reaches {reached} of {len(ballots)} ballots"
        )
    return reasons


def check_codes(
    outcomes: Sequence[BallotOutcome], config: Config | None, h_e: bytes | None, blocked: str | None
) -> Check:
    """Verification 7: every contest hash and confirmation code (7.A, 7.B, per ballot), no
    confirmation code twice (7.C), and each device's chain when the configuration says the
    codes are chained."""
    check = Check(CODES)
    if blocked is not None:
        check.fail(None, f"not checked: {blocked}")
        return check.close()
    for outcome in sorted(outcomes, key=lambda o: o.file):
        check.items += 1
        for reason in outcome.code_failures:
            check.fail(None, f"{outcome.file}: {reason}")
    ballots = [o.ballot for o in outcomes if o.ballot is not None]
    codes = Counter(b.confirmation_code for b in ballots)
    for ballot in sorted(ballots, key=lambda b: b.ballot_id):
        if codes[ballot.confirmation_code] > 1:
            check.fail(None, f"ballot {ballot.ballot_id}: confirmation code not unique (7.C)")
    if config is None:
        check.fail(None, "chaining not checked: election_config.json cannot be read")
    elif config.chain_codes and h_e is not None:
        by_device: dict[str, list[Ballot]] = defaultdict(list)
        for ballot in ballots:
            by_device[ballot.device].append(ballot)
        for device, device_ballots in sorted(by_device.items()):
            for reason in _chain(h_e, config.b_aux0, device, device_ballots):
                check.fail(None, reason)
    return check.close()
