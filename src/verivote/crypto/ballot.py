"""An encrypted Majlis ballot: one ciphertext per candidate of the voter's district, each with a
0/1 proof, and a range proof that the district's contest holds at most S marks (fewer names
than seats is a valid ballot). DESIGN.md, "Cryptography"; issue 4, "Casting".

The ballot's wire form (its entry on the bulletin board) is a JSON object:

    {"type": "ballot", "election": base hash (hex), "station": id, "district": id,
     "selections": [{"candidate": code, "ciphertext": {...}, "proof": {...}}, ...],
     "contest": {"proof": {...}}}

with the selections in the district's candidate order of the manifest (the order printed on the
ballot is rotated per station, `ballot_order`, but the encryption order is fixed so that
tallies add position by position). The contest proof is about the product of the selection
ciphertexts, which a verifier recomputes. Proof contexts bind every proof to the election
(base hash), the district and the candidate.

A challenged ballot (Benaloh) reveals its choices and every selection nonce; `check_opened`
re-encrypts and compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from verivote.crypto import wire
from verivote.crypto.elgamal import Ciphertext, ElectionKey, add, encrypt
from verivote.crypto.group import InvalidElement
from verivote.crypto.hashing import Item, hash_items
from verivote.crypto.proofs import NonceSource, prove_range, verify_range
from verivote.model.manifest import Candidate, District, Manifest


class BallotError(ValueError):
    """A ballot that must be refused; the message says why."""


@dataclass(frozen=True)
class OpenedBallot:
    """What only the voter's device knows: the choices and the nonces of each selection."""

    choices: tuple[str, ...]
    nonces: tuple[int, ...]


def selection_context(base_hash: bytes, district: str, code: str) -> list[Item]:
    return [base_hash, "selection", district, code]


def contest_context(base_hash: bytes, district: str) -> list[Item]:
    return [base_hash, "contest", district]


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
    total = add(group, cts)
    contest_proof = prove_range(
        ek,
        total,
        len(chosen),
        sum(nonces) % group.q,
        district.seats,
        contest_context(base_hash, district.id),
        rand,
    )
    ballot = {
        "type": "ballot",
        "election": base_hash.hex(),
        "station": station_id,
        "district": district.id,
        "selections": selections,
        "contest": {"proof": wire.range_proof_to_json(group, contest_proof)},
    }
    return ballot, OpenedBallot(tuple(c for c in codes if c in chosen), tuple(nonces))


def check_ballot(
    manifest: Manifest, ek: ElectionKey[Any], base_hash: bytes, ballot: dict[str, Any]
) -> list[Ciphertext[Any]]:
    """Validate a ballot's wire form completely; returns its selection ciphertexts.

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
        contest = wire.range_proof_from_json(group, ballot["contest"]["proof"])
        if contest.limit != district.seats or not verify_range(
            ek, add(group, cts), contest, contest_context(base_hash, district.id)
        ):
            raise BallotError("the contest proof (at most S names) does not verify")
        return cts
    except BallotError:
        raise
    except InvalidElement as exc:
        raise BallotError(f"a ciphertext is not a group element ({exc})") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise BallotError(f"the ballot is malformed ({exc})") from None


def check_opened(
    ek: ElectionKey[Any], ballot: dict[str, Any], choices: Sequence[str], nonces: Sequence[int]
) -> bool:
    """A challenged ballot: do the revealed choices and nonces re-encrypt to its ciphertexts?"""
    group = ek.group
    selections = ballot["selections"]
    if len(nonces) != len(selections):
        return False
    chosen = set(choices)
    for s, r in zip(selections, nonces, strict=True):
        m = 1 if s["candidate"] in chosen else 0
        if encrypt(ek, m, r) != wire.ciphertext_from_json(group, s["ciphertext"]):
            return False
    return True
