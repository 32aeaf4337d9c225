"""`verivote export nist-results`: SP 1500-100 v2 results of a published election, checked
against the official schema and read back to the totals of the record's own entries."""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_interop_nist_schemas import RESULTS, validate
from tests.verify_fixtures import VerifyElection, copy_record, read_entries, write_entries
from verivote.cli.app import run
from verivote.crypto.hashing import election_base_hash
from verivote.election.runoff import runoff_manifest
from verivote.election.service import ElectionContext
from verivote.interop.nist.common import InteropError
from verivote.interop.nist.record import (
    PublishedRound,
    load_published_round,
    published_round,
)
from verivote.interop.nist.results import ReportOptions, results_report
from verivote.interop.nist.results_reader import ElectionTotals, read_results
from verivote.model.manifest import Manifest, parse_manifest
from verivote.rules.districts import count_districts

OPTIONS = ReportOptions(
    issuer="Election authority",
    issuer_abbreviation="EA",
    generated=datetime.datetime(2024, 3, 2, 12, 0, tzinfo=datetime.UTC),
)


def _expected(record: Path) -> dict[str, Any]:
    """What the record itself says, read straight from its entries (not through the code
    under test): the count of every district and each station's cast ballots."""
    docs = read_entries(record)
    count = next(d for d in docs if d["type"] == "count")
    stations = {d["station"]: d["ballots_cast"] for d in docs if d["type"] == "polls-close"}
    return {"manifest": docs[0]["manifest"], "count": count, "stations": stations}


def _assert_round_matches(got: ElectionTotals, record: Path) -> None:
    want = _expected(record)
    manifest = want["manifest"]
    assert got.election_id == manifest["election_id"]
    assert got.round == manifest["round"]
    assert got.base_hash == want["count"]["election"]
    assert got.station_ballots == want["stations"]
    assert set(got.contests) == {d["id"] for d in manifest["districts"]}
    for district in manifest["districts"]:
        result = want["count"]["districts"][district["id"]]
        contest = got.contests[district["id"]]
        assert contest.seats == district["seats"]
        assert contest.votes == result["rounds"][0]["tally"]
        assert (contest.valid, contest.void) == (result["valid"], result["void"])
        assert contest.elected == set(result["elected"])
        expected_runoff = set(result["runoff"]) if manifest["round"] == 1 else set()
        assert contest.runoff == expected_runoff
        ballots = result["valid"] + result["void"]
        assert contest.undervotes == ballots * district["seats"] - sum(contest.votes.values())


def test_both_rounds_validate_and_read_back_to_the_records_totals(
    verify_election: VerifyElection,
) -> None:
    rounds = [
        load_published_round(verify_election.round1),
        load_published_round(verify_election.round2),
    ]
    doc = results_report(rounds, OPTIONS)
    validate(doc, RESULTS)
    first, second = read_results(doc)
    _assert_round_matches(first, verify_election.round1)
    _assert_round_matches(second, verify_election.round2)
    # The runoff is linked to round 1 and ran on part of round 1's area.
    assert second.previous_round == first.election_id
    kinds = [e["Type"] for e in doc["Election"]]
    assert kinds == ["general", "runoff"]
    assert doc["Election"][0]["ElectionScopeId"] == doc["Election"][1]["ElectionScopeId"]
    # A runoff candidate is the same Person in both rounds, advanced after round 1.
    people = {c["PersonId"]: c for c in doc["Election"][0]["Candidate"]}
    for cand in doc["Election"][1]["Candidate"]:
        assert people[cand["PersonId"]]["PostElectionStatus"] == "advanced-to-runoff"
    assert first.contests["tabriz"].runoff  # the fixture's tie for the field: not vacuous


def test_provinces_compose_their_districts_and_districts_their_stations(
    verify_election: VerifyElection,
) -> None:
    doc = results_report([load_published_round(verify_election.round1)], OPTIONS)
    units = {u["@id"]: u for u in doc["GpUnit"]}
    area = units[doc["Election"][0]["ElectionScopeId"]]
    province = units["province-East-Azerbaijan"]
    assert province["Name"]["Text"][0]["Content"] == "East Azerbaijan"
    assert area["ComposingGpUnitIds"] == ["province-East-Azerbaijan", "district-armenians-south"]
    assert province["ComposingGpUnitIds"] == ["district-tabriz"]
    assert units["district-tabriz"]["ComposingGpUnitIds"] == [
        "station-tabriz-001",
        "station-tabriz-002",
        "station-tabriz-003",
    ]
    assert {u["Type"] for u in units.values()} == {"other", "polling-place"}


def test_a_runoff_alone_is_its_own_election_naming_round_one(
    verify_election: VerifyElection,
) -> None:
    doc = results_report([load_published_round(verify_election.round2)], OPTIONS)
    validate(doc, RESULTS)
    (only,) = read_results(doc)
    _assert_round_matches(only, verify_election.round2)
    assert only.previous_round == _expected(verify_election.round1)["manifest"]["election_id"]
    idents = {i["OtherType"]: i["Value"] for i in doc["Election"][0]["ExternalIdentifier"]}
    assert (
        idents["verivote-previous-round-base-hash"]
        == (_expected(verify_election.round1)["count"]["election"])
    )


def test_the_reader_falls_back_to_nist_ids(verify_election: VerifyElection) -> None:
    doc = results_report([load_published_round(verify_election.round1)], OPTIONS)
    text = json.dumps(doc)
    stripped = json.loads(text)

    def strip(node: Any) -> None:
        if isinstance(node, dict):
            node.pop("ExternalIdentifier", None)
            for value in node.values():
                strip(value)
        elif isinstance(node, list):
            for value in node:
                strip(value)

    strip(stripped)
    validate(stripped, RESULTS)
    (got,) = read_results(stripped)
    contest = got.contests["district-tabriz"]
    assert contest.votes["candidate-r1-tabriz-1101"] == 5
    assert sum(contest.votes.values()) == sum(
        read_results(doc)[0].contests["tabriz"].votes.values()
    )


def test_a_runoff_of_another_election_is_refused(verify_election: VerifyElection) -> None:
    first = load_published_round(verify_election.round1)
    second = load_published_round(verify_election.round2)
    other = dataclasses.replace(first, base_hash="0" * 64)
    with pytest.raises(InteropError, match="is the runoff of"):
        results_report([other, second], OPTIONS)
    with pytest.raises(InteropError, match="two round-1 records"):
        results_report([first, first], OPTIONS)


def test_a_count_of_another_election_is_refused(verify_election: VerifyElection) -> None:
    first = load_published_round(verify_election.round1)
    count = _expected(verify_election.round2)["count"]
    with pytest.raises(InteropError, match="belongs to election"):
        published_round(first.manifest, first.base_hash, count)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_a_valid_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, verify_election: VerifyElection
) -> None:
    out = tmp_path / "results.json"
    code, _, err = cli(
        capsys,
        "export", "nist-results", str(verify_election.round2), str(verify_election.round1),
        "-o", str(out), "--status", "certified", "--language", "fa",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out.read_text(encoding="utf-8"))
    validate(doc, RESULTS)
    assert doc["Status"] == "certified"
    assert doc["Issuer"] == "verivote/test-2024"
    assert [e["Type"] for e in doc["Election"]] == ["general", "runoff"]
    assert doc["Party"][0]["Name"]["Text"][0]["Language"] == "fa"
    assert "2 election(s), 3 contest(s)" in err


def test_cli_prints_to_stdout_without_o(
    capsys: pytest.CaptureFixture[str], verify_election: VerifyElection
) -> None:
    code, out, _ = cli(capsys, "export", "nist-results", str(verify_election.round1))
    assert code == 0
    validate(json.loads(out), RESULTS)


def test_cli_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, verify_election: VerifyElection
) -> None:
    code, _, err = cli(capsys, "export", "nist-results", str(tmp_path))
    assert code == 1
    assert (
        err
        == f"verivote: error: {tmp_path} holds no election record (log/entries.jsonl is missing)\n"
    )
    two = str(verify_election.round2)
    code, _, err = cli(capsys, "export", "nist-results", two, two)
    assert code == 1
    assert err.count("\n") == 1
    assert "two round-2 records" in err
    code, _, err = cli(capsys, "export", "nist-results", "--status", "final", two)
    assert code == 2


def test_a_tampered_record_is_not_exported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, verify_election: VerifyElection
) -> None:
    record = copy_record(verify_election.round1, tmp_path / "tampered")
    docs = read_entries(record)
    count = next(d for d in docs if d["type"] == "count")
    count["districts"]["tabriz"]["elected"] = ["1103"]
    write_entries(record, docs)  # not re-signed: the checkpoint no longer matches
    code, out, err = cli(capsys, "export", "nist-results", str(record))
    assert code == 1
    assert "the record does not check" in err
    assert out == ""


# --- property: any counted election exports, validates and reads back to its count -----------

_names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=10
).filter(str.strip)


@st.composite
def counted_elections(draw: st.DrawFn) -> list[PublishedRound]:
    """A random manifest counted by the law on random ballots, and its runoff if it has one."""
    # Half the time the first district has 8 candidates on 5 or 6 votes each, on one-name
    # ballots: nobody reaches 1/5 of the valid ballots, so there is a runoff.
    runoff = draw(st.booleans())
    factions = [f"f{i}" for i in range(draw(st.integers(0, 3)))]
    provinces = draw(st.lists(_names, min_size=0, max_size=2))
    districts: list[dict[str, Any]] = []
    stations: list[dict[str, Any]] = []
    for k in range(draw(st.integers(1, 3))):
        n = 8 if runoff and k == 0 else draw(st.integers(1, 8))
        district: dict[str, Any] = {
            "id": f"d{k}",
            "name": draw(_names),
            "seats": draw(st.integers(1, 3)),
            "candidates": [
                {
                    "code": str(100 * (k + 1) + j),
                    "name": f"{j} {draw(_names)}",
                    **({"faction": draw(st.sampled_from(factions))} if factions else {}),
                }
                for j in range(n)
            ],
        }
        if provinces:
            district["province"] = draw(st.sampled_from([None, *provinces]))
        districts.append(district)
        for s in range(draw(st.integers(0, 2))):
            stations.append({"id": f"d{k}-s{s}", "name": draw(_names), "district": f"d{k}"})
    manifest = parse_manifest(
        {
            "election_id": "prop-2024",
            "name": draw(_names),
            "date": "2024-03-01",
            "factions": [{"id": f, "name": draw(_names)} for f in factions],
            "districts": districts,
            "stations": stations,
        }
    )
    first = _counted(draw, manifest, runoff)
    ctx = ElectionContext(
        manifest.election_id, manifest, bytes.fromhex(first.base_hash), None, None
    )
    count = {"districts": {d: r.to_json_dict() for d, r in first.results.items()}}
    second = runoff_manifest(ctx, count)
    return [first] if second is None else [first, _counted(draw, second)]


def _counted(draw: st.DrawFn, manifest: Manifest, runoff: bool = False) -> PublishedRound:
    base_hash = election_base_hash(manifest.canonical()).hex()
    decrypted: dict[str, Any] = {"districts": {}}
    for d in manifest.districts:
        # Votes that S-name ballots can give: each valid ballot names 1 to S candidates, so
        # the valid ballots lie between the highest vote (and total / S) and the total.
        forced = runoff and d is manifest.districts[0]
        votes = {
            c.code: draw(st.integers(5, 6) if forced else st.integers(0, 40)) for c in d.candidates
        }
        total = sum(votes.values())
        low = max(max(votes.values()), -(-total // d.seats))
        valid = total if forced else draw(st.integers(low, total))
        blank = draw(st.integers(0, 5))
        decrypted["districts"][d.id] = {"ballots": valid + blank, "blank": blank, "votes": votes}
    results = count_districts(manifest, decrypted, bytes(32))
    count = {"election": base_hash, "districts": {d: r.to_json_dict() for d, r in results.items()}}
    stations = {s.id: draw(st.integers(0, 50)) for s in manifest.stations}
    return published_round(manifest, base_hash, count, stations)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counted_elections())
def test_any_counted_election_round_trips(rounds: list[PublishedRound]) -> None:
    doc = results_report(rounds, OPTIONS)
    validate(doc, RESULTS)
    read = read_results(json.loads(json.dumps(doc)))
    assert [e.round for e in read] == [r.manifest.round for r in rounds]
    for got, want in zip(read, rounds, strict=True):
        assert got.election_id == want.manifest.election_id
        assert got.base_hash == want.base_hash
        assert got.station_ballots == want.station_ballots
        assert set(got.contests) == {d.id for d in want.manifest.districts}
        for d in want.manifest.districts:
            result, contest = want.results[d.id], got.contests[d.id]
            assert contest.votes == {c: int(v) for c, v in result.rounds[0].tally.items()}
            assert (contest.valid, contest.void, contest.seats) == (
                result.valid,
                result.void,
                d.seats,
            )
            assert contest.elected == set(result.elected)
            field = set(result.runoff or []) if want.manifest.round == 1 else set()
            assert contest.runoff == field
