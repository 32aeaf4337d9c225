"""Stations' paper result forms (issue 18, item 1): counted by the law, entered twice, signed by
the station head and the observers present (each only a form equal to their own copy), published,
and checked by the verifier against the published keys, the station's closing statement, the
board's challenged ballots and the district's count."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.attacks.test_closing_without_checkins import board_of
from tests.demo_fixtures import demo_environment
from tests.manifests import small_manifest_data
from verivote.board.note import generate_signer
from verivote.crypto.groups import get_group
from verivote.model.manifest import Manifest, parse_manifest
from verivote.model.result_form import (
    FormError,
    Mismatch,
    ResultForm,
    double_entry,
    form_problems,
    form_text,
    head_name,
    observer_name,
    parse_form_text,
)
from verivote.parties.official import OfficialKeys, sign_forms
from verivote.polling.forms import assemble, count_paper, make_form
from verivote.verify.check_forms import check_forms
from verivote.verify.context import Election

BASE = "ab" * 32
STATION = "tabriz-001"
PAPER = [["1101", "1102", "1103"], ["1101"], ["1104", "1104", "9999"], [], ["1105", "1102"]]
"""Five paper ballots of tabriz (3 seats): a repeat and a name of no candidate among them, and
one blank."""


def manifest(result_forms: bool = True) -> Manifest:
    data = small_manifest_data()
    data["polling"] = {"roll": True, "result_forms": result_forms}
    return parse_manifest(data)


def election(m: Manifest) -> Election:
    return Election(m, bytes.fromhex(BASE), get_group(m.group))


class Officials:
    """The head of every station and each faction's observer, with real keys."""

    def __init__(self, m: Manifest) -> None:
        self.heads = {s.id: generate_signer(head_name(s.id)) for s in m.stations}
        self.observers = {f.id: generate_signer(observer_name(f.id)) for f in m.factions}

    def signers_doc(self) -> dict[str, Any]:
        return {
            "type": "form-signers", "election": BASE,
            "heads": {s: v for s, (_, v) in self.heads.items()},
            "observers": {f: v for f, (_, v) in self.observers.items()},
        }  # fmt: skip

    def keys(self) -> dict[str, str]:
        out = {head_name(s): k for s, (k, _) in self.heads.items()}
        return out | {observer_name(f): k for f, (k, _) in self.observers.items()}

    def note(self, form: ResultForm, signers: list[str] | None = None) -> str:
        from verivote.board.note import signature_line

        keys = self.keys()
        names = signers
        if names is None:
            names = [head_name(form.station)] + [observer_name(f) for f in form.observers]
        return assemble(form, [signature_line(form_text(form), keys[n]) for n in names])


def tabriz_form(m: Manifest, **changes: Any) -> ResultForm:
    form = make_form(BASE, STATION, m.district("tabriz"), PAPER, checked_in=6, challenged=1,
                     observers=["principlists", "reformists"], registered=10)  # fmt: skip
    return form.model_copy(update=changes) if changes else form


def count_doc(votes: dict[str, int], void: int) -> dict[str, Any]:
    return {"type": "count", "districts": {"tabriz": {"void": void, "rounds": [{"tally": votes}]}}}


def docs_of(
    officials: Officials,
    form_note: str | None,
    *,
    signers_first: bool = True,
    close: dict[str, Any] | None = None,
    votes: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """A board of one station's day: signers, polls, one challenged ballot, the form, the
    count (of tabriz, whose other stations stay closed with no form unless said)."""
    signers = officials.signers_doc()
    docs: list[dict[str, Any]] = [{"type": "manifest"}]
    if signers_first:
        docs.append(signers)
    docs.append({"type": "polls-open", "station": STATION})
    if not signers_first:
        docs.append(signers)
    docs.append({"type": "ballot-challenged", "election": BASE,
                 "ballot": {"station": STATION, "district": "tabriz"}})  # fmt: skip
    docs.append({"type": "polls-close", "station": STATION,
                 **(close or {"ballots_cast": 5, "checked_in": 6})})  # fmt: skip
    if form_note is not None:
        docs.append({"type": "result-form", "election": BASE, "station": STATION,
                     "note": form_note})  # fmt: skip
    paper, blank = count_paper(manifest().district("tabriz"), PAPER)
    docs.append(count_doc(votes or paper, blank))
    return docs


def failures(docs: list[dict[str, Any]], m: Manifest | None = None) -> list[str]:
    m = m or manifest()
    return [f.reason for f in check_forms(board_of(docs), election(m)).failures]


def test_paper_is_counted_by_the_law() -> None:
    votes, blank = count_paper(manifest().district("tabriz"), PAPER)
    assert votes == {"1101": 2, "1102": 2, "1103": 1, "1104": 1, "1105": 1}
    assert blank == 1  # [] names nobody; ["1104", "1104", "9999"] is one vote for 1104


def test_a_signed_form_that_matches_the_board_and_the_count_passes() -> None:
    m = manifest()
    officials = Officials(m)
    assert failures(docs_of(officials, officials.note(tabriz_form(m)))) == []


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("unknown key", "not a signer of this form"),
        ("observer missing", "not signed by observer/reformists"),
        ("head missing", "not signed by head/tabriz-001"),
        ("changed after signing", "does not verify"),
        ("another station's head", "not a signer of this form"),
    ],
)
def test_a_form_not_signed_as_published_fails(how: str, expected: str) -> None:
    m = manifest()
    officials = Officials(m)
    form = tabriz_form(m)
    if how == "unknown key":
        from verivote.board.note import signature_line

        stranger, _ = generate_signer("observer/independents")  # not present, not published
        note = officials.note(form) + signature_line(form_text(form), stranger)
    elif how == "observer missing":
        note = officials.note(form, [head_name(STATION), observer_name("principlists")])
    elif how == "head missing":
        note = officials.note(form, [observer_name("principlists"), observer_name("reformists")])
    elif how == "changed after signing":
        note = officials.note(form).replace('"1101":2', '"1101":3')
    else:
        note = officials.note(form, [head_name("tabriz-002")])
    reasons = failures(docs_of(officials, note))
    assert any(expected in r for r in reasons), reasons


def test_paper_that_differs_from_the_electronic_count_fails_naming_the_candidate() -> None:
    m = manifest()
    officials = Officials(m)
    paper, _ = count_paper(m.district("tabriz"), PAPER)
    electronic = paper | {"1101": paper["1101"] + 7}
    reasons = failures(docs_of(officials, officials.note(tabriz_form(m)), votes=electronic))
    assert any("1101 2 on paper, 9 counted" in r for r in reasons), reasons


def test_a_form_that_disagrees_with_the_closing_statement_or_the_board_fails() -> None:
    m = manifest()
    officials = Officials(m)
    note = officials.note(tabriz_form(m))
    reasons = failures(docs_of(officials, note, close={"ballots_cast": 4, "checked_in": 6}))
    assert any("5 ballots cast on the form, 4 in its closing statement" in r for r in reasons)
    note = officials.note(tabriz_form(m, challenged=0))
    reasons = failures(docs_of(officials, note))
    assert any("0 challenged ballots on the form, 1 on the board" in r for r in reasons)


def test_signers_published_after_the_polls_opened_fail() -> None:
    m = manifest()
    officials = Officials(m)
    reasons = failures(docs_of(officials, officials.note(tabriz_form(m)), signers_first=False))
    assert any("after polls opened" in r for r in reasons), reasons


def test_a_closed_station_without_its_form_fails_when_the_manifest_asks_for_forms() -> None:
    m = manifest()
    officials = Officials(m)
    assert any("published no result form" in r for r in failures(docs_of(officials, None)))
    assert failures(docs_of(officials, None), manifest(result_forms=False)) == []


def test_a_form_that_does_not_add_up_is_named() -> None:
    m = manifest()
    form = tabriz_form(m, votes={"1101": 9, "1102": 0, "1103": 0, "1104": 0, "1105": 0})
    assert any(
        "more than the 4 marked ballots" in p for p in form_problems(form, m.district("tabriz"))
    )
    form = tabriz_form(m, checked_in=3)
    assert any("5 ballots cast by 3 voters" in p for p in form_problems(form, m.district("tabriz")))


def test_double_entry_names_every_difference() -> None:
    m = manifest()
    first = tabriz_form(m)
    second = tabriz_form(m, blank=2, votes=first.votes | {"1103": 4})
    with pytest.raises(Mismatch) as caught:
        double_entry(first, second)
    assert caught.value.fields == ["blank", "votes[1103]"]
    assert double_entry(first, tabriz_form(m)) == first


def test_an_official_signs_only_forms_equal_to_their_own_copy(tmp_path: Path) -> None:
    m = manifest()
    head = OfficialKeys(tmp_path / "head")
    head.create([head_name(STATION)])
    form = tabriz_form(m)
    signed = sign_forms(head.load(), [form], [form])
    assert list(signed) == [STATION]
    assert len(signed[STATION]) == 1
    with pytest.raises(Mismatch):
        sign_forms(head.load(), [form], [tabriz_form(m, spoiled=1)])
    assert (tmp_path / "head" / "official-keys.json").stat().st_mode & 0o777 == 0o600


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "verivote", *args], capture_output=True,
                          text=True, env=demo_environment(), timeout=60)  # fmt: skip


def test_official_program_keys_and_sign_and_a_mismatch_signs_nothing(tmp_path: Path) -> None:
    m = manifest()
    done = run("official", "keys", "--dir", str(tmp_path / "o"), "--faction", "reformists")
    assert done.returncode == 0, done.stderr
    keys = json.loads(done.stdout)
    assert list(keys) == ["observer/reformists"]
    form = tabriz_form(m)
    (tmp_path / "forms.json").write_text(json.dumps([form.model_dump()]))
    (tmp_path / "own.json").write_text(json.dumps([form.model_dump()]))
    out = tmp_path / "sigs.json"
    args = [
        "official",
        "sign",
        "--dir",
        str(tmp_path / "o"),
        "--forms",
        str(tmp_path / "forms.json"),
    ]
    done = run(*args, "--own", str(tmp_path / "own.json"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = json.loads(out.read_text())[STATION]
    assert len(lines) == 1
    assert lines[0].startswith("— observer/reformists ")
    out.unlink()
    wrong = tabriz_form(m, votes=form.votes | {"1105": 2})
    (tmp_path / "own.json").write_text(json.dumps([wrong.model_dump()]))
    done = run(*args, "--own", str(tmp_path / "own.json"), "--out", str(out))
    assert done.returncode == 1
    assert "the two entries differ in votes[1105]" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()
    done = run("official", "keys", "--dir", str(tmp_path / "o"), "--faction", "reformists")
    assert done.returncode == 1
    assert "already holds" in done.stderr


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["1101", "1102", "1103", "1104", "1105", "7"]),
                         max_size=5), max_size=40))  # fmt: skip
def test_a_counted_form_always_adds_up_and_reads_back(paper: list[list[str]]) -> None:
    m = manifest()
    district = m.district("tabriz")
    form = make_form(BASE, STATION, district, paper, checked_in=len(paper), challenged=0,
                     observers=["reformists"])  # fmt: skip
    assert form_problems(form, district) == []
    assert sum(form.votes.values()) <= district.seats * (form.ballots_cast - form.blank)
    assert parse_form_text(form_text(form)) == form
    with pytest.raises(FormError):
        parse_form_text(form_text(form).replace("{", "{ ", 1))


def test_the_challenged_ballots_counted_by_the_ballot_pass_are_those_of_the_board() -> None:
    """The verifier counts each station's challenged ballots where it parses the ballots
    (`place_ballots`); the forms check holds the form to that count as to its own."""
    from collections import Counter

    m = manifest()
    officials = Officials(m)
    docs = docs_of(officials, officials.note(tabriz_form(m)))
    board = board_of(docs)
    placed = ([], Counter({STATION: 5}), Counter({STATION: 1}))
    assert check_forms(board, election(m), placed).failures == []
    placed = ([], Counter({STATION: 5}), Counter({STATION: 2}))
    reasons = [f.reason for f in check_forms(board, election(m), placed).failures]
    assert any("1 challenged ballots on the form, 2 on the board" in r for r in reasons)
