"""A polling station's paper result form (issue 18, item 1), as the board publishes it.

At the close each station counts its paper ballots and fills in its result form: ballots cast,
voters checked in, spoiled and challenged ballots, blank ballots and every candidate's votes.
The form is a C2SP signed note (`verivote.board.note`) whose text is

    verivote result form v1
    <canonical JSON of the form's fields>

signed by the station head and by the observer of every faction present at the count, each
with an Ed25519 key published before the polls opened in the one `form-signers` entry:

    form-signers  {"type": "form-signers", "election": base hash,
                   "heads": {station: verifier key}, "observers": {faction: verifier key}}
    result-form   {"type": "result-form", "election": base hash, "station": id, "note": note}

The key names are `head/<station>` and `observer/<faction>`, so a signature names its role.
This module is the form's data and its pure checks; making, double entry, signing and
publishing are `verivote.polling.forms`'s, checking a record's forms is
`verivote.verify.check_forms`'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from verivote.model.canonical import canonical_json
from verivote.model.manifest import IDENT, District

HEADER = "verivote result form v1\n"
SIGNERS_TYPE = "form-signers"
FORM_TYPE = "result-form"


class FormError(ValueError):
    """A result form that cannot be read or does not add up."""


class ResultForm(BaseModel):
    """What a station's officials write on the form. `registered` is the number of voters
    on the station's list where the law keeps one (None where it does not); `spoiled` the
    paper ballots a voter spoiled and exchanged; `challenged` the ballots challenged on the
    device (Benaloh), decrypted and never cast; `blank` the cast ballots naming no candidate
    of the district; `votes` every candidate's votes, zeros included; `observers` the
    factions whose observers were present at the count (each must sign)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    election: str = Field(pattern=r"^[0-9a-f]{64}$")
    station: str = Field(pattern=IDENT)
    district: str = Field(pattern=IDENT)
    registered: int | None = Field(default=None, ge=0)
    checked_in: int = Field(ge=0)
    ballots_cast: int = Field(ge=0)
    spoiled: int = Field(ge=0)
    challenged: int = Field(ge=0)
    blank: int = Field(ge=0)
    votes: dict[str, int]
    observers: list[str] = Field(default_factory=list)


def form_text(form: ResultForm) -> str:
    """The text the officials sign: the header line and the canonical JSON of the form."""
    return HEADER + canonical_json(form.model_dump(mode="json")).decode("utf-8") + "\n"


def parse_form_text(text: str) -> ResultForm:
    """The form of a signed note's text; FormError if it is not exactly `form_text` of one."""
    if not text.startswith(HEADER) or not text.endswith("\n"):
        raise FormError("not a result form (its first line must be the form header)")
    try:
        form = ResultForm.model_validate(json.loads(text[len(HEADER) : -1]))
    except (ValueError, ValidationError) as exc:
        raise FormError(f"the form's fields are not valid: {_first_error(exc)}") from None
    if form_text(form) != text:
        raise FormError("the form's text is not in canonical form")
    return form


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return f"{'.'.join(map(str, error['loc'])) or 'form'}: {error['msg']}"
    return str(exc)


def form_problems(form: ResultForm, district: District) -> list[str]:
    """Why the form does not add up by itself (empty if it does): the district's candidates
    exactly, no candidate with more votes than non-blank ballots, at most S names a ballot,
    no more ballots than voters checked in, nor checked in than on the list."""
    problems = []
    if form.district != district.id:
        problems.append(f"the form names district {form.district}, the station's is {district.id}")
    codes = {c.code for c in district.candidates}
    if set(form.votes) != codes:
        missing = sorted(codes - set(form.votes))
        extra = sorted(set(form.votes) - codes)
        problems.append(
            f"votes not of the district's candidates (missing {missing}, extra {extra})"
        )
    if any(n < 0 for n in form.votes.values()):
        problems.append("a negative count of votes")
    if form.blank > form.ballots_cast:
        problems.append(f"{form.blank} blank ballots of {form.ballots_cast} cast")
    marked = form.ballots_cast - form.blank
    most = max(form.votes.values(), default=0)
    if most > marked:
        problems.append(f"a candidate has {most} votes, more than the {marked} marked ballots")
    if sum(form.votes.values()) > district.seats * marked:
        problems.append(
            f"{sum(form.votes.values())} votes on {marked} marked ballots of at most "
            f"{district.seats} names"
        )
    if form.ballots_cast > form.checked_in:
        problems.append(f"{form.ballots_cast} ballots cast by {form.checked_in} voters checked in")
    if form.registered is not None and form.checked_in > form.registered:
        problems.append(f"{form.checked_in} voters checked in of {form.registered} on the list")
    if form.observers != sorted(set(form.observers)):
        problems.append("the observers are not listed once each, in order")
    return problems


def close_problems(form: ResultForm, close: Mapping[str, Any], challenged: int) -> list[str]:
    """How the form disagrees with the station's `polls-close` statement (ballots cast, and
    voters checked in where the statement has them) and with the `challenged` ballots the
    board holds at the station. The authority's publisher and the verifier both ask this."""
    problems = []
    if form.ballots_cast != close.get("ballots_cast"):
        problems.append(
            f"{form.ballots_cast} ballots cast on the form, {close.get('ballots_cast')} in its "
            "closing statement"
        )
    if "checked_in" in close and form.checked_in != close["checked_in"]:
        problems.append(
            f"{form.checked_in} voters checked in on the form, {close['checked_in']} in its "
            "closing statement"
        )
    if form.challenged != challenged:
        problems.append(
            f"{form.challenged} challenged ballots on the form, {challenged} on the board"
        )
    return problems


def head_name(station: str) -> str:
    """The key name of a station head's signing key."""
    return f"head/{station}"


def observer_name(faction: str) -> str:
    """The key name of a faction observer's signing key."""
    return f"observer/{faction}"


def signers_doc(base_hash: str, heads: Mapping[str, str], observers: Mapping[str, str]) -> bytes:
    """The `form-signers` entry."""
    return canonical_json(
        {"type": SIGNERS_TYPE, "election": base_hash, "heads": dict(heads),
         "observers": dict(observers)}
    )  # fmt: skip


def form_doc(base_hash: str, station: str, note: str) -> bytes:
    """The `result-form` entry of a station's signed note."""
    return canonical_json({"type": FORM_TYPE, "election": base_hash, "station": station,
                           "note": note})  # fmt: skip


def votes_of(doc: Mapping[str, Any]) -> dict[str, int]:
    """A district's votes per candidate in a `count` entry's result (its first round's
    tally, which is the votes of a Majlis count)."""
    rounds = doc.get("rounds")
    if not isinstance(rounds, list) or not rounds or not isinstance(rounds[0], dict):
        raise FormError("the count's result has no rounds")
    tally = rounds[0].get("tally")
    if not isinstance(tally, dict) or not all(isinstance(v, int) for v in tally.values()):
        raise FormError("the count's first round has no whole-number tally")
    return {str(k): int(v) for k, v in tally.items()}


class Mismatch(FormError):
    """The two entries of a form differ: `fields` names each difference."""

    def __init__(self, station: str, fields: list[str]) -> None:
        super().__init__(f"{station}: the two entries differ in {', '.join(fields)}")
        self.station = station
        self.fields = fields


def differences(first: ResultForm, second: ResultForm) -> list[str]:
    """The fields (a candidate's votes as `votes[code]`) where two entries differ."""
    a, b = first.model_dump(), second.model_dump()
    out = [k for k in a if k != "votes" and a[k] != b[k]]
    codes = sorted(set(first.votes) | set(second.votes))
    out += [f"votes[{c}]" for c in codes if first.votes.get(c) != second.votes.get(c)]
    return out


def double_entry(first: ResultForm, second: ResultForm) -> ResultForm:
    """The form when both officials' entries agree; Mismatch naming every difference if not."""
    fields = differences(first, second)
    if fields:
        raise Mismatch(first.station, fields)
    return first
