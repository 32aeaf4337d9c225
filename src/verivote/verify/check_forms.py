"""Check `forms`: the stations' paper result forms (issue 18, item 1).

- One `form-signers` entry, before any polls opened, with a verifier key named `head/<station>`
  for stations of the manifest and `observer/<faction>` for its factions.
- Each `result-form` entry: a station of the manifest, once, after its polls closed; its note
  signed by the station's head and by the observer of every faction it lists as present, and by
  nobody else (`verivote.board.forms.open_form`); the form adds up by itself
  (`form_problems`); its ballots cast and voters checked in are the station's closing
  statement's, its challenged ballots the board's challenged ballots at the station.
- In an election whose manifest asks for forms (`polling.result_forms`) every closed station
  has one.
- For each district whose every closed station has a form: the forms' votes add up to the
  published count's votes of every candidate, and their blank ballots to its void ballots.
  A difference is a difference between the paper and the electronic result: it fails, naming
  the candidates, and is what an audit (`verivote audit`) then settles.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from verivote.board.forms import key_problem, open_form
from verivote.model.result_form import (
    FORM_TYPE,
    SIGNERS_TYPE,
    FormError,
    ResultForm,
    close_problems,
    form_problems,
    head_name,
    observer_name,
    votes_of,
)
from verivote.verify.ballot_facts import entry_facts
from verivote.verify.check_participation import Placed
from verivote.verify.context import Election
from verivote.verify.loader import Board
from verivote.verify.report import Check

Signers = tuple[dict[str, str], dict[str, str]]
"""The published keys: {station: head's verifier key}, {faction: observer's verifier key}."""


def _signers(board: Board, election: Election, check: Check) -> Signers | None:
    found = board.of_type(SIGNERS_TYPE)
    if not found:
        return None
    for extra, _ in found[1:]:
        check.fail(extra, "a second form-signers entry")
    index, doc = found[0]
    opened = [i for i, _ in board.of_type("polls-open")]
    if opened and min(opened) < index:
        check.fail(index, "the form signers were published after polls opened")
    heads, observers = doc.get("heads"), doc.get("observers")
    if not isinstance(heads, dict) or not isinstance(observers, dict):
        check.fail(index, "form-signers without heads and observers")
        return None
    if doc.get("election") != election.base_hash.hex():
        check.fail(index, "form-signers of another election")
    stations = {s.id for s in election.manifest.stations}
    factions = {f.id for f in election.manifest.factions}
    good_heads: dict[str, str] = {}
    good_observers: dict[str, str] = {}
    for names, known, name_of, good in (
        (heads, stations, head_name, good_heads),
        (observers, factions, observer_name, good_observers),
    ):
        for who, key in names.items():
            if who not in known:
                check.fail(index, f"a form signer for {who!r}, not in the manifest")
                continue
            problem = key_problem(key, name_of(who))
            if problem is not None:
                check.fail(index, problem)
                continue
            good[who] = key
    return good_heads, good_observers


def check_forms(board: Board, election: Election, placed: Placed | None = None) -> Check:
    """The `forms` check (module docstring). `placed`: the ballots' places as the ballot
    chunks counted them (with each station's challenged ballots); without it the challenged
    ballots are parsed here."""
    manifest = election.manifest
    check = Check("forms")
    forms_found = board.of_type(FORM_TYPE)
    signers = _signers(board, election, check)
    if signers is None:
        if manifest.polling.result_forms:
            check.fail(None, "no form-signers entry, and the manifest asks for result forms")
        for index, _ in forms_found:
            check.fail(index, "a result form, and no form signers published")
        return check.close()
    heads, observers = signers
    closes = {doc.get("station"): (i, doc) for i, doc in board.of_type("polls-close")}
    challenged = placed[2] if placed is not None else _challenged(board, election)
    forms: dict[str, ResultForm] = {}
    for index, doc in forms_found:
        check.items += 1
        form = _one_form(index, doc, election, heads, observers, check)
        if form is None:
            continue
        station = form.station
        if station in forms:
            check.fail(index, f"a second result form of {station}")
            continue
        close = closes.get(station)
        if close is None or close[0] > index:
            check.fail(index, f"{station}'s result form before its polls closed")
            continue
        problems = form_problems(form, manifest.district(manifest.station(station).district))
        problems += close_problems(form, close[1], challenged[station])
        for problem in problems:
            check.fail(index, f"{station}: {problem}")
        forms[station] = form
    if manifest.polling.result_forms:
        for closed, (index, _) in sorted(closes.items(), key=lambda kv: kv[1][0]):
            if isinstance(closed, str) and closed not in forms:
                check.fail(index, f"{closed} closed and published no result form")
    _sums(board, election, forms, set(closes), check)
    return check.close()


def _one_form(
    index: int,
    doc: dict[str, Any],
    election: Election,
    heads: dict[str, str],
    observers: dict[str, str],
    check: Check,
) -> ResultForm | None:
    station, note = doc.get("station"), doc.get("note")
    stations = {s.id for s in election.manifest.stations}
    if not isinstance(station, str) or station not in stations or not isinstance(note, str):
        check.fail(index, f"a result form of {station!r}, not a station of the manifest")
        return None
    if doc.get("election") != election.base_hash.hex():
        check.fail(index, f"{station}: a result form of another election")
        return None
    try:
        form = open_form(note, station, heads, observers)
    except (FormError, ValueError) as exc:
        check.fail(index, f"{station}: {exc}")
        return None
    if form.election != election.base_hash.hex():
        check.fail(index, f"{station}: the form is of another election")
        return None
    return form


def _challenged(board: Board, election: Election) -> Counter[str]:
    out: Counter[str] = Counter()
    for _, doc in board.each_of_type("ballot-challenged"):
        station = entry_facts(election.base_hash, doc).station
        if station is not None:
            out[station] += 1
    return out


def _sums(
    board: Board,
    election: Election,
    forms: dict[str, ResultForm],
    closed: set[Any],
    check: Check,
) -> None:
    """Each fully reported district's forms against the published count."""
    counts = board.of_type("count")
    if not counts or not forms:
        return
    index, doc = counts[0]
    districts = doc.get("districts")
    if not isinstance(districts, dict):
        return
    for district in election.manifest.districts:
        stations = [s.id for s in election.manifest.stations if s.district == district.id]
        reported = [forms[s] for s in stations if s in forms]
        if not reported or any(s in closed and s not in forms for s in stations):
            continue
        result = districts.get(district.id)
        if not isinstance(result, dict):
            continue
        try:
            electronic = votes_of(result)
        except FormError as exc:
            check.fail(index, f"{district.id}: {exc}")
            continue
        paper: Counter[str] = Counter()
        for form in reported:
            paper.update(form.votes)
        differ = [
            f"{c.code} {paper[c.code]} on paper, {electronic.get(c.code, 0)} counted"
            for c in district.candidates
            if paper[c.code] != electronic.get(c.code, 0)
        ]
        if differ:
            more = f"; and {len(differ) - 5} more" if len(differ) > 5 else ""
            shown = "; ".join(differ[:5]) + more
            check.fail(index, f"{district.id}: the result forms differ from the count: {shown}")
        blank = sum(f.blank for f in reported)
        void = result.get("void")
        if isinstance(void, int) and blank != void:
            check.fail(
                index, f"{district.id}: {blank} blank ballots on the forms, {void} void counted"
            )
