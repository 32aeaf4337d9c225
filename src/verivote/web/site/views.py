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
from verivote.board.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from verivote.board.note import parse_note, parse_verifier
from verivote.crypto.tracking import short
from verivote.election.publishing import check_inclusion
from verivote.model.manifest import Manifest
from verivote.rules.majlis import parse_fraction
from verivote.web.site.i18n import to_ascii_digits
from verivote.web.site.source import BallotHit, Inclusion, Mode, Source, TurnoutSource

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
    type: str
    bytes: int
    leaf_hash: str
    station: str | None
    district: str | None
    code: str | None
    """The tracking code of a cast ballot, the id of a challenged one."""


class BoardPage(View):
    type: str | None
    page: int
    pages: int
    per_page: int
    total: int
    """Entries of this type (of any type without one)."""
    size: int
    types: dict[str, int]
    entries: list[EntryRow]


def entry_row(index: int, raw: bytes) -> EntryRow:
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
        index=index, type=str(doc.get("type")), bytes=len(raw), leaf_hash=leaf_hash(raw).hex(),
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
        types=dict(sorted(types.items())), entries=[entry_row(i, raw) for i, raw in found],
    )  # fmt: skip


def board_entry(source: Source, index: int) -> bytes:
    raw = source.entry(index)
    if raw is None:
        raise NotFound("error_no_entry", f"no entry {index} on the board")
    return raw


# --- the ballot tracker ---------------------------------------------------------------------


class TrackResult(View):
    code: str
    state: Literal["cast", "challenged"]
    index: int
    station: str
    station_name: str | None
    district: str
    district_name: str | None
    in_checkpoint: bool
    """Whether a signed checkpoint covers the ballot yet."""
    checkpoint_size: int | None
    root: str | None
    proof_valid: bool | None
    """The inclusion proof leads from the ballot's entry to the checkpoint's root."""
    signature_valid: bool | None
    """The checkpoint is signed by the election authority's published key (None when this
    server was given no verifier keys)."""
    signed_by: list[str]
    """The keys whose signatures on the checkpoint verify, the authority's first."""
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


def inclusion_document(source: Source, hit: BallotHit, inclusion: Inclusion) -> dict[str, Any]:
    """The voter's inclusion proof, in the format of `verivote board prove-inclusion`, which
    `verivote.election.publishing.check_inclusion` checks."""
    return {
        "type": "inclusion-proof",
        "election": source.manifest.election_id,
        "code": hit.code,
        "state": hit.state,
        "index": inclusion.index,
        "size": inclusion.size,
        "entry": inclusion.entry.decode("utf-8"),
        "proof": [base64.b64encode(h).decode("ascii") for h in inclusion.proof],
        "checkpoint": inclusion.note,
    }


def track(source: Source, text: str) -> TrackResult:
    """Find a ballot and check its inclusion proof against the latest signed checkpoint."""
    hit = find_ballot(source, text)
    manifest = source.manifest
    stations = {s.id: s.name for s in manifest.stations}
    districts = {d.id: d.name for d in manifest.districts}
    inclusion = source.inclusion(hit.index)
    base = {
        "code": hit.code, "state": hit.state, "index": hit.index, "station": hit.station,
        "station_name": stations.get(hit.station), "district": hit.district,
        "district_name": districts.get(hit.district),
    }  # fmt: skip
    if inclusion is None:
        return TrackResult(**base, in_checkpoint=False, checkpoint_size=None, root=None,
                           proof_valid=None, signature_valid=None, signed_by=[],
                           witnesses=0)  # fmt: skip
    view = checkpoint_view(inclusion.note, source.verifier_keys)
    root = base64.b64decode(view.root)
    proof_valid = len(root) == HASH_SIZE and verify_inclusion(
        leaf_hash(inclusion.entry), inclusion.index, inclusion.size, inclusion.proof, root
    ) and view.size == inclusion.size  # fmt: skip
    signature_valid = None
    if source.verifier_keys:
        # The same check a voter runs on the downloaded proof: signature and path together.
        doc = inclusion_document(source, hit, inclusion)
        signature_valid = check_inclusion(doc, list(source.verifier_keys))
    return TrackResult(
        **base, in_checkpoint=True, checkpoint_size=inclusion.size, root=view.root,
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
    inclusion = source.inclusion(hit.index)
    if inclusion is None:
        raise NotFound("error_not_in_checkpoint",
                       "the ballot is on the board but not yet in a signed checkpoint")  # fmt: skip
    return inclusion_document(source, hit, inclusion)
