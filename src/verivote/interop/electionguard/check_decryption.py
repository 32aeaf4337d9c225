"""Checks `eg-decryption` and `eg-challenged`: the decrypted tally and the decrypted
challenged ballots (spec 2.0.0 §3.6; Verifications 9–14).

A 2.0 record publishes one combined decryption per ciphertext: T = K^t with a Chaum–Pedersen
proof that M = B/T equals A^s for the election secret s (§3.6.3). The guardians' own partial
decryptions, and the compensated ones of missing guardians, are combined before publication
("administratively combined into single full decryptions and proofs", as the 2.0 release
notes put it), so they are not in the record to be checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import gmpy2

from verivote.crypto.groups.eg4096 import P
from verivote.interop.electionguard import proofs
from verivote.interop.electionguard.contest_data import decode_contest_data, open_contest_data
from verivote.interop.electionguard.proofs import KeyPowers
from verivote.interop.electionguard.record import (
    CAST,
    CHALLENGED,
    TALLY,
    Ballot,
    Ciphertext,
    Contest,
    Decrypted,
    DecryptedContest,
    EncryptedTally,
    HashedCiphertext,
    Manifest,
)
from verivote.verify.report import Check

DECRYPTION = "eg-decryption"
CHALLENGED_CHECK = "eg-challenged"


@dataclass(frozen=True)
class Public:
    """What every decryption is checked against: H_E, K and the manifest."""

    h_e: bytes
    key: KeyPowers
    manifest: Manifest


def _selection_reasons(
    public: Public,
    name: str,
    contest: DecryptedContest,
    encrypted: Mapping[str, Ciphertext] | None,
    m: Contest,
    ballots: int,
) -> list[str]:
    """Verification 9/12 (the proof), 10.A/13.A (T = K^t), 10.C–D/13.E–F (exactly the
    manifest's options), and 0 ≤ t ≤ `ballots`·R, Σt ≤ `ballots`·L: for a ballot (`ballots`
    = 1) that is 13.B and 13.C; for the tally it keeps t below q, where K^t could not tell t
    from t + q. `encrypted`: the ciphertexts the decryption must be of, by option (None: not
    known)."""
    reasons = []
    here = f"{name}: contest {contest.contest_id}"
    got = [s.selection_id for s in contest.selections]
    options = [o.selection_id for o in m.options]
    if sorted(got) != sorted(options):
        reasons.append(f"{here}: selections {sorted(got)} are not the manifest's {options}")
    total = 0
    for s in contest.selections:
        where = f"{here} selection {s.selection_id}"
        total += s.tally
        if encrypted is not None and encrypted.get(s.selection_id) != s.vote:
            reasons.append(f"{where}: the decrypted ciphertext is not the encrypted one")
        if s.tally > ballots * m.option_limit:
            reasons.append(
                f"{where}: {s.tally} votes, more than {ballots} ballot(s) can hold (13.B)"
            )
        if s.t_value != public.key.pow(s.tally):
            reasons.append(f"{where}: b_over_m is not K^t for t = {s.tally}")
        m_value = s.vote.data * gmpy2.invert(s.t_value, P) % P
        reason = proofs.decryption(public.h_e, public.key, s.vote, m_value, s.proof)
        if reason:
            reasons.append(f"{where}: {reason}")
    if total > ballots * m.votes_allowed:
        reasons.append(f"{here}: {total} votes, more than {ballots} ballot(s) can hold (13.C)")
    return reasons


def _contest_data_reasons(
    public: Public,
    name: str,
    contest: DecryptedContest,
    encrypted: HashedCiphertext | None,
    m: Contest,
) -> list[str]:
    """Verification 14 (β = C0^s), then C2 authenticates C0 ‖ C1 under the key β gives, and
    the plaintext is the published one (§3.6.4)."""
    here = f"{name}: contest {contest.contest_id} contest data"
    data = contest.contest_data
    if data is None:
        return [f"{here}: not decrypted"] if encrypted is not None else []
    if encrypted is not None and data.ciphertext != encrypted:
        return [f"{here}: the decrypted ciphertext is not the ballot's"]
    reason = proofs.contest_data_decryption(
        public.h_e, public.key, data.ciphertext, data.beta, data.proof
    )
    if reason:
        return [f"{here}: {reason} (Verification 14)"]
    plaintext = open_contest_data(
        public.h_e, public.key.value, data.ciphertext, data.beta, contest.contest_id, m.index
    )
    if plaintext is None:
        return [f"{here}: C2 does not authenticate it under β (it does not decrypt)"]
    if data.values is not None:
        values = decode_contest_data(plaintext)
        if values is None:
            return [f"{here}: the plaintext is not in a known layout"]
        if values != data.values:
            return [f"{here}: the published values are not the decrypted ones ({values})"]
    return []


def _structure(public: Public, name: str, decrypted: Decrypted, check: Check) -> None:
    if decrypted.election_id != public.h_e:
        check.fail(None, f"{name}: election_id is not this election's H_E")
    ids = [c.contest_id for c in decrypted.contests]
    for contest_id in sorted({i for i in ids if ids.count(i) > 1}):
        check.fail(None, f"{name}: contest {contest_id} appears twice")
    for contest in decrypted.contests:
        if public.manifest.contest(contest.contest_id) is None:
            check.fail(None, f"{name}: contest {contest.contest_id} is not in the manifest")


def check_decryption(
    public: Public | None,
    tally: Decrypted | str,
    invalid: list[str],
    encrypted_tally: EncryptedTally | None,
    cast: int,
) -> Check:
    """Verifications 9 and 10 on `tally.json`: every option of the manifest decrypted once
    (10.B–D), each from the encrypted tally's (A, B), T = K^t (10.A), with a valid proof (9),
    no more votes than the `cast` ballots hold; contest data, if any, as in Verification 11.
    `encrypted_tally` None: it cannot be read (then the ciphertexts are taken as published
    here)."""
    check = Check(DECRYPTION)
    if isinstance(tally, str):
        check.fail(None, tally)
        return check.close()
    for place in invalid:
        check.fail(None, f"{TALLY}: {place}: not in the order-q subgroup")
    if public is None:
        check.fail(None, "not checked: no usable joint key, H_E or manifest")
        return check.close()
    _structure(public, TALLY, tally, check)
    by_contest: dict[str, dict[str, Ciphertext]] | None = None
    if encrypted_tally is not None:
        by_contest = {}
        for c in encrypted_tally.contests:
            by_contest.setdefault(c.contest_id, {}).update(
                {s.selection_id: s.vote for s in c.selections}
            )
    found = {c.contest_id for c in tally.contests}
    for wanted in public.manifest.contests:
        if wanted.contest_id not in found:
            check.fail(None, f"{TALLY}: contest {wanted.contest_id} is not decrypted (10.D)")
    for contest in tally.contests:
        m = public.manifest.contest(contest.contest_id)
        if m is None:
            continue
        check.items += len(contest.selections)
        encrypted = None if by_contest is None else by_contest.get(contest.contest_id, {})
        for reason in _selection_reasons(public, TALLY, contest, encrypted, m, cast):
            check.fail(None, reason)
        for reason in _contest_data_reasons(public, TALLY, contest, None, m):
            check.fail(None, reason)
    return check.close()


DecryptedFile = tuple[str, Decrypted | str, list[str]]
"""(file name, its decryption or why it cannot be read, its elements outside the group)."""


def check_challenged(
    public: Public | None, files: Sequence[DecryptedFile], ballots: Sequence[Ballot]
) -> Check:
    """Verifications 12–14 on `challenged_ballots/`: exactly the CHALLENGED ballots are
    decrypted, once each, and no CAST ballot; each decryption is of its ballot's ciphertexts,
    with valid proofs (12), T = K^t (13.A), 0 ≤ t ≤ R (13.B), Σt ≤ L (13.C), exactly the
    ballot's contests and the manifest's options (13.D–F), and its contest data decrypted with
    a valid proof (14) to the published values."""
    check = Check(CHALLENGED_CHECK)
    by_id = {b.ballot_id: b for b in ballots}
    seen: set[str] = set()
    for name, decrypted, invalid in files:
        if isinstance(decrypted, str):
            check.fail(None, decrypted)
            continue
        check.items += 1
        for place in invalid:
            check.fail(None, f"{name}: {place}: not in the order-q subgroup")
        ballot = by_id.get(decrypted.decrypted_id)
        if decrypted.decrypted_id in seen:
            check.fail(None, f"{name}: ballot {decrypted.decrypted_id} is decrypted twice")
        seen.add(decrypted.decrypted_id)
        if ballot is None:
            check.fail(None, f"{name}: no encrypted ballot {decrypted.decrypted_id!r}")
            continue
        if ballot.state == CAST:
            check.fail(None, f"{name}: ballot {ballot.ballot_id} was CAST: it must stay secret")
        if public is None:
            continue
        _structure(public, name, decrypted, check)
        got = sorted(c.contest_id for c in decrypted.contests)
        want = sorted(c.contest_id for c in ballot.contests)
        if got != want:
            check.fail(None, f"{name}: contests {got} are not the ballot's {want}")
        encrypted = {c.contest_id: c for c in ballot.contests}
        for contest in decrypted.contests:
            m = public.manifest.contest(contest.contest_id)
            source = encrypted.get(contest.contest_id)
            if m is None or source is None:
                continue
            votes = {s.selection_id: s.vote for s in source.selections}
            reasons = _selection_reasons(public, name, contest, votes, m, 1)
            reasons += _contest_data_reasons(public, name, contest, source.contest_data, m)
            for reason in reasons:
                check.fail(None, reason)
    for ballot in ballots:
        if ballot.state == CHALLENGED and ballot.ballot_id not in seen:
            check.fail(None, f"challenged ballot {ballot.ballot_id} has no decryption")
    if public is None:
        check.fail(None, "proofs not checked: no usable joint key, H_E or manifest")
    return check.close()
