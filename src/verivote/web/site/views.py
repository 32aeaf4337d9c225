"""What the pages and the JSON API show, made from a source's raw material by pure functions.

Each view is a pydantic model: the templates read its fields, and the JSON API returns it as
it is (its OpenAPI schema comes from the same class), so a page never shows anything the API
does not give. Bad input from outside raises `BadInput` (a 400) and a thing that is not there
raises `NotFound` (a 404); both carry a message key of the catalogue, so that the pages can say
it in the visitor's language and the API in English.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from verivote.board.checkpoint import parse_checkpoint
from verivote.board.districts import read_seal
from verivote.board.inclusion import DistrictInclusion, check_in_district
from verivote.board.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from verivote.board.note import parse_note, parse_verifier
from verivote.crypto.tracking import short
from verivote.election.publishing import check_inclusion
from verivote.model.manifest import Manifest
from verivote.rules.majlis import parse_fraction
from verivote.web.site.i18n import to_ascii_digits
from verivote.web.site.source import (
    BallotHit,
    BoardEntry,
    Mode,
    Proof,
    Source,
    TurnoutSource,
)

PER_PAGE = 50
MAX_PAGE = 10**7
CHECKPOINTS_SHOWN = 20
_CODE = re.compile(r"[0-9a-f]{64}|[0-9a-f]{16}")
# What a voter may type around a code: spaces, dashes (the short form is 4 groups of 4), and
# the invisible marks a Persian keyboard or a copy from a receipt can add.
_CODE_NOISE = re.compile(r"[\s\-\u200c\u200d\u200e\u200f\u2010-\u2015]")
MAX_CODE_INPUT = 200


class BadInput(ValueError):
    """Input from outside that is not what it must be (a 400). `key` names the message."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key = key
        self.detail = detail


class NotFound(LookupError):
    """Something asked for that is not there (a 404). `key` names the message."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key = key
        self.detail = detail


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- the election -------------------------------------------------------------------------


class FactionView(View):
    id: str
    name: str


class DistrictSummary(View):
    id: str
    name: str
    seats: int
    province: str | None
    minority: str | None
    candidates: int
    stations: int
    counted: bool
    elected: list[str]
    """Names of the elected, once counted."""


class ElectionView(View):
    election_id: str
    name: str
    date: datetime.date
    round: int
    previous_round: str | None
    rule_set: str
    threshold: float
    """The law's share of the valid ballots that elects in round 1 (0.2 for majlis-2024)."""
    group: str
    base_hash: str
    mode: Mode
    factions: list[FactionView]
    stations: int
    districts: list[DistrictSummary]


def threshold_of(manifest: Manifest) -> Fraction:
    return parse_fraction(manifest.threshold)


def _district_results(count: dict[str, object] | None) -> dict[str, Any]:
    districts = count.get("districts") if count else None
    return districts if isinstance(districts, dict) else {}


def election_view(source: Source) -> ElectionView:
    manifest = source.manifest
    results = _district_results(source.count())
    names = {c.code: c.name for d in manifest.districts for c in d.candidates}
    summaries = []
    for d in manifest.districts:
        result = results.get(d.id)
        elected = result.get("elected", []) if isinstance(result, dict) else []
        summaries.append(DistrictSummary(
            id=d.id, name=d.name, seats=d.seats, province=d.province, minority=d.minority,
            candidates=len(d.candidates),
            stations=sum(s.district == d.id for s in manifest.stations),
            counted=isinstance(result, dict), elected=[names.get(c, c) for c in elected],
        ))  # fmt: skip
    previous = manifest.previous_round
    return ElectionView(
        election_id=manifest.election_id, name=manifest.name, date=manifest.date,
        round=manifest.round, previous_round=previous.election_id if previous else None,
        rule_set=manifest.rule_set, threshold=float(threshold_of(manifest)),
        group=manifest.group, base_hash=source.base_hash, mode=source.mode,
        factions=[FactionView(id=f.id, name=f.name) for f in manifest.factions],
        stations=len(manifest.stations), districts=summaries,
    )  # fmt: skip


# --- turnout ------------------------------------------------------------------------------


class DistrictTurnout(View):
    id: str
    name: str
    voted: int
    eligible: int | None
    share: float | None


class TurnoutView(View):
    source: TurnoutSource | None
    """Where the figures come from: the voters checked in (live), the voters checked in or
    else the ballots cast that each station's closing statement published (a record); None
    if there are none yet."""
    national: int
    eligible: int | None
    share: float | None
    districts: list[DistrictTurnout]
    stations: dict[str, int]
    polls: dict[str, int]
    """How many stations are open, closed, and not yet opened."""


def _share(part: int, whole: int | None) -> float | None:
    return part / whole if whole else None


def turnout_view(source: Source) -> TurnoutView:
    manifest = source.manifest
    raw = source.participation()
    district_of = {s.id: s.district for s in manifest.stations}
    voted: dict[str, int] = {d.id: 0 for d in manifest.districts}
    for station, n in raw.stations.items():
        district = district_of.get(station)
        if district is not None:
            voted[district] += n
    eligible = raw.eligible
    districts = [
        DistrictTurnout(
            id=d.id, name=d.name, voted=voted[d.id],
            eligible=eligible.get(d.id) if eligible is not None else None,
            share=_share(voted[d.id], eligible.get(d.id)) if eligible is not None else None,
        )
        for d in manifest.districts
    ]  # fmt: skip
    total = sum(voted.values())
    total_eligible = sum(eligible.values()) if eligible else None
    states = source.polls()
    polls = {
        "open": sum(v == "open" for v in states.values()),
        "closed": sum(v == "closed" for v in states.values()),
    }
    polls["not_opened"] = len(manifest.stations) - polls["open"] - polls["closed"]
    return TurnoutView(
        source=raw.source, national=total, eligible=total_eligible,
        share=_share(total, total_eligible), districts=districts,
        stations=dict(sorted(raw.stations.items())), polls=polls,
    )  # fmt: skip


# --- a district's result --------------------------------------------------------------------


class CandidateLine(View):
    code: str
    name: str
    faction: str | None
    votes: int
    share: float | None
    """Of the valid ballots."""
    status: Literal["elected", "runoff", "not_elected"] | None
    """None until the district is counted."""


class LotView(View):
    purpose: str
    round: int
    seed: str
    tied: list[str]
    order: list[str]
    """The draw: the tied candidates' codes, the favoured first."""
    digests: dict[str, str]


class DistrictResult(View):
    id: str
    name: str
    seats: int
    round: int
    province: str | None
    minority: str | None
    counted: bool
    ballots: int | None
    valid: int | None
    void: int | None
    threshold: float | None
    """The share of the valid ballots that elects (round 1 only)."""
    threshold_votes: Decimal | None
    elected: list[str]
    runoff: list[str]
    candidates: list[CandidateLine]
    lots: list[LotView]
    seed: str | None
    rule_set: str


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"not a count: {value!r}")
    return int(value)


def district_result(source: Source, district_id: str) -> DistrictResult:
    manifest = source.manifest
    district = next((d for d in manifest.districts if d.id == district_id), None)
    if district is None:
        raise NotFound("error_no_district", f"no district {district_id!r} in this election")
    count = source.count()
    result = _district_results(count).get(district.id)
    factions = {f.id: f.name for f in manifest.factions}
    if not isinstance(result, dict):
        candidates = [
            CandidateLine(code=c.code, name=c.name, faction=factions.get(c.faction or ""),
                          votes=0, share=None, status=None)
            for c in district.candidates
        ]  # fmt: skip
        return DistrictResult(
            id=district.id, name=district.name, seats=district.seats, round=manifest.round,
            province=district.province, minority=district.minority, counted=False,
            ballots=None, valid=None, void=None, threshold=None, threshold_votes=None,
            elected=[], runoff=[], candidates=candidates, lots=[], seed=None,
            rule_set=manifest.rule_set,
        )  # fmt: skip
    rounds = result.get("rounds") or [{}]
    tally = {str(k): _int(v) for k, v in (rounds[-1].get("tally") or {}).items()}
    valid, void = _int(result.get("valid", 0)), _int(result.get("void", 0))
    elected = [str(c) for c in result.get("elected", [])]
    runoff = [str(c) for c in result.get("runoff") or []]
    first_round = manifest.round == 1
    threshold = threshold_of(manifest) if first_round else None
    quota = rounds[-1].get("threshold")
    lines = []
    for c in district.candidates:
        votes = tally.get(c.code, 0)
        status: Literal["elected", "runoff", "not_elected"] = (
            "elected" if c.code in elected else "runoff" if c.code in runoff else "not_elected"
        )
        lines.append(CandidateLine(
            code=c.code, name=c.name, faction=factions.get(c.faction or ""), votes=votes,
            share=_share(votes, valid), status=status,
        ))  # fmt: skip
    lines.sort(key=lambda line: (-line.votes, line.code))
    return DistrictResult(
        id=district.id, name=district.name, seats=district.seats, round=manifest.round,
        province=district.province, minority=district.minority, counted=True,
        ballots=valid + void, valid=valid, void=void,
        threshold=float(threshold) if threshold is not None else None,
        threshold_votes=Decimal(str(quota)) if quota is not None and first_round else None,
        elected=elected, runoff=runoff, candidates=lines,
        lots=[LotView.model_validate(lot) for lot in result.get("lots", [])],
        seed=str(count.get("seed")) if count and count.get("seed") else None,
        rule_set=manifest.rule_set,
    )  # fmt: skip


# --- checkpoints ----------------------------------------------------------------------------


class SignatureView(View):
    name: str
    key_id: str
    role: Literal["authority", "witness", "unknown"]
    verified: bool
    """Whether it verifies under the election's published key of that name."""


class CheckpointView(View):
    origin: str
    size: int
    root: str
    """The Merkle root, base64 as in the note."""
    signatures: list[SignatureView]
    note: str


def checkpoint_view(note: str, verifier_keys: tuple[str, ...]) -> CheckpointView:
    """A signed checkpoint with each signature checked against the published keys (the
    authority's first): a signature by a key the election does not list is shown as unknown,
    never as valid."""
    text, signatures = parse_note(note)
    checkpoint = parse_checkpoint(text)
    known = {}
    for position, key in enumerate(verifier_keys):
        verifier = parse_verifier(key)
        known[(verifier.name, verifier.key_id)] = (verifier, position == 0)
    views = []
    for s in signatures:
        found = known.get((s.name, s.key_id))
        if found is None:
            views.append(SignatureView(name=s.name, key_id=f"{s.key_id:08x}", role="unknown",
                                       verified=False))  # fmt: skip
            continue
        verifier, authority = found
        views.append(SignatureView(
            name=s.name, key_id=f"{s.key_id:08x}", role="authority" if authority else "witness",
            verified=verifier.verify(text.encode("utf-8"), s.signature),
        ))  # fmt: skip
    return CheckpointView(
        origin=checkpoint.origin, size=checkpoint.size,
        root=base64.b64encode(checkpoint.root).decode("ascii"), signatures=views, note=note,
    )  # fmt: skip


def checkpoints_view(source: Source, limit: int = CHECKPOINTS_SHOWN) -> list[CheckpointView]:
    return [checkpoint_view(n, source.verifier_keys) for n in source.checkpoint_notes(limit)]


def latest_checkpoint(source: Source) -> CheckpointView | None:
    found = checkpoints_view(source, 1)
    return found[0] if found else None


# --- the board ------------------------------------------------------------------------------


class EntryRow(View):
    index: int
    """The entry's board position (the merged order of the logs, seals left out)."""
    log: str
    """The log that holds it: "" the national log, else a district's."""
    log_index: int
    """Its index in that log."""
    type: str
    bytes: int
    leaf_hash: str
    station: str | None
    district: str | None
    code: str | None
    """The tracking code of a cast ballot, the id of a challenged one."""


class BoardPage(View):
    """A page of the board: its entries by board position, the merged order of the national
    log and the district logs (README, "National scale (issue 17)": Order), in which each
    district's entries stand just before the seal that sealed them and the seals themselves
    are left out (they are in the national log's size, `logs[""]`). Entries a district has
    appended since its last seal have no position yet: `unsealed` counts them, and they are
    listed once their district is sealed."""

    type: str | None
    page: int
    pages: int
    per_page: int
    total: int
    """Entries of this type (of any type without one)."""
    size: int
    """Board positions: every entry of every log but the seals and unsealed entries."""
    types: dict[str, int]
    logs: dict[str, int]
    """Each log's size: "" the national log (seals included), then each district's."""
    unsealed: dict[str, int]
    """Each district's entries not yet sealed (live only)."""
    entries: list[EntryRow]


def entry_row(entry: BoardEntry) -> EntryRow:
    raw = entry.raw
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        doc = {"type": "malformed"}
    found = doc.get("ballot")
    ballot: dict[str, Any] = found if isinstance(found, dict) else {}
    station = doc.get("station", ballot.get("station"))
    district = doc.get("district", ballot.get("district"))
    code = doc.get("tracking_code", doc.get("ballot_id"))
    return EntryRow(
        index=entry.position, log=entry.log, log_index=entry.index, type=str(doc.get("type")),
        bytes=len(raw), leaf_hash=leaf_hash(raw).hex(),
        station=station if isinstance(station, str) else None,
        district=district if isinstance(district, str) else None,
        code=code if isinstance(code, str) else None,
    )  # fmt: skip


def board_page(source: Source, entry_type: str | None, page: int) -> BoardPage:
    types = source.type_counts()
    if entry_type is not None and entry_type not in types:
        raise NotFound("error_no_entry_type", f"no entries of type {entry_type!r} on the board")
    size = source.board_size()
    total = types[entry_type] if entry_type is not None else size
    pages = max(1, -(-total // PER_PAGE))
    if not 1 <= page <= pages:
        raise NotFound("error_no_page", f"page {page} is not between 1 and {pages}")
    found = source.entries(entry_type, (page - 1) * PER_PAGE, PER_PAGE)
    return BoardPage(
        type=entry_type, page=page, pages=pages, per_page=PER_PAGE, total=total, size=size,
        types=dict(sorted(types.items())), logs=source.log_sizes(), unsealed=source.unsealed(),
        entries=[entry_row(e) for e in found],
    )  # fmt: skip


def board_entry(source: Source, position: int) -> bytes:
    raw = source.entry(position)
    if raw is None:
        raise NotFound("error_no_entry", f"no entry {position} on the board")
    return raw


# --- the ballot tracker ---------------------------------------------------------------------


class SealView(View):
    """A district ballot's second proof: the `district-checkpoint` entry that sealed its
    district's log, in the national log."""

    index: int
    """The seal's index in the national log."""
    district_size: int
    """The size of the district checkpoint it seals (the ballot's first proof is in it)."""
    district_root: str | None
    """That checkpoint's Merkle root, base64 as in its note (None if it cannot be read)."""
    district_proof_valid: bool
    """The ballot's entry leads to the district checkpoint's root."""
    seal_proof_valid: bool
    """The seal holds that district checkpoint and leads to the national checkpoint's root."""


class TrackResult(View):
    code: str
    state: Literal["cast", "challenged"]
    log: str
    """The log holding the ballot: "" the national log, else its district's."""
    index: int
    """The ballot's index in that log."""
    position: int | None
    """Its board position (None while its district's log is not sealed)."""
    station: str
    station_name: str | None
    district: str
    district_name: str | None
    in_checkpoint: bool
    """Whether a signed national checkpoint covers the ballot (or its district's seal) yet."""
    checkpoint_size: int | None
    """The size of that national checkpoint."""
    root: str | None
    seal: SealView | None
    """For a ballot in a district's log, its second proof."""
    proof_valid: bool | None
    """The inclusion proof leads from the ballot's entry to the checkpoint's root (for a
    district ballot: both proofs, through the seal)."""
    signature_valid: bool | None
    """The checkpoint is signed by the election authority's published key, and so is the
    district checkpoint of a district ballot (None when this server was given no verifier
    keys)."""
    signed_by: list[str]
    """The keys whose signatures on the national checkpoint verify, the authority's first."""
    witnesses: int
    """How many faction witnesses' cosignatures verify."""


def normalise_code(text: str) -> str:
    """A tracking code as typed by a voter: 64 hex digits, or the short form (the first 16, in
    groups of four); Persian digits, spaces and dashes are forgiven, case is ignored."""
    if len(text) > MAX_CODE_INPUT:
        raise BadInput("error_code_malformed", "a tracking code is 64 or 16 hex digits")
    code = _CODE_NOISE.sub("", to_ascii_digits(text)).lower()
    if not code:
        raise BadInput("error_code_empty", "type a tracking code")
    if not _CODE.fullmatch(code):
        raise BadInput("error_code_malformed", "a tracking code is 64 or 16 hex digits")
    return code


def find_ballot(source: Source, text: str) -> BallotHit:
    code = normalise_code(text)
    hits = source.find_ballots(code)
    if not hits:
        raise NotFound("error_code_unknown", f"no ballot with tracking code {code} on the board")
    if len(hits) > 1:
        raise BadInput("error_code_ambiguous",
                       "several ballots share this short code: type the whole code")  # fmt: skip
    return hits[0]


def inclusion_document(source: Source, hit: BallotHit, inclusion: Proof) -> dict[str, Any]:
    """The voter's inclusion proof, in the format of `verivote board prove-inclusion`, which
    `verivote.election.publishing.check_inclusion` checks: for a ballot in a district's log
    the two proofs (`DistrictInclusion.to_json`)."""
    head = {
        "type": "inclusion-proof",
        "election": source.manifest.election_id,
        "code": hit.code,
        "state": hit.state,
    }
    if isinstance(inclusion, DistrictInclusion):
        return head | inclusion.to_json()
    return head | {
        "index": inclusion.index,
        "size": inclusion.size,
        "entry": inclusion.entry.decode("utf-8"),
        "proof": [base64.b64encode(h).decode("ascii") for h in inclusion.proof],
        "checkpoint": inclusion.note,
    }


def _root(note: str) -> tuple[int, bytes] | None:
    """(size, root) of a checkpoint note, its signatures unchecked; None if unreadable."""
    try:
        text, _ = parse_note(note)
        checkpoint = parse_checkpoint(text)
    except ValueError:
        return None
    return checkpoint.size, checkpoint.root


def _path_leads(entry: bytes, index: int, size: int, proof: list[bytes], note: str) -> bool:
    """The entry, with the proof, gives the root of the checkpoint `note` of `size` entries."""
    found = _root(note)
    if found is None or found[0] != size or len(found[1]) != HASH_SIZE:
        return False
    try:
        return verify_inclusion(leaf_hash(entry), index, size, proof, found[1])
    except ValueError:
        return False


def _is_ballot(entry: bytes, hit: BallotHit) -> bool:
    """The proved entry is the ballot asked about (its tracking code, or challenged id)."""
    try:
        doc = json.loads(entry)
    except ValueError:
        return False
    return isinstance(doc, dict) and hit.code in (doc.get("tracking_code"), doc.get("ballot_id"))


def check_seal(proof: DistrictInclusion, hit: BallotHit) -> SealView:
    """The two paths of a district ballot's proof, without its signatures: the ballot's entry
    (of `hit`'s district log and index) in the district checkpoint, and the seal in the national
    checkpoint, holding exactly that district checkpoint."""
    district_ok = (
        proof.district == hit.log and proof.index == hit.index and _is_ballot(proof.entry, hit)
        and _path_leads(proof.entry, proof.index, proof.district_size,
                        list(proof.district_proof), proof.district_note)
    )  # fmt: skip
    try:
        seal = read_seal(json.loads(proof.seal_entry))
        holds = seal.district == proof.district and seal.note == proof.district_note
    except (ValueError, TypeError, AttributeError):
        holds = False
    seal_ok = holds and _path_leads(proof.seal_entry, proof.seal_index, proof.national_size,
                                    list(proof.national_proof), proof.national_note)  # fmt: skip
    found = _root(proof.district_note)
    return SealView(
        index=proof.seal_index, district_size=proof.district_size,
        district_root=base64.b64encode(found[1]).decode("ascii") if found else None,
        district_proof_valid=district_ok, seal_proof_valid=seal_ok,
    )  # fmt: skip


def check_proof(
    proof: Proof, hit: BallotHit, verifier_keys: tuple[str, ...]
) -> tuple[SealView | None, bool, bool | None]:
    """The page's check of a ballot's proof: (the seal's view for a district ballot, whether
    every path leads to its root, whether the signatures verify under the authority's key, or
    None without keys). A district ballot's signatures are `check_in_district`'s: the national
    checkpoint, and the district checkpoint with its district's origin."""
    if isinstance(proof, DistrictInclusion):
        seal = check_seal(proof, hit)
        valid = seal.district_proof_valid and seal.seal_proof_valid
        signed = check_in_district(proof, verifier_keys[0]) if verifier_keys else None
        return seal, valid, signed
    valid = (
        hit.log == "" and proof.index == hit.index and _is_ballot(proof.entry, hit)
        and _path_leads(proof.entry, proof.index, proof.size, proof.proof, proof.note)
    )  # fmt: skip
    signed = None
    if verifier_keys:
        # The same check a voter runs on the downloaded proof: signature and path together.
        doc = {"index": proof.index, "size": proof.size, "entry": proof.entry.decode("utf-8"),
               "checkpoint": proof.note,
               "proof": [base64.b64encode(h).decode("ascii") for h in proof.proof]}  # fmt: skip
        signed = check_inclusion(doc, list(verifier_keys))
    return None, valid, signed


def track(source: Source, text: str) -> TrackResult:
    """Find a ballot and check its proof against the latest signed national checkpoint: one
    inclusion proof for a ballot in the national log, two for one in a district's log (in the
    district checkpoint of its seal, and that seal in the national checkpoint)."""
    hit = find_ballot(source, text)
    manifest = source.manifest
    stations = {s.id: s.name for s in manifest.stations}
    districts = {d.id: d.name for d in manifest.districts}
    inclusion = source.inclusion(hit)
    base = {
        "code": hit.code, "state": hit.state, "log": hit.log, "index": hit.index,
        "position": hit.position, "station": hit.station,
        "station_name": stations.get(hit.station), "district": hit.district,
        "district_name": districts.get(hit.district),
    }  # fmt: skip
    if inclusion is None:
        return TrackResult(**base, in_checkpoint=False, checkpoint_size=None, root=None,
                           seal=None, proof_valid=None, signature_valid=None, signed_by=[],
                           witnesses=0)  # fmt: skip
    note = inclusion.national_note if isinstance(inclusion, DistrictInclusion) else inclusion.note
    view = checkpoint_view(note, source.verifier_keys)
    seal, proof_valid, signature_valid = check_proof(inclusion, hit, source.verifier_keys)
    return TrackResult(
        **base, in_checkpoint=True, checkpoint_size=view.size, root=view.root, seal=seal,
        proof_valid=proof_valid, signature_valid=signature_valid,
        signed_by=[s.name for s in view.signatures if s.verified],
        witnesses=sum(s.verified and s.role == "witness" for s in view.signatures),
    )  # fmt: skip


_FULL_CODE = re.compile(r"[0-9a-fA-F]{64}")


class ReceiptView(View):
    """What the voter's printed receipt shows: the ballot's tracking code (whole and in its
    short form), its election and district."""

    code: str
    short: str
    election: str
    election_id: str
    district: str
    district_name: str


def receipt_view(source: Source, code: str) -> ReceiptView:
    """The receipt of the cast ballot whose tracking code is `code` (all 64 hex digits: a
    receipt is for one ballot); NotFound for a code that is malformed or not of a ballot cast
    here (a challenged ballot is not counted, so it gets no receipt)."""
    if not _FULL_CODE.fullmatch(code):
        raise NotFound("error_receipt_unknown", "a receipt's tracking code is 64 hex digits")
    code = code.lower()
    hits = [h for h in source.find_ballots(code) if h.code == code and h.state == "cast"]
    # A ballot accepted but still in its station's batch has its receipt too.
    district = hits[0].district if hits else source.pending_district(code)
    if district is None:
        raise NotFound("error_receipt_unknown", f"no ballot cast with tracking code {code}")
    manifest = source.manifest
    districts = {d.id: d.name for d in manifest.districts}
    return ReceiptView(
        code=code, short=short(code), election=manifest.name, election_id=manifest.election_id,
        district=district, district_name=districts.get(district, district),
    )  # fmt: skip


def proof_document(source: Source, text: str) -> dict[str, Any]:
    hit = find_ballot(source, text)
    inclusion = source.inclusion(hit)
    if inclusion is None:
        raise NotFound("error_not_in_checkpoint",
                       "the ballot is on the board but not yet in a signed checkpoint")  # fmt: skip
    return inclusion_document(source, hit, inclusion)
