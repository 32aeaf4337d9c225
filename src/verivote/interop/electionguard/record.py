"""Reading the files of an ElectionGuard 2.0 election record (egk's JSON layout) into typed,
validated values.

    constants.json               group constants p, q, r, g and the protocol version
    election_config.json         n, k, H_P, H_M, H_B, chaining of confirmation codes, B_aux,0
    manifest.json                contests, options, limits, ballot styles (hashed as bytes)
    election_initialized.json    K, H_E, each guardian's commitments K_i,j with Schnorr proofs
    encrypted_ballots/*/*.json   encrypted ballots, one directory per device
    encrypted_tally.json         the product of the cast ballots, per selection
    tally.json                   the decrypted tally with its proofs
    challenged_ballots/*.json    the decrypted challenged ballots with their proofs

Each `parse_*` takes one parsed JSON document and raises `FormatError` naming the place of
anything missing or malformed; the group elements it reads go into an `Elements` collector,
whose one batch test (`Elements.invalid`) the caller runs (spec 2.0.0 §3.1.1: every element
of the record lies in the order-q subgroup).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from verivote.interop.electionguard.encoding import (
    Doc,
    Elements,
    FormatError,
    array,
    b64,
    boolean,
    field,
    hash_value,
    hex_bytes,
    hex_integer,
    index,
    integer,
    obj,
    scalar,
    text,
    where,
)

CONSTANTS = "constants.json"
CONFIG = "election_config.json"
MANIFEST = "manifest.json"
INITIALIZED = "election_initialized.json"
ENCRYPTED_BALLOTS = "encrypted_ballots"
ENCRYPTED_TALLY = "encrypted_tally.json"
TALLY = "tally.json"
CHALLENGED_BALLOTS = "challenged_ballots"

CAST = "CAST"
CHALLENGED = "CHALLENGED"


def read_json(path: Path) -> Doc:
    """The JSON object in `path`; FormatError if it cannot be read or is not one."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        # ValueError: not UTF-8, not JSON, or an integer of more digits than Python parses
        raise FormatError(f"{path.name}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise FormatError(f"{path.name}: not a JSON object")
    return doc


# --- election parameters -------------------------------------------------------------------
@dataclass(frozen=True)
class Constants:
    """The group of `constants.json` (spec §3.1.1) and the specification version."""

    version: str
    p: int
    q: int
    r: int
    g: int


def parse_constants(doc: Doc) -> Constants:
    constants = obj(field(doc, "constants", ""), "constants")
    return Constants(
        version=text(doc, "protocolVersion", ""),
        p=hex_integer(constants, "largePrime", "constants"),
        q=hex_integer(constants, "smallPrime", "constants"),
        r=hex_integer(constants, "cofactor", "constants"),
        g=hex_integer(constants, "generator", "constants"),
    )


@dataclass(frozen=True)
class Config:
    """`election_config.json`: the parameters fixed before the key ceremony (spec §3.1)."""

    n: int
    k: int
    h_p: bytes
    h_m: bytes
    h_b: bytes
    chain_codes: bool
    b_aux0: bytes


def parse_config(doc: Doc) -> Config:
    return Config(
        n=index(doc, "number_of_guardians", "", least=1),
        k=index(doc, "quorum", "", least=1),
        h_p=hash_value(doc, "parameter_base_hash", ""),
        h_m=hash_value(doc, "manifest_hash", ""),
        h_b=hash_value(doc, "election_base_hash", ""),
        chain_codes=boolean(doc, "chain_confirmation_codes", ""),
        b_aux0=b64(doc, "baux0", ""),
    )


# --- manifest ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Option:
    selection_id: str
    index: int
    """ind_o: the option's `sequence_order` in its contest."""


@dataclass(frozen=True)
class Contest:
    """A contest of the manifest: its index ind_c, the limits R (per option) and L (per
    contest) of its range proofs, and its options in manifest order."""

    contest_id: str
    index: int
    district: str
    votes_allowed: int
    option_limit: int
    options: tuple[Option, ...]


@dataclass(frozen=True)
class Manifest:
    contests: tuple[Contest, ...]
    styles: dict[str, frozenset[str]]
    """Each ballot style's geopolitical units: a style holds the contests of those districts."""

    @cached_property
    def _by_id(self) -> dict[str, Contest]:
        return {c.contest_id: c for c in self.contests}

    def contest(self, contest_id: str) -> Contest | None:
        return self._by_id.get(contest_id)

    def style_contests(self, style_id: str) -> list[Contest] | None:
        """The contests on ballots of `style_id`, in manifest order (None: no such style)."""
        units = self.styles.get(style_id)
        if units is None:
            return None
        return [c for c in self.contests if c.district in units]


def parse_manifest(doc: Doc) -> Manifest:
    contests = []
    for i, raw in enumerate(array(doc, "contests", "")):
        path = where("contests", i)
        c = obj(raw, path)
        options = []
        for j, raw_option in enumerate(array(c, "ballot_selections", path)):
            opath = where(where(path, "ballot_selections"), j)
            option = obj(raw_option, opath)
            options.append(
                Option(text(option, "object_id", opath), index(option, "sequence_order", opath))
            )
        contests.append(
            Contest(
                contest_id=text(c, "object_id", path),
                index=index(c, "sequence_order", path),
                district=text(c, "electoral_district_id", path),
                votes_allowed=index(c, "votes_allowed", path, least=1),
                # 2.0 lets a contest cap the votes per option (range voting); 1 is the default
                option_limit=index(c, "option_selection_limit", path, least=1)
                if "option_selection_limit" in c
                else 1,
                options=tuple(options),
            )
        )
    ids = [c.contest_id for c in contests]
    if len(set(ids)) != len(ids):
        raise FormatError("contests: a contest id appears twice")
    if len({c.index for c in contests}) != len(contests):
        raise FormatError("contests: a sequence_order appears twice")
    for contest in contests:
        option_ids = [o.selection_id for o in contest.options]
        if len(set(option_ids)) != len(option_ids) or len(
            {o.index for o in contest.options}
        ) != len(option_ids):
            raise FormatError(f"contest {contest.contest_id}: an option appears twice")
    styles: dict[str, frozenset[str]] = {}
    for i, raw in enumerate(array(doc, "ballot_styles", "")):
        path = where("ballot_styles", i)
        style = obj(raw, path)
        units = array(style, "geopolitical_unit_ids", path)
        if not all(isinstance(u, str) for u in units):
            raise FormatError(f"{path}.geopolitical_unit_ids: expected strings")
        styles[text(style, "object_id", path)] = frozenset(units)
    return Manifest(tuple(contests), styles)


# --- key ceremony --------------------------------------------------------------------------
@dataclass(frozen=True)
class CoefficientProof:
    """K_i,j = g^(a_i,j) with the Schnorr proof (c_i,j, v_i,j) of a_i,j (spec §3.2.2)."""

    commitment: Any
    challenge: int
    response: int


@dataclass(frozen=True)
class Guardian:
    guardian_id: str
    index: int
    """i: the guardian's x-coordinate, 1 ≤ i ≤ n."""
    proofs: tuple[CoefficientProof, ...]


@dataclass(frozen=True)
class Initialized:
    """`election_initialized.json`: the key ceremony's output (spec §3.2)."""

    key: Any
    h_e: bytes
    guardians: tuple[Guardian, ...]


def parse_initialized(doc: Doc, elements: Elements) -> Initialized:
    guardians = []
    for i, raw in enumerate(array(doc, "guardians", "")):
        path = where("guardians", i)
        g = obj(raw, path)
        proofs = []
        for j, raw_proof in enumerate(array(g, "coefficient_proofs", path)):
            ppath = where(where(path, "coefficient_proofs"), j)
            proof = obj(raw_proof, ppath)
            proofs.append(
                CoefficientProof(
                    elements.element(proof, "public_key", ppath),
                    scalar(proof, "challenge", ppath),
                    scalar(proof, "response", ppath),
                )
            )
        guardians.append(
            Guardian(text(g, "guardian_id", path), index(g, "x_coordinate", path), tuple(proofs))
        )
    return Initialized(
        key=elements.element(doc, "joint_public_key", ""),
        h_e=hash_value(doc, "extended_base_hash", ""),
        guardians=tuple(guardians),
    )


# --- ballots -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ciphertext:
    """An ElGamal ciphertext (α, β) = (g^ξ, K^(σ+ξ)) (spec §3.3.1)."""

    pad: Any
    data: Any


@dataclass(frozen=True)
class RangeProof:
    """A range proof's (c_j, v_j) for j = 0 … R (spec §3.3.5); the commitments are not
    published: the verifier recomputes them."""

    challenges: tuple[int, ...]
    responses: tuple[int, ...]


@dataclass(frozen=True)
class HashedCiphertext:
    """Hashed-ElGamal ciphertext (C0, C1, C2) of a contest's data (spec §3.3, contest data)."""

    c0: Any
    c1: bytes
    c2: bytes
    num_bytes: int


@dataclass(frozen=True)
class Selection:
    selection_id: str
    index: int
    vote: Ciphertext
    proof: RangeProof


@dataclass(frozen=True)
class BallotContest:
    contest_id: str
    index: int
    contest_hash: bytes
    selections: tuple[Selection, ...]
    proof: RangeProof
    contest_data: HashedCiphertext | None


@dataclass(frozen=True)
class Ballot:
    """An encrypted ballot (spec §3.3, §3.4), cast or challenged."""

    ballot_id: str
    style_id: str
    device: str
    state: str
    confirmation_code: bytes
    code_baux: bytes
    election_id: bytes
    contests: tuple[BallotContest, ...]
    is_preencrypt: bool


def _ciphertext(doc: Doc, key: str, path: str, elements: Elements) -> Ciphertext:
    vpath = where(path, key)
    vote = obj(field(doc, key, path), vpath)
    return Ciphertext(elements.element(vote, "pad", vpath), elements.element(vote, "data", vpath))


def _range_proof(doc: Doc, key: str, path: str) -> RangeProof:
    ppath = where(path, key)
    parts = array(obj(field(doc, key, path), ppath), "proofs", ppath)
    challenges, responses = [], []
    for j, raw in enumerate(parts):
        jpath = where(where(ppath, "proofs"), j)
        part = obj(raw, jpath)
        challenges.append(scalar(part, "challenge", jpath))
        responses.append(scalar(part, "response", jpath))
    return RangeProof(tuple(challenges), tuple(responses))


def _hashed_ciphertext(doc: Doc, key: str, path: str, elements: Elements) -> HashedCiphertext:
    hpath = where(path, key)
    data = obj(field(doc, key, path), hpath)
    c1 = b64(data, "c1", hpath)
    num_bytes = integer(data, "numBytes", hpath)
    if not 0 <= num_bytes <= len(c1):
        raise FormatError(f"{hpath}.numBytes: {num_bytes} does not fit the {len(c1)} bytes of c1")
    return HashedCiphertext(
        elements.element(data, "c0", hpath), c1, hash_value(data, "c2", hpath), num_bytes
    )


def parse_ballot(doc: Doc, elements: Elements) -> Ballot:
    contests = []
    for i, raw in enumerate(array(doc, "contests", "")):
        path = where("contests", i)
        c = obj(raw, path)
        selections = []
        for j, raw_selection in enumerate(array(c, "selections", path)):
            spath = where(where(path, "selections"), j)
            s = obj(raw_selection, spath)
            selections.append(
                Selection(
                    text(s, "selection_id", spath),
                    index(s, "sequence_order", spath),
                    _ciphertext(s, "encrypted_vote", spath, elements),
                    _range_proof(s, "proof", spath),
                )
            )
        contests.append(
            BallotContest(
                contest_id=text(c, "contest_id", path),
                index=index(c, "sequence_order", path),
                contest_hash=hash_value(c, "contest_hash", path),
                selections=tuple(selections),
                proof=_range_proof(c, "proof", path),
                contest_data=_hashed_ciphertext(c, "encrypted_contest_data", path, elements)
                if c.get("encrypted_contest_data") is not None
                else None,
            )
        )
    if doc.get("encrypted_sn") is not None:
        # egk's encrypted serial number carries no proof, but its elements are published
        # values of the group like any other and are validated with them
        _ciphertext(doc, "encrypted_sn", "", elements)
    return Ballot(
        ballot_id=text(doc, "ballot_id", ""),
        style_id=text(doc, "ballot_style_id", ""),
        device=text(doc, "encrypting_device", ""),
        state=text(doc, "state", ""),
        confirmation_code=hash_value(doc, "confirmation_code", ""),
        code_baux=hex_bytes(doc, "code_baux", ""),
        election_id=hash_value(doc, "election_id", ""),
        contests=tuple(contests),
        is_preencrypt=boolean(doc, "is_preencrypt", "") if "is_preencrypt" in doc else False,
    )


# --- tally and decryptions -----------------------------------------------------------------
@dataclass(frozen=True)
class TallySelection:
    selection_id: str
    vote: Ciphertext
    index: int | None = None
    """Its `sequence_order`, when the record gives one (egk does): the manifest's option's."""


@dataclass(frozen=True)
class TallyContest:
    contest_id: str
    selections: tuple[TallySelection, ...]
    index: int | None = None
    """Its `sequence_order`, when the record gives one: the manifest's contest's."""


@dataclass(frozen=True)
class EncryptedTally:
    """`encrypted_tally.json`: (A, B) per selection (spec §3.5)."""

    contests: tuple[TallyContest, ...]
    cast_ballot_ids: tuple[str, ...] | None
    election_id: bytes


def parse_encrypted_tally(doc: Doc, elements: Elements) -> EncryptedTally:
    contests = []
    for i, raw in enumerate(array(doc, "contests", "")):
        path = where("contests", i)
        c = obj(raw, path)
        selections = []
        for j, raw_selection in enumerate(array(c, "selections", path)):
            spath = where(where(path, "selections"), j)
            s = obj(raw_selection, spath)
            selections.append(
                TallySelection(
                    text(s, "selection_id", spath),
                    _ciphertext(s, "encrypted_vote", spath, elements),
                    index(s, "sequence_order", spath) if "sequence_order" in s else None,
                )
            )
        contests.append(
            TallyContest(
                text(c, "contest_id", path),
                tuple(selections),
                index(c, "sequence_order", path) if "sequence_order" in c else None,
            )
        )
    cast_ids = None
    if "cast_ballot_ids" in doc:
        ids = array(doc, "cast_ballot_ids", "")
        if not all(isinstance(x, str) for x in ids):
            raise FormatError("cast_ballot_ids: expected strings")
        cast_ids = tuple(ids)
    return EncryptedTally(tuple(contests), cast_ids, hash_value(doc, "election_id", ""))


@dataclass(frozen=True)
class Proof:
    """A Chaum–Pedersen proof (c, v) of a decryption; its commitments are recomputed."""

    challenge: int
    response: int


@dataclass(frozen=True)
class DecryptedSelection:
    """t, T = K^t (`b_over_m`), the ciphertext (A, B) and the proof that M = B/T = A^s
    (spec §3.6.3)."""

    selection_id: str
    tally: int
    t_value: Any
    vote: Ciphertext
    proof: Proof


@dataclass(frozen=True)
class ContestDataValues:
    """The published decryption of a contest's data: overvoted options, write-ins, status."""

    over_votes: tuple[int, ...]
    write_ins: tuple[str, ...]
    status: str


@dataclass(frozen=True)
class DecryptedContestData:
    """β = C0^s with the proof of it, and the published plaintext (spec §3.6.4)."""

    values: ContestDataValues | None
    ciphertext: HashedCiphertext
    proof: Proof
    beta: Any


@dataclass(frozen=True)
class DecryptedContest:
    contest_id: str
    selections: tuple[DecryptedSelection, ...]
    contest_data: DecryptedContestData | None


@dataclass(frozen=True)
class Decrypted:
    """`tally.json` or a `challenged_ballots/dballot-*.json` (spec §3.6)."""

    decrypted_id: str
    contests: tuple[DecryptedContest, ...]
    election_id: bytes


def _proof(doc: Doc, key: str, path: str) -> Proof:
    ppath = where(path, key)
    proof = obj(field(doc, key, path), ppath)
    return Proof(scalar(proof, "challenge", ppath), scalar(proof, "response", ppath))


def _contest_data_values(doc: Doc, path: str) -> ContestDataValues:
    over_votes = array(doc, "over_votes", path)
    write_ins = array(doc, "write_ins", path)
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in over_votes):
        raise FormatError(f"{path}.over_votes: expected integers")
    if not all(isinstance(x, str) for x in write_ins):
        raise FormatError(f"{path}.write_ins: expected strings")
    return ContestDataValues(tuple(over_votes), tuple(write_ins), text(doc, "status", path))


def _decrypted_contest_data(doc: Doc, path: str, elements: Elements) -> DecryptedContestData:
    values = None
    if doc.get("contest_data") is not None:
        vpath = where(path, "contest_data")
        values = _contest_data_values(obj(doc["contest_data"], vpath), vpath)
    return DecryptedContestData(
        values=values,
        ciphertext=_hashed_ciphertext(doc, "encrypted_contest_data", path, elements),
        proof=_proof(doc, "proof", path),
        beta=elements.element(doc, "beta", path),
    )


def parse_decrypted(doc: Doc, elements: Elements, id_key: str = "id") -> Decrypted:
    contests = []
    for i, raw in enumerate(array(doc, "contests", "")):
        path = where("contests", i)
        c = obj(raw, path)
        selections = []
        for j, raw_selection in enumerate(array(c, "selections", path)):
            spath = where(where(path, "selections"), j)
            s = obj(raw_selection, spath)
            tally = integer(s, "tally", spath)
            if tally < 0:
                raise FormatError(f"{spath}.tally: negative")
            selections.append(
                DecryptedSelection(
                    selection_id=text(s, "selection_id", spath),
                    tally=tally,
                    t_value=elements.element(s, "b_over_m", spath),
                    vote=_ciphertext(s, "encrypted_vote", spath, elements),
                    proof=_proof(s, "proof", spath),
                )
            )
        data = None
        if c.get("decrypted_contest_data") is not None:
            dpath = where(path, "decrypted_contest_data")
            data = _decrypted_contest_data(obj(c["decrypted_contest_data"], dpath), dpath, elements)
        contests.append(DecryptedContest(text(c, "contest_id", path), tuple(selections), data))
    return Decrypted(text(doc, id_key, ""), tuple(contests), hash_value(doc, "election_id", ""))
