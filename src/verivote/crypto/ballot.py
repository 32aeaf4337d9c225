"""An encrypted Majlis ballot: one ciphertext per candidate of the voter's district, each with a
0/1 proof, an encrypted blank flag, and range proofs that the contest holds at most S marks
(fewer names than seats is a valid ballot) and that the flag is set exactly when it holds none.
DESIGN.md, "Cryptography"; issue 4, "Casting"; issue 5 (void ballots are counted apart);
issue 14, item 5 (ballots bound to where they were cast).

The ballot's wire form (its entry on the bulletin board) is a JSON object with exactly these
keys:

    {"type": "ballot", "election": base hash (hex), "station": id, "district": id,
     "nonce": 64 lowercase hex digits (32 random bytes the device draws),
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
decrypting any single ballot. Every proof context hashes the election (base hash), the
district, the station and the ballot's nonce, then what the proof is about (the candidate, the
blank flag, the contest bound): a ballot copied under another station, or re-labelled with
another nonce, no longer verifies, and a nonce (hence a ballot) can be on the board only once.
The verifier recomputes M, M·B^S and M·B / K.

A challenged ballot (Benaloh) reveals its choices and every selection nonce; `check_opened`
re-encrypts and compares.
"""

from __future__ import annotations

import re
import secrets
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


BALLOT_KEYS = frozenset(
    {"type", "election", "station", "district", "nonce", "selections", "blank", "contest"}
)
_SELECTION_KEYS = frozenset({"candidate", "ciphertext", "proof"})
_BLANK_KEYS = frozenset({"ciphertext", "proof"})
_CONTEST_KEYS = frozenset({"at_most", "at_least"})
_CIPHERTEXT_KEYS = frozenset({"alpha", "beta"})
_PROOF_KEYS = frozenset({"challenges", "responses"})
_NONCE = re.compile(r"[0-9a-f]{64}")


def _is_object(doc: object, least: frozenset[str], most: frozenset[str] | None = None) -> bool:
    return isinstance(doc, dict) and least <= set(doc) <= (most or least)


def new_nonce() -> str:
    """A ballot's nonce: 32 random bytes from the operating system, as 64 lowercase hex."""
    return secrets.token_hex(32)


def is_nonce(value: object) -> bool:
    """Exactly 64 lowercase hex digits (the only form a ballot's nonce may take)."""
    return isinstance(value, str) and _NONCE.fullmatch(value) is not None


def ballot_context(base_hash: bytes, district: str, station: str, nonce: str) -> list[Item]:
    """What every proof of one ballot hashes first: election, district, station and nonce."""
    return [base_hash, district, station, bytes.fromhex(nonce)]


def selection_context(binding: list[Item], code: str) -> list[Item]:
    return [*binding, "selection", code]


def contest_context(binding: list[Item], bound: str) -> list[Item]:
    return [*binding, "contest", bound]


def blank_context(binding: list[Item]) -> list[Item]:
    return [*binding, "blank"]


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
    rand: NonceSource | None = None,
    nonce: str | None = None,
) -> tuple[dict[str, Any], OpenedBallot]:
    """Encrypt the candidate codes `choices` for the voter's district (that of the station).

    `choices` must be distinct codes of the district's candidates, at most as many as seats:
    normalising what a voter wrote (names, strangers, repeats) is the polling station's job.
    `rand` draws the encryption and proof randomness (default: the group's); `nonce` is the
    ballot's nonce (default: 32 fresh random bytes; tests may fix it).
    """
    try:
        district = manifest.district(manifest.station(station_id).district)
    except KeyError:
        raise BallotError(f"station {station_id!r} is not in the manifest") from None
    if district.counted_by != "homomorphic":
        raise BallotError(
            f"district {district.id} is counted by mixnet: its ballots are written "
            "(encrypt_for_station in verivote.crypto.written), they do not mark candidates"
        )
    codes = [c.code for c in district.candidates]
    chosen = set(choices)
    if len(chosen) != len(choices):
        raise BallotError("a candidate is chosen twice")
    unknown = chosen - set(codes)
    if unknown:
        raise BallotError(f"code {sorted(unknown)[0]} is not a candidate of district {district.id}")
    if len(chosen) > district.seats:
        raise BallotError(f"{len(chosen)} names for {district.seats} seats")
    if nonce is None:
        nonce = new_nonce()
    elif not is_nonce(nonce):
        raise BallotError("a ballot's nonce is 64 lowercase hex digits")
    binding = ballot_context(base_hash, district.id, station_id, nonce)
    group = ek.group
    rand = rand or group.random_scalar
    selections = []
    cts: list[Ciphertext[Any]] = []
    nonces: list[int] = []
    for code in codes:
        m = 1 if code in chosen else 0
        r = rand()
        ct = encrypt(ek, m, r)
        proof = prove_range(ek, ct, m, r, 1, selection_context(binding, code), rand)
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
    blank_proof = prove_range(ek, blank_ct, blank, r_blank, 1, blank_context(binding), rand)
    total = add(group, cts)
    r_total = sum(nonces)
    seats = district.seats
    at_most = prove_range(
        ek,
        add(group, [total, scale(group, blank_ct, seats)]),
        marks + seats * blank,
        (r_total + seats * r_blank) % group.q,
        seats,
        contest_context(binding, "at-most"),
        rand,
    )
    at_least = prove_range(
        ek,
        shift(ek, add(group, [total, blank_ct]), 1),
        marks + blank - 1,
        (r_total + r_blank) % group.q,
        seats - 1,
        contest_context(binding, "at-least"),
        rand,
    )
    ballot = {
        "type": "ballot",
        "election": base_hash.hex(),
        "station": station_id,
        "district": district.id,
        "nonce": nonce,
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


def ballot_binding(
    manifest: Manifest, base_hash: bytes, ballot: Any
) -> tuple[District, list[Item]]:
    """Check a ballot's shape and where it belongs, proofs aside: exactly the ballot's keys,
    this election, a station of the manifest and its district, a well-formed nonce, the
    district's candidates in order, the blank flag and contest parts as objects. Returns the
    district and the context that every proof of the ballot hashes first (`ballot_context`).
    Raises BallotError naming the first problem."""
    try:
        if not isinstance(ballot, dict) or ballot.get("type") != "ballot":
            raise BallotError("not a ballot")
        if set(ballot) != BALLOT_KEYS:
            raise BallotError("the ballot's keys are not exactly " + ", ".join(sorted(BALLOT_KEYS)))
        if ballot["election"] != base_hash.hex():
            raise BallotError("the ballot is for another election (wrong election hash)")
        station_id = ballot["station"]
        if not isinstance(station_id, str):
            raise BallotError("the ballot's station is not a string")
        try:
            station = manifest.station(station_id)
        except KeyError:
            raise BallotError(f"station {station_id!r} is not in the manifest") from None
        if ballot["district"] != station.district:
            raise BallotError(
                f"district {ballot['district']!r} is not the district of station {station_id}"
            )
        if not is_nonce(ballot["nonce"]):
            raise BallotError("the ballot's nonce is not 64 lowercase hex digits")
        district = manifest.district(station.district)
        if district.counted_by != "homomorphic":
            raise BallotError(
                f"district {district.id} is counted by mixnet: its ballots are written "
                "(verivote.crypto.written), they do not mark candidates"
            )
        selections = ballot["selections"]
        if not isinstance(selections, list) or not all(
            isinstance(s, dict) and set(s) == _SELECTION_KEYS for s in selections
        ):
            raise BallotError("the selections are not objects of candidate, ciphertext, proof")
        if [s["candidate"] for s in selections] != [c.code for c in district.candidates]:
            raise BallotError("the selections are not the district's candidates in order")
        blank, contest = ballot["blank"], ballot["contest"]
        if not isinstance(blank, dict) or set(blank) != _BLANK_KEYS:
            raise BallotError("the blank flag is not an object of ciphertext and proof")
        if not isinstance(contest, dict) or set(contest) != _CONTEST_KEYS:
            raise BallotError("the contest proofs are not an object of at_most and at_least")
        parts = [*selections, blank]
        if not all(_is_object(p["ciphertext"], _CIPHERTEXT_KEYS) for p in parts):
            raise BallotError("a ciphertext is not an object of alpha and beta")
        proofs = [p["proof"] for p in parts] + [contest["at_most"], contest["at_least"]]
        if not all(_is_object(p, _PROOF_KEYS, _PROOF_KEYS | {"commitments"}) for p in proofs):
            raise BallotError("a proof is not an object of challenges, responses[, commitments]")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, BallotError):
            raise
        raise BallotError(f"the ballot is malformed ({exc!r})") from None
    return district, ballot_context(base_hash, district.id, station_id, ballot["nonce"])


def check_ballot(
    manifest: Manifest, ek: ElectionKey[Any], base_hash: bytes, ballot: dict[str, Any]
) -> list[Ciphertext[Any]]:
    """Validate a ballot's wire form completely; returns its selection ciphertexts in the
    district's candidate order, followed by the blank flag's.

    Raises BallotError naming the first problem: a shape or place that `ballot_binding`
    refuses, an element that is not in the group, or a proof that does not verify (under
    this election, district, station and nonce).
    """
    group = ek.group
    district, binding = ballot_binding(manifest, base_hash, ballot)
    selections = ballot["selections"]
    try:
        cts = []
        for s in selections:
            ct = wire.ciphertext_from_json(group, s["ciphertext"])
            proof = wire.range_proof_from_json(group, s["proof"])
            if proof.limit != 1 or not verify_range(
                ek, ct, proof, selection_context(binding, s["candidate"])
            ):
                raise BallotError(f"the proof of candidate {s['candidate']} does not verify")
            cts.append(ct)
        blank_ct = wire.ciphertext_from_json(group, ballot["blank"]["ciphertext"])
        blank_proof = wire.range_proof_from_json(group, ballot["blank"]["proof"])
        if blank_proof.limit != 1 or not verify_range(
            ek, blank_ct, blank_proof, blank_context(binding)
        ):
            raise BallotError("the proof of the blank flag does not verify")
        total = add(group, cts)
        seats = district.seats
        at_most = wire.range_proof_from_json(group, ballot["contest"]["at_most"])
        if at_most.limit != seats or not verify_range(
            ek,
            add(group, [total, scale(group, blank_ct, seats)]),
            at_most,
            contest_context(binding, "at-most"),
        ):
            raise BallotError("the contest proof (at most S names) does not verify")
        at_least = wire.range_proof_from_json(group, ballot["contest"]["at_least"])
        if at_least.limit != seats - 1 or not verify_range(
            ek,
            shift(ek, add(group, [total, blank_ct]), 1),
            at_least,
            contest_context(binding, "at-least"),
        ):
            raise BallotError("the blank-flag proof (blank exactly when no mark) does not verify")
        cts.append(blank_ct)
        return cts
    except BallotError:
        raise
    except InvalidElement as exc:
        raise BallotError(f"a ciphertext is not a group element ({exc})") from None
    except (
        KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError,
        ZeroDivisionError,
    ) as exc:  # fmt: skip
        # AttributeError: a part that should be an object is a string or a number.
        raise BallotError(f"the ballot is malformed ({exc!r})") from None


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


def opening_to_json(group: Any, opened: OpenedBallot) -> dict[str, Any]:
    """The opening as a challenged ballot's entry publishes it: choices and nonces (hex)."""
    return {
        "choices": list(opened.choices),
        "nonces": [group.encode_scalar(r).hex() for r in opened.nonces],
    }


def revealed_nonces(group: Any, nonces: Any) -> list[int] | str:
    """The scalars of a published opening's `nonces` (a list of hex scalars), or why not."""
    if not isinstance(nonces, list):
        return "the revealed nonces are not a list"
    try:
        return [group.decode_scalar(bytes.fromhex(n)) for n in nonces]
    except (TypeError, ValueError):
        return "a revealed nonce is not a scalar"


def opening_problem(
    manifest: Manifest, key: ElectionKey[Any], ballot: dict[str, Any], choices: Any, nonces: Any
) -> str | None:
    """Why the published opening (`choices`, a list of candidate codes, and `nonces`, a list
    of hex scalars) does not open the checked `ballot`, or None. Shared by `challenge`, which
    refuses such an opening, and the verifier, which rejects it."""
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        return "the revealed choices are not a list of candidate codes"
    district = manifest.district(ballot["district"])
    codes = {c.code for c in district.candidates}
    if len(set(choices)) != len(choices) or not set(choices) <= codes:
        return "the revealed choices are not distinct candidates of the ballot's district"
    if len(choices) > district.seats:
        return f"{len(choices)} revealed choices for {district.seats} seats"
    values = revealed_nonces(key.group, nonces)
    if isinstance(values, str):
        return values
    if not check_opened(key, ballot, choices, values):
        return "the revealed choices and nonces do not re-encrypt to the ballot"
    return None
