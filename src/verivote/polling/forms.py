"""Polling stations' paper result forms (issue 18, item 1): counted, entered twice, signed,
published, and read back from a record. The form and its entries are
`verivote.model.result_form`'s; opening a signed form is `verivote.board.forms.open_form`.

The steps, each by the party the law gives it to:
- the station's officials count the paper ballots by the law (`count_paper`) and two of them
  each enter the form (`make_form`); `double_entry` compares the two entries field by field and
  a mismatch is shown, never resolved here;
- the station head and each faction's observer sign with their own key (`OfficialKeys`, kept
  in the official's own folder, 0600) only a form equal to the one they hold themselves: the
  head the second entry, an observer the count they wrote down at the table (`sign_forms`);
- the authority publishes the signers' keys before any polls open (`publish_signers`) and each
  closed station's signed form after its close (`publish_forms`), after checking it exactly as
  the verifier will: signatures, sums, and the station's own closing statement.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from verivote.board.forms import key_problem, open_form
from verivote.model.ballots import Ballot
from verivote.model.manifest import District
from verivote.model.result_form import (
    FORM_TYPE,
    SIGNERS_TYPE,
    FormError,
    ResultForm,
    close_problems,
    form_doc,
    form_problems,
    form_text,
    head_name,
    observer_name,
    signers_doc,
)
from verivote.rules.majlis import tally_majlis


def count_paper(district: District, ballots: Iterable[Sequence[str]]) -> tuple[dict[str, int], int]:
    """(votes of every candidate, blank ballots) of a station's paper ballots, each counted by
    the law as written (`tally_majlis`: names of no candidate ignored, a repeat once, the first
    S names)."""
    law = tally_majlis(
        (Ballot(tuple(b)) for b in ballots), [c.code for c in district.candidates], district.seats
    )
    return {c.code: int(law.votes.get(c.code, 0)) for c in district.candidates}, int(law.void)


def make_form(
    base_hash: str,
    station: str,
    district: District,
    ballots: Sequence[Sequence[str]],
    checked_in: int,
    challenged: int,
    observers: Iterable[str],
    registered: int | None = None,
    spoiled: int = 0,
) -> ResultForm:
    """One official's entry of the form, from the station's paper ballots."""
    votes, blank = count_paper(district, ballots)
    form = ResultForm(
        election=base_hash, station=station, district=district.id, registered=registered,
        checked_in=checked_in, ballots_cast=len(ballots), spoiled=spoiled,
        challenged=challenged, blank=blank, votes=votes, observers=sorted(set(observers)),
    )  # fmt: skip
    problems = form_problems(form, district)
    if problems:
        raise FormError(f"{station}: {'; '.join(problems)}")
    return form


def assemble(form: ResultForm, lines: Iterable[str]) -> str:
    """The signed note: the form's text, a blank line, the signature lines (head first)."""
    ordered = sorted(lines, key=lambda line: (not line.startswith("— head/"), line))
    return form_text(form) + "\n" + "".join(ordered)


def _first(found: list[tuple[int, bytes]]) -> dict[str, Any] | None:
    if not found:
        return None
    doc: dict[str, Any] = json.loads(found[0][1])
    return doc


def publish_signers(
    store: Any, ctx: Any, heads: Mapping[str, str], observers: Mapping[str, str]
) -> None:
    """Publish the keys of the stations' heads and the factions' observers: once, before any
    station opens (a key added after the count could sign anything)."""
    election = ctx.election_id
    if store.entries_of_type(election, SIGNERS_TYPE):
        raise FormError("the form signers are already on the board")
    if store.polls(election):
        raise FormError("polls have opened: the form signers must be published before")
    stations = {s.id for s in ctx.manifest.stations}
    factions = {f.id for f in ctx.manifest.factions}
    if set(heads) - stations or set(observers) - factions:
        raise FormError("a signer of no station or faction of the manifest")
    named = [(k, head_name(s)) for s, k in heads.items()]
    named += [(k, observer_name(f)) for f, k in observers.items()]
    for key, name in named:
        problem = key_problem(key, name)
        if problem is not None:
            raise FormError(problem)
    store.append_entry(election, signers_doc(ctx.base_hash.hex(), heads, observers), SIGNERS_TYPE)


def publish_forms(store: Any, ctx: Any, notes: Mapping[str, str]) -> list[str]:
    """Publish each closed station's signed form in its district's log, checked as the
    verifier checks it (signatures, sums, the station's closing statement and challenged
    ballots); returns the stations published now (one already on the board is skipped)."""
    election = ctx.election_id
    signers = _first(store.entries_of_type(election, SIGNERS_TYPE))
    if signers is None:
        raise FormError("no form signers on the board")
    closes = {}
    for log in store.logs(election):
        for _, raw in store.entries_of_type(election, "polls-close", log=log):
            doc = json.loads(raw)
            closes[doc["station"]] = doc
    published = {
        json.loads(raw)["station"]
        for log in store.logs(election)
        for _, raw in store.entries_of_type(election, FORM_TYPE, log=log)
    }
    challenged = challenged_by_station(store, election)
    done = []
    for station, note in notes.items():
        if station in published:
            continue
        if station not in closes:
            raise FormError(f"{station}: the polls are not closed there")
        form = open_form(note, station, signers["heads"], signers["observers"])
        district = ctx.manifest.district(ctx.manifest.station(station).district)
        problems = form_problems(form, district)
        problems += close_problems(form, closes[station], challenged.get(station, 0))
        if form.election != ctx.base_hash.hex():
            problems.append("the form is of another election")
        if problems:
            raise FormError(f"{station}: {'; '.join(problems)}")
        entry = form_doc(ctx.base_hash.hex(), station, note)
        store.append_entry(election, entry, FORM_TYPE, log=district.id)
        done.append(station)
    return done


def challenged_by_station(store: Any, election: str) -> Counter[str]:
    """The challenged ballots on the board, by station."""
    out: Counter[str] = Counter()
    for log in store.logs(election):
        for _, raw in store.entries_of_type(election, "ballot-challenged", log=log):
            out[json.loads(raw)["ballot"]["station"]] += 1
    return out
