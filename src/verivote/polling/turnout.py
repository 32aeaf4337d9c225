"""Provable turnout (issue 19): the entries that commit the roll and publish the check-ins, the
authority's blinding of the roll and its unblinding of the guardians' answers, and the voter's
own check of their status. Pure functions: `verivote.election.turnout` runs them against the
database and the board.

Board entries (national log unless said otherwise; every hash input is the canonical JSON):

    {"type": "roll-size", "election": base hash, "size": N, "counts": {district: n}}
        published before the guardians evaluate anything: each guardian answers at most N
        evaluations for this election, so the roll cannot grow after this entry.
    {"type": "roll-commitment", "election": base hash, "root": hex, "size": N,
     "counts": {district: n}}
        the Merkle root (RFC 6962) of the sorted (district, pseudonym) leaves
        (`verivote.board.roll_commitment`), published before the polls open; the leaves are
        the record's file `roll.txt`, one per line.
    {"type": "checkins", "election": base hash, "station": S, "hour": h,
     "pseudonyms": [sorted hex]}                                           (district log)
        the pseudonyms of the voters checked in at S in hour h, sorted (never in check-in
        order), published after S closes (or for past hours while it is open).

A status code is 16 random bytes in base32 (26 characters, no padding), delivered with the
voter's notification; the database keeps H("status-code", election, national code, code).
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from verivote.board.merkle import leaf_hash
from verivote.board.roll_commitment import Commitment, leaf
from verivote.crypto.group import Group
from verivote.crypto.hashing import hash_items
from verivote.crypto.oprf import (
    BatchProof,
    OprfError,
    blind,
    combine,
    hash_to_group,
    unblind,
    verify_evaluation,
)
from verivote.model.canonical import canonical_json

ROLL_SIZE_TYPE = "roll-size"
COMMITMENT_TYPE = "roll-commitment"
CHECKINS_TYPE = "checkins"
BATCH = 256
"""Blinded elements per batch: one batch proof per guardian covers them; a voter's device
fetches its whole batch (256 × 32 bytes × (1 + guardians)) to check its own pseudonym."""


def roll_size_entry(base_hash: bytes, counts: Mapping[str, int]) -> bytes:
    return canonical_json(
        {
            "type": ROLL_SIZE_TYPE,
            "election": base_hash.hex(),
            "size": sum(counts.values()),
            "counts": dict(sorted(counts.items())),
        }
    )


def commitment_entry(base_hash: bytes, commitment: Commitment) -> bytes:
    return canonical_json(
        {"type": COMMITMENT_TYPE, "election": base_hash.hex(), **commitment.to_json()}
    )


def checkins_entries(
    base_hash: bytes, station: str, found: Sequence[tuple[int, str]]
) -> list[bytes]:
    """One `checkins` entry per hour of `found` ((hour, pseudonym) pairs), each sorted."""
    by_hour: dict[int, list[str]] = {}
    for hour, pseudonym in found:
        by_hour.setdefault(hour, []).append(pseudonym)
    return [
        canonical_json(
            {
                "type": CHECKINS_TYPE,
                "election": base_hash.hex(),
                "station": station,
                "hour": hour,
                "pseudonyms": sorted(by_hour[hour]),
            }
        )
        for hour in sorted(by_hour)
    ]


# --- blinding and unblinding (the authority) --------------------------------------------------


def blind_codes(
    group: Group[bytes], context: bytes, codes: Sequence[str]
) -> tuple[list[bytes], list[int]]:
    """The blinded elements H1(code)^r of `codes` and their factors r."""
    out = [blind(group, context, code) for code in codes]
    return [b for _, b in out], [r for r, _ in out]


@dataclass(frozen=True)
class Answer:
    """A guardian's answer to a batch: its evaluations and the batch proof."""

    evaluated: list[bytes]
    proof: BatchProof

    def to_json(self, group: Group[bytes]) -> dict[str, Any]:
        return {
            "evaluated": [group.encode(e).hex() for e in self.evaluated],
            "proof": {"challenge": hex(self.proof.challenge), "response": hex(self.proof.response)},
        }


def parse_answer(group: Group[bytes], doc: Any, size: int) -> Answer:
    """A guardian's answer as posted (JSON), every element decoded; OprfError if malformed."""
    try:
        evaluated = [group.decode(bytes.fromhex(e)) for e in doc["evaluated"]]
        proof = BatchProof(int(doc["proof"]["challenge"], 16), int(doc["proof"]["response"], 16))
    except (KeyError, TypeError, ValueError) as exc:
        raise OprfError(f"not an answer to a batch ({exc})") from None
    if len(evaluated) != size:
        raise OprfError(f"{len(evaluated)} evaluations for a batch of {size}")
    return Answer(evaluated, proof)


def evaluation_context(context: bytes, batch: int) -> list[bytes | int | str]:
    """What a batch's proof is bound to: the key's context and the batch's number."""
    return [context, batch]


def checked_answers(
    group: Group[bytes],
    context: bytes,
    batch: int,
    quorum: int,
    public_shares: Mapping[int, bytes],
    blinded: Sequence[bytes],
    answers: Mapping[int, Answer],
) -> dict[int, Answer]:
    """The answers to a batch, every proof checked against its guardian's public share;
    OprfError if a proof fails or fewer than `quorum` answered."""
    for g, answer in sorted(answers.items()):
        share = public_shares.get(g)
        if share is None or not verify_evaluation(
            group, share, blinded, answer.evaluated, answer.proof,
            evaluation_context(context, batch),
        ):  # fmt: skip
            raise OprfError(f"guardian {g}'s answer to batch {batch} does not prove its evaluation")
    if len(answers) < quorum:
        raise OprfError(
            f"batch {batch}: {len(answers)} guardian(s) answered, the quorum is {quorum}"
        )
    return dict(answers)


def pseudonym_at(
    group: Group[bytes], quorum: int, answers: Mapping[int, Answer], position: int, factor: int
) -> bytes:
    """The pseudonym of the batch's element at `position` from checked answers: a quorum's
    evaluations combined, then unblinded by the element's factor."""
    combined = combine(group, quorum, {g: a.evaluated[position] for g, a in answers.items()})
    return unblind(group, factor, combined)


def batch_pseudonyms(
    group: Group[bytes],
    context: bytes,
    batch: int,
    quorum: int,
    public_shares: Mapping[int, bytes],
    blinded: Sequence[bytes],
    answers: Mapping[int, Answer],
    factors: Sequence[int],
) -> list[bytes]:
    """The pseudonyms of a batch (`checked_answers`, then `pseudonym_at` for each element)."""
    good = checked_answers(group, context, batch, quorum, public_shares, blinded, answers)
    return [pseudonym_at(group, quorum, good, j, r) for j, r in enumerate(factors)]


# --- status codes -----------------------------------------------------------------------------


def new_status_code() -> str:
    """A fresh status code: 128 random bits in base32."""
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")


def status_code_hash(base_hash: bytes, national_code: str, status_code: str) -> str:
    """What the database keeps of a voter's status code (module docstring)."""
    code = status_code.strip().upper().replace("-", "").replace(" ", "")
    return hash_items("status-code", base_hash, national_code, code).hex()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# --- the voter's device: checking a status ----------------------------------------------------


class StatusError(ValueError):
    """A status that does not check: the server showed the voter something false."""


def check_pseudonym(
    group: Group[bytes],
    context: bytes,
    national_code: str,
    quorum: int,
    public_shares: Mapping[int, bytes],
    status: Mapping[str, Any],
) -> bytes:
    """The voter's pseudonym, recomputed by the voter's device from the status the server
    returned (its blinding factor, its batch and the guardians' answers) and checked; the
    device needs nothing but the voter's own code and the pseudonym key's public shares.
    StatusError if anything fails."""
    try:
        batch = int(status["batch"])
        position = int(status["position"])
        r = int(status["blind"], 16)
        blinded = [group.decode(bytes.fromhex(b)) for b in status["blinded"]]
        answers = {
            int(g): parse_answer(group, a, len(blinded)) for g, a in status["answers"].items()
        }
        claimed = bytes.fromhex(status["pseudonym"])
    except (KeyError, TypeError, ValueError) as exc:
        raise StatusError(f"the status cannot be read ({exc})") from None
    if not 0 <= position < len(blinded):
        raise StatusError("the voter's place is outside their batch")
    if not 0 < r < group.q or blinded[position] != group.pow(
        hash_to_group(group, context, national_code), r
    ):
        raise StatusError("the batch does not hold this voter's code blinded by the factor given")
    try:  # every proof covers the whole batch; only the voter's element is combined
        good = checked_answers(group, context, batch, quorum, public_shares, blinded, answers)
    except OprfError as exc:
        raise StatusError(str(exc)) from None
    pseudonym = group.encode(pseudonym_at(group, quorum, good, position, r))
    if pseudonym != claimed:
        raise StatusError("the pseudonym shown is not the one the guardians' answers give")
    return pseudonym


def roll_leaf_hash(district: str, pseudonym: str) -> bytes:
    """The Merkle leaf hash of one voter of the committed roll."""
    return leaf_hash(leaf(district, pseudonym))
