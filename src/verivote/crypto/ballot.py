"""An encrypted Majlis ballot: one ciphertext per candidate of the voter's district, each with a
0/1 proof, an encrypted blank flag, and range proofs that the contest holds at most S marks
(fewer names than seats is a valid ballot) and that the flag is set exactly when it holds none.
DESIGN.md, "Cryptography"; issue 4, "Casting"; issue 5 (void ballots are counted apart).

The ballot's wire form (its entry on the bulletin board) is a JSON object:

    {"type": "ballot", "election": base hash (hex), "station": id, "district": id,
     "selections": [{"candidate": code, "ciphertext": {...}, "proof": {...}}, ...],
     "blank": {"ciphertext": {...}, "proof": {...}},
     "contest": {"at_most": {...}, "at_least": {...}}}

with the selections in the district's candidate order of the manifest (the order printed on the
ballot is rotated per station, `ballot_order`, but the encryption order is fixed so that
tallies add position by position). With M the product of the selection ciphertexts (the number
of marks) and B the blank flag, both 0/1-proved:

- `at_most` proves that M·B^S holds a value in 0..S: marks + S·blank ≤ S, so a blank ballot
  has no mark and any ballot has at most S;
- `at_least` proves that M·B / K holds a value in 0..S−1: marks + blank ≥ 1, so a ballot
  without marks is flagged blank.

Hence blank = 1 exactly when marks = 0, and the tally of the flags is the number of void
(blank) ballots, which the Majlis threshold needs (20 % of the *valid* ballots), without
decrypting any single ballot. Proof contexts bind every proof to the election (base hash),
the district and the candidate; the verifier recomputes M, M·B^S and M·B / K.

A challenged ballot (Benaloh) reveals its choices and every selection nonce; `check_opened`
re-encrypts and compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from verivote.crypto import wire
from verivote.crypto.elgamal import Ciphertext, ElectionKey, add, encrypt, scale, shift
from verivote.crypto.group import InvalidElement
from verivote.crypto.hashing import Item, hash_items
from verivote.crypto.proofs import NonceSource, prove_range, verify_range
from verivote.model.manifest import Candidate, District, Manifest


class BallotError(ValueError):
    """A ballot that must be refused; the message says why."""


@dataclass(frozen=True)
class OpenedBallot:
    """What only the voter's device knows: the choices, and the nonce of each selection
    followed by the blank flag's."""

    choices: tuple[str, ...]
    nonces: tuple[int, ...]


def selection_context(base_hash: bytes, district: str, code: str) -> list[Item]:
    return [base_hash, "selection", district, code]


def contest_context(base_hash: bytes, district: str, bound: str) -> list[Item]:
    return [base_hash, "contest", district, bound]


def blank_context(base_hash: bytes, district: str) -> list[Item]:
    return [base_hash, "blank", district]


def ballot_order(base_hash: bytes, district: District, station_id: str) -> list[Candidate]:
    """The candidates in the order printed at `station_id`: the manifest order rotated by an
    offset derived from the base hash and the station, so no faction always stands first."""
    n = len(district.candidates)
    offset = int.from_bytes(hash_items("ballot-order", base_hash, station_id), "big") % n
    return district.candidates[offset:] + district.candidates[:offset]


def encrypt_ballot(
    manifest: Manifest,
    ek: ElectionKey[Any],
    base_hash: bytes,
    station_id: str,
    choices: Sequence[str],
    nonce: NonceSource | None = None,
) -> tuple[dict[str, Any], OpenedBallot]:
    """Encrypt the candidate codes `choices` for the voter's district (that of the station).

    `choices` must be distinct codes of the district's candidates, at most as many as seats:
    normalising what a voter wrote (names, strangers, repeats) is the polling station's job.
    """
    try:
        district = manifest.district(manifest.station(station_id).district)
    except KeyError:
        raise BallotError(f"station {station_id!r} is not in the manifest") from None
    codes = [c.code for c in district.candidates]
    chosen = set(choices)
    if len(chosen) != len(choices):
        raise BallotError("a candidate is chosen twice")
    unknown = chosen - set(codes)
    if unknown:
        raise BallotError(f"code {sorted(unknown)[0]} is not a candidate of district {district.id}")
    if len(chosen) > district.seats:
        raise BallotError(f"{len(chosen)} names for {district.seats} seats")
    group = ek.group
    rand = nonce or group.random_scalar
    selections = []
    cts: list[Ciphertext[Any]] = []
    nonces: list[int] = []
    for code in codes:
        m = 1 if code in chosen else 0
        r = rand()
        ct = encrypt(ek, m, r)
        proof = prove_range(ek, ct, m, r, 1, selection_context(base_hash, district.id, code), rand)
        selections.append(
            {
                "candidate": code,
                "ciphertext": wire.ciphertext_to_json(group, ct),
                "proof": wire.range_proof_to_json(group, proof),
            }
        )
        cts.append(ct)
        nonces.append(r)
    marks = len(chosen)
    blank = 1 if marks == 0 else 0
    r_blank = rand()
    blank_ct = encrypt(ek, blank, r_blank)
    blank_proof = prove_range(
        ek, blank_ct, blank, r_blank, 1, blank_context(base_hash, district.id), rand
    )
    total = add(group, cts)
    r_total = sum(nonces)
    seats = district.seats
    at_most = prove_range(
        ek,
        add(group, [total, scale(group, blank_ct, seats)]),
        marks + seats * blank,
        (r_total + seats * r_blank) % group.q,
        seats,
        contest_context(base_hash, district.id, "at-most"),
        rand,
    )
    at_least = prove_range(
        ek,
        shift(ek, add(group, [total, blank_ct]), 1),
        marks + blank - 1,
        (r_total + r_blank) % group.q,
        seats - 1,
        contest_context(base_hash, district.id, "at-least"),
        rand,
    )
    ballot = {
        "type": "ballot",
        "election": base_hash.hex(),
        "station": station_id,
        "district": district.id,
        "selections": selections,
        "blank": {
            "ciphertext": wire.ciphertext_to_json(group, blank_ct),
            "proof": wire.range_proof_to_json(group, blank_proof),
        },
        "contest": {
            "at_most": wire.range_proof_to_json(group, at_most),
            "at_least": wire.range_proof_to_json(group, at_least),
        },
    }
    return ballot, OpenedBallot(tuple(c for c in codes if c in chosen), (*nonces, r_blank))


def check_ballot(
    manifest: Manifest, ek: ElectionKey[Any], base_hash: bytes, ballot: dict[str, Any]
) -> list[Ciphertext[Any]]:
    """Validate a ballot's wire form completely; returns its selection ciphertexts in the
    district's candidate order, followed by the blank flag's.

    Raises BallotError naming the first problem: another election's hash, a station or
    district that is unknown or do not belong together, the wrong candidates, an element
    that is not in the group, or a proof that does not verify.
    """
    group = ek.group
    try:
        if ballot.get("type") != "ballot":
            raise BallotError("not a ballot")
        if ballot.get("election") != base_hash.hex():
            raise BallotError("the ballot is for another election (wrong election hash)")
        station_id = ballot["station"]
        try:
            station = manifest.station(station_id)
        except KeyError:
            raise BallotError(f"station {station_id!r} is not in the manifest") from None
        if ballot["district"] != station.district:
            raise BallotError(
                f"district {ballot['district']!r} is not the district of station {station_id}"
            )
        district = manifest.district(station.district)
        codes = [c.code for c in district.candidates]
        selections = ballot["selections"]
        if [s["candidate"] for s in selections] != codes:
            raise BallotError("the selections are not the district's candidates in order")
        cts = []
        for s in selections:
            ct = wire.ciphertext_from_json(group, s["ciphertext"])
            proof = wire.range_proof_from_json(group, s["proof"])
            if proof.limit != 1 or not verify_range(
                ek, ct, proof, selection_context(base_hash, district.id, s["candidate"])
            ):
                raise BallotError(f"the proof of candidate {s['candidate']} does not verify")
            cts.append(ct)
        blank_ct = wire.ciphertext_from_json(group, ballot["blank"]["ciphertext"])
        blank_proof = wire.range_proof_from_json(group, ballot["blank"]["proof"])
        if blank_proof.limit != 1 or not verify_range(
            ek, blank_ct, blank_proof, blank_context(base_hash, district.id)
        ):
            raise BallotError("the proof of the blank flag does not verify")
        total = add(group, cts)
        seats = district.seats
        at_most = wire.range_proof_from_json(group, ballot["contest"]["at_most"])
        if at_most.limit != seats or not verify_range(
            ek,
            add(group, [total, scale(group, blank_ct, seats)]),
            at_most,
            contest_context(base_hash, district.id, "at-most"),
        ):
            raise BallotError("the contest proof (at most S names) does not verify")
        at_least = wire.range_proof_from_json(group, ballot["contest"]["at_least"])
        if at_least.limit != seats - 1 or not verify_range(
            ek,
            shift(ek, add(group, [total, blank_ct]), 1),
            at_least,
            contest_context(base_hash, district.id, "at-least"),
        ):
            raise BallotError("the blank-flag proof (blank exactly when no mark) does not verify")
        cts.append(blank_ct)
        return cts
    except BallotError:
        raise
    except InvalidElement as exc:
        raise BallotError(f"a ciphertext is not a group element ({exc})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # AttributeError: a part that should be an object is a string or a number.
        raise BallotError(f"the ballot is malformed ({exc})") from None


def check_opened(
    ek: ElectionKey[Any], ballot: dict[str, Any], choices: Sequence[str], nonces: Sequence[int]
) -> bool:
    """A challenged ballot: do the revealed choices and nonces re-encrypt to its ciphertexts?"""
    group = ek.group
    selections = ballot["selections"]
    if len(nonces) != len(selections) + 1:
        return False
    chosen = set(choices)
    for s, r in zip(selections, nonces, strict=False):
        m = 1 if s["candidate"] in chosen else 0
        if encrypt(ek, m, r) != wire.ciphertext_from_json(group, s["ciphertext"]):
            return False
    blank = 0 if chosen else 1
    return bool(
        encrypt(ek, blank, nonces[-1])
        == wire.ciphertext_from_json(group, ballot["blank"]["ciphertext"])
    )
