"""A written ballot: the candidate codes a voter wrote, as written, encrypted in a few group
elements, with one proof of knowledge bound to the ballot's full context (issue 16, item 1,
"Written ballots"; DESIGN.md, "Cryptography": contests with many candidates).

A district counted by `mixnet` (`verivote.model.manifest.District.counted_by`) takes this
ballot instead of `verivote.crypto.ballot`'s one-ciphertext-per-candidate ballot. The voter's
list of codes, in order, repeats and codes of no candidate included (the law deals with those
after decryption, `verivote.rules.majlis.tally_majlis`), is packed by
`verivote.crypto.encoding.encode_codes` into exactly w = `written_width(group, district)`
elements m₁ … m_w, w = `elements_needed(group, seats, longest candidate code of the district)`,
and each is encrypted as a plain ElGamal ciphertext of an element under the election key K:

    (αₖ, βₖ) = (g^rₖ, mₖ·K^rₖ)          rₖ random, k = 1 … w

An honest station device encrypts the canonical form of what the voter wrote
(`encrypt_for_station`, `canonical_written`: the distinct candidate codes, in increasing
order), the same ballot for the count without order, repeats or strangers to mark it with
(README, "Secrecy on the written-ballot path"); the ballot format and the count take any
list of codes.

The ballot's wire form (the "ballot" of a "ballot-cast" board entry) has exactly these keys:

    {"type": "ballot", "election": base hash (hex), "station": id, "district": id,
     "nonce": 64 lowercase hex digits (32 random bytes the device draws),
     "written": {"ciphertexts": [{"alpha": hex, "beta": hex} × w],
                 "proof": {"challenge": hex scalar, "responses": [hex scalar × w]}}}

**The proof** is a Schnorr proof of knowledge of every rₖ (αₖ = g^rₖ), all under one
challenge over the full statement (Fiat–Shamir over everything, DESIGN.md, "Hashing"). The
prover draws uₖ and commits aₖ = g^uₖ; the challenge is

    c = challenge(q, "written",
                  ballot_context = [base hash (32 bytes), district id (str), station id (str),
                                    nonce (32 bytes)],
                  group name (str),
                  enc(K) (bytes),
                  [[enc(α₁), enc(β₁)], …, [enc(α_w), enc(β_w)]] (a sequence of pairs of bytes),
                  [enc(a₁), …, enc(a_w)] (a sequence of bytes))

with `verivote.crypto.hashing.challenge` (tag "verivote/1/written", SHA-512 of the
length-prefixed items, reduced mod q) and enc = `Group.encode`; the responses are
vₖ = uₖ − c·rₖ mod q. The verifier recomputes aₖ = g^vₖ·αₖ^c and the challenge.

What it prevents: a ballot **copied** to another station, district or election, or given
another **nonce**, changes the context, so the challenge no longer matches. A ballot
**re-randomised** ((αₖ·g^s, βₖ·K^s)) or **mauled** (βₖ multiplied by anything, or αₖ) changes the
hashed ciphertexts, and a new proof for it needs the new αₖ's discrete log, i.e. knowledge of the
encryption randomness: whoever can make the proof could have encrypted the ballot afresh, so
the ballot's plaintext is independent of every other ballot's (the property a mix needs: no
ballot can be made to decrypt to a function of someone else's). Two **swapped** columns (the
ciphertexts in another order) change the hashed sequence too. The nonce can be on the board
once only (`verivote.election.service`), so a ballot cannot be replayed.

A challenged ballot (Benaloh) is opened with the codes as written and the w nonces rₖ;
`check_written_opened` re-encodes and re-encrypts and compares.

**Cost** (Tehran's shape, 30 codes of 4 digits out of 3,545, 2 elements; ristretto255, one
core of the 2-core development machine, `tests/test_written.py::test_tehran_ballot_costs`):
766 bytes of JSON, 0.22 ms to encrypt, 0.15 ms to check, against the homomorphic path's
2.78 MB, 0.9 s and 1.6 s (issue 16): 3,600× smaller, 10,000× faster to check. Encrypting is
w fixed-base exponentiations in g and w in K for the ciphertexts plus w in g for the
commitments; checking is w fixed-base ones in g and w variable-base ones (αₖ^c), plus the
2w element decodings. A ballot of up to ~17 four-digit codes is 1 element: 0.08 ms to check.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

from verivote.crypto import wire
from verivote.crypto.ballot import (
    BallotError,
    OpenedBallot,
    ballot_context,
    check_ballot,
    encrypt_ballot,
    is_nonce,
    new_nonce,
    opening_problem,
    revealed_nonces,
)
from verivote.crypto.elgamal import Ciphertext, ElectionKey, encrypt_element
from verivote.crypto.encoding import BallotTooLong, elements_needed, encode_codes
from verivote.crypto.group import Group, InvalidElement
from verivote.crypto.groups import get_group
from verivote.crypto.hashing import Item, challenge
from verivote.crypto.proofs import NonceSource
from verivote.model.manifest import District, Manifest

WRITTEN_BALLOT_KEYS = frozenset({"type", "election", "station", "district", "nonce", "written"})
_WRITTEN_KEYS = frozenset({"ciphertexts", "proof"})
_CIPHERTEXT_KEYS = frozenset({"alpha", "beta"})
_PROOF_KEYS = frozenset({"challenge", "responses"})
_CODE = re.compile(r"[0-9]{1,8}")


def written_width(group: Group[Any], district: District) -> int:
    """w: the elements of every written ballot of `district`, enough for `seats` codes as long
    as its longest candidate code (`verivote.crypto.encoding.elements_needed`)."""
    return _width(group.name, district.seats, district.longest_code)


@cache
def _width(group_name: str, seats: int, digits: int) -> int:
    return elements_needed(get_group(group_name), seats, digits)


def _station_district(manifest: Manifest, station_id: object) -> District:
    if not isinstance(station_id, str):
        raise BallotError("the ballot's station is not a string")
    try:
        return manifest.district(manifest.station(station_id).district)
    except KeyError:
        raise BallotError(f"station {station_id!r} is not in the manifest") from None


def written_challenge(
    ek: ElectionKey[Any],
    context: Sequence[Item],
    cts: Sequence[Ciphertext[Any]],
    commitments: Sequence[Any],
) -> int:
    """The proof's challenge c over the full statement (module docstring)."""
    g = ek.group
    enc = g.encode
    return challenge(
        g.q,
        "written",
        context,
        g.name,
        ek.encoded(),
        [[enc(ct.alpha), enc(ct.beta)] for ct in cts],
        [enc(a) for a in commitments],
    )


def encrypt_written(
    manifest: Manifest,
    ek: ElectionKey[Any],
    base_hash: bytes,
    station_id: str,
    codes: Sequence[str],
    rand: NonceSource | None = None,
    nonce: str | None = None,
) -> tuple[dict[str, Any], OpenedBallot]:
    """Encrypt the codes a voter wrote, as written, for the district of `station_id`.

    Repeats and codes of no candidate are encrypted as they are (the law handles them after
    decryption). Refused (BallotError): an unknown station, a district not counted by mixnet,
    more codes than seats (a ballot has one line per seat), a code that is not 1–8 digits, or
    codes too long for the district's width. `rand` draws r₁ … r_w, then u₁ … u_w (default:
    the group's CSPRNG); `nonce` is the ballot's nonce (default: 32 fresh random bytes).
    """
    district = _station_district(manifest, station_id)
    if district.counted_by != "mixnet":
        raise BallotError(
            f"district {district.id} is counted homomorphically: its ballots mark candidates "
            "(verivote.crypto.ballot), they are not written"
        )
    if isinstance(codes, str):
        raise BallotError("a written ballot is a list of codes, not one string")
    codes = list(codes)
    if len(codes) > district.seats:
        raise BallotError(
            f"{len(codes)} codes written for {district.seats} seats: a ballot of district "
            f"{district.id} has {district.seats} lines"
        )
    group = ek.group
    width = written_width(group, district)
    try:
        elements = encode_codes(group, codes, width)
    except BallotTooLong as exc:
        raise BallotError(f"the ballot does not fit: {exc}") from None
    except ValueError as exc:
        raise BallotError(str(exc)) from None
    if nonce is None:
        nonce = new_nonce()
    elif not is_nonce(nonce):
        raise BallotError("a ballot's nonce is 64 lowercase hex digits")
    rand = rand or group.random_scalar
    rs = [rand() for _ in range(width)]
    cts = [encrypt_element(ek, m, r) for m, r in zip(elements, rs, strict=True)]
    us = [rand() for _ in range(width)]
    commitments = [group.pow_g(u) for u in us]
    context = ballot_context(base_hash, district.id, station_id, nonce)
    c = written_challenge(ek, context, cts, commitments)
    q = group.q
    ballot = {
        "type": "ballot",
        "election": base_hash.hex(),
        "station": station_id,
        "district": district.id,
        "nonce": nonce,
        "written": {
            "ciphertexts": [wire.ciphertext_to_json(group, ct) for ct in cts],
            "proof": {
                "challenge": wire.scalar_hex(group, c),
                "responses": [
                    wire.scalar_hex(group, (u - c * r) % q) for u, r in zip(us, rs, strict=True)
                ],
            },
        },
    }
    return ballot, OpenedBallot(tuple(codes), tuple(rs))


def _is_object(doc: object, keys: frozenset[str]) -> bool:
    return isinstance(doc, dict) and set(doc) == keys


def written_binding(
    manifest: Manifest, group: Group[Any], base_hash: bytes, ballot: Any
) -> tuple[District, list[Item], int]:
    """Check a written ballot's shape and place, proof aside: exactly its keys, this election,
    a station of the manifest and its district, counted by mixnet, a well-formed nonce, w
    ciphertext objects and w responses. Returns the district, the proof's context
    (`ballot_context`) and w. Raises BallotError naming the first problem."""
    if not isinstance(ballot, dict) or ballot.get("type") != "ballot":
        raise BallotError("not a ballot")
    if set(ballot) != WRITTEN_BALLOT_KEYS:
        raise BallotError(
            "the written ballot's keys are not exactly " + ", ".join(sorted(WRITTEN_BALLOT_KEYS))
        )
    if ballot["election"] != base_hash.hex():
        raise BallotError("the ballot is for another election (wrong election hash)")
    station_id = ballot["station"]
    district = _station_district(manifest, station_id)
    if ballot["district"] != district.id:
        raise BallotError(
            f"district {ballot['district']!r} is not the district of station {station_id}"
        )
    if district.counted_by != "mixnet":
        raise BallotError(f"district {district.id} is not counted by mixnet: no written ballots")
    if not is_nonce(ballot["nonce"]):
        raise BallotError("the ballot's nonce is not 64 lowercase hex digits")
    written = ballot["written"]
    if not _is_object(written, _WRITTEN_KEYS):
        raise BallotError("the written part is not an object of ciphertexts and proof")
    cts, proof = written["ciphertexts"], written["proof"]
    if not isinstance(cts, list) or not all(_is_object(ct, _CIPHERTEXT_KEYS) for ct in cts):
        raise BallotError("the ciphertexts are not a list of objects of alpha and beta")
    if not _is_object(proof, _PROOF_KEYS) or not isinstance(proof["responses"], list):
        raise BallotError("the proof is not an object of challenge and a list of responses")
    width = written_width(group, district)
    if len(cts) != width or len(proof["responses"]) != width:
        raise BallotError(
            f"a written ballot of district {district.id} has {width} ciphertexts and "
            f"{width} responses, not {len(cts)} and {len(proof['responses'])}"
        )
    return district, ballot_context(base_hash, district.id, station_id, ballot["nonce"]), width


def written_ciphertexts(group: Group[Any], ballot: Any) -> tuple[Ciphertext[Any], ...]:
    """The ciphertexts of a written ballot, decoded (every element validated: InvalidElement,
    a ValueError, otherwise), its proof NOT checked: for ballots checked when they were cast."""
    return tuple(wire.ciphertext_from_json(group, ct) for ct in ballot["written"]["ciphertexts"])


def check_written(
    manifest: Manifest, ek: ElectionKey[Any], base_hash: bytes, ballot: Any
) -> tuple[Ciphertext[Any], ...]:
    """Validate a written ballot's wire form completely; returns its w ciphertexts.

    Raises BallotError naming the first problem: a shape or place `written_binding` refuses,
    an element not in the group, a scalar not below q, or a proof that does not verify under
    this election, district, station and nonce.
    """
    group = ek.group
    try:
        _, context, _ = written_binding(manifest, group, base_hash, ballot)
        cts = written_ciphertexts(group, ballot)
        proof = ballot["written"]["proof"]
        c = wire.scalar_from_hex(group, proof["challenge"])
        vs = [wire.scalar_from_hex(group, v) for v in proof["responses"]]
    except BallotError:
        raise
    except InvalidElement as exc:
        raise BallotError(f"a ciphertext is not a group element ({exc})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BallotError(f"the written ballot is malformed ({exc})") from None
    commitments = [
        group.mul(group.pow_g(v), group.pow(ct.alpha, c)) for v, ct in zip(vs, cts, strict=True)
    ]
    if written_challenge(ek, context, cts, commitments) != c:
        raise BallotError("the proof of the written ballot does not verify")
    return cts


def check_written_opened(
    ek: ElectionKey[Any], ballot: dict[str, Any], codes: Sequence[str], nonces: Sequence[int]
) -> bool:
    """A challenged written ballot: do the codes as written and the w nonces re-encrypt to
    its ciphertexts? (The ballot must already be checked, so w is its width.)"""
    group = ek.group
    cts = written_ciphertexts(group, ballot)
    if len(nonces) != len(cts):
        return False
    try:
        elements = encode_codes(group, list(codes), len(cts))
    except ValueError:  # BallotTooLong too
        return False
    return all(
        encrypt_element(ek, m, r) == ct for m, r, ct in zip(elements, nonces, cts, strict=True)
    )


def written_opening_problem(
    manifest: Manifest, key: ElectionKey[Any], ballot: dict[str, Any], codes: Any, nonces: Any
) -> str | None:
    """Why the published opening (`codes` as written, `nonces` as hex scalars) does not open
    the checked written `ballot`, or None (`challenge` refuses it, the verifier rejects it)."""
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        return "the revealed codes are not a list of strings"
    district = manifest.district(ballot["district"])
    if len(codes) > district.seats:
        return f"{len(codes)} revealed codes for {district.seats} seats"
    values = revealed_nonces(key.group, nonces)
    if isinstance(values, str):
        return values
    if not check_written_opened(key, ballot, codes, values):
        return "the revealed codes and nonces do not re-encrypt to the ballot"
    return None


# --- dispatch on the district's mode -------------------------------------------------------------
def station_mode(manifest: Manifest, station_id: str) -> str:
    """How the ballots of `station_id`'s district are encrypted: "homomorphic" or "mixnet"."""
    return _station_district(manifest, station_id).counted_by


def canonical_written(district: District, codes: Sequence[str]) -> list[str]:
    """The canonical form of what a voter wrote on a ballot of `district` (README, "Secrecy on
    the written-ballot path"; majlis-2024, the count's normalisation as in
    `verivote.rules.majlis.tally_majlis`): the
    distinct codes of the district's candidates among `codes`, in increasing order.

    A ballot has one line per seat, so at most S codes are written and the law's "first S"
    never applies: dropping codes of no candidate and repeats, then sorting, gives the same
    ballot for the count, while order, repeats and strangers can no longer mark a ballot.
    BallotError (one line) for a single string, more than S codes, or a code that is not 1 to
    8 decimal digits."""
    if isinstance(codes, str):
        raise BallotError("a written ballot is a list of codes, not one string")
    written = list(codes)
    if len(written) > district.seats:
        raise BallotError(
            f"{len(written)} codes written for {district.seats} seats: a ballot of district "
            f"{district.id} has {district.seats} lines"
        )
    for i, code in enumerate(written):
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            raise BallotError(
                f"code {i + 1} of the ballot is {code!r}: a candidate code is 1 to 8 decimal "
                "digits (0-9)"
            )
    known = {c.code for c in district.candidates}
    return sorted({c for c in written if c in known}, key=lambda c: (int(c), c))


def encrypt_for_station(
    manifest: Manifest,
    ek: ElectionKey[Any],
    base_hash: bytes,
    station_id: str,
    choices: Sequence[str],
    rand: NonceSource | None = None,
    nonce: str | None = None,
) -> tuple[dict[str, Any], OpenedBallot]:
    """Encrypt a voter's choices the way the station's district is counted: marks per
    candidate (`encrypt_ballot`), or, on the mixnet path, the codes written in their canonical
    form (`canonical_written`, then `encrypt_written`): what an honest station device
    encrypts. `encrypt_written` itself takes the codes as written, so that a ballot some
    other device encrypted another way is still a ballot, counted by the law."""
    if station_mode(manifest, station_id) == "mixnet":
        district = _station_district(manifest, station_id)
        codes = canonical_written(district, choices)
        return encrypt_written(manifest, ek, base_hash, station_id, codes, rand, nonce)
    return encrypt_ballot(manifest, ek, base_hash, station_id, choices, rand, nonce)


def is_written(ballot: Any) -> bool:
    """Whether a ballot has the written form (a "written" part) rather than selections."""
    return isinstance(ballot, dict) and "written" in ballot


def check_any_ballot(
    manifest: Manifest, ek: ElectionKey[Any], base_hash: bytes, ballot: Any
) -> Sequence[Ciphertext[Any]]:
    """`check_written` or `check_ballot`, by the ballot's form; each refuses a ballot whose
    district is not counted its way."""
    if is_written(ballot):
        return check_written(manifest, ek, base_hash, ballot)
    return check_ballot(manifest, ek, base_hash, ballot)


def any_opening_problem(
    manifest: Manifest, key: ElectionKey[Any], ballot: dict[str, Any], choices: Any, nonces: Any
) -> str | None:
    """`written_opening_problem` or `opening_problem`, by the (checked) ballot's form."""
    if is_written(ballot):
        return written_opening_problem(manifest, key, ballot, choices, nonces)
    return opening_problem(manifest, key, ballot, choices, nonces)
