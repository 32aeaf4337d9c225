"""`verivote import nist-ballot-definition`: a manifest from an SP 1500-20 ballot definition,
on NIST's own examples and on ballot definitions written from random manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_interop_nist_schemas import BALLOT_DEFINITION, NIST, validate
from verivote.cli.app import run
from verivote.interop.nist.ballot_definition import import_ballot_definition
from verivote.interop.nist.common import InteropError
from verivote.model.manifest import Manifest, load_manifest, parse_manifest

PHYSICAL = NIST / "examples" / "physical_ballot_def_1.json"
ACTIVATION = NIST / "examples" / "controlling_contest_activation.json"


def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def test_a_presidential_ballot_becomes_one_district_with_its_precinct() -> None:
    result = import_ballot_definition(_load(PHYSICAL))
    m = result.manifest
    assert m is not None
    assert (m.election_id, m.name, m.date.isoformat()) == (
        "2020-general-election",
        "2020 General Election",
        "2020-11-03",
    )
    (district,) = m.districts
    assert (district.id, district.name, district.seats) == (
        "cc-president",
        "PRESIDENT OF THE UNITED STATES",
        1,
    )
    assert [(c.code, c.name) for c in district.candidates] == [
        ("1", "Joseph R. Biden / Kamala D. Harris"),
        ("2", "Howie Hawkins / Angela Walker"),
        ("3", "Jo Jorgensen / Spike Cohen"),
        ("4", "Donald J. Trump / Michael R. Pence"),
    ]
    assert [(s.id, s.name, s.district) for s in m.stations] == [
        ("gpu-p-001-BRA", "001-BRA", "cc-president")
    ]
    assert result.ignored == [
        "BallotFormat: not in a manifest (ballot layout)",
        "Shape: not in a manifest (ballot layout)",
        "contest cc-president: 4 option(s) are tickets of several candidates; each is one "
        "verivote candidate, named by all its members joined by ' / '",
        "BallotStyle layout (physical positions, headers, images): not in a manifest",
    ]


def test_an_activation_contest_is_left_out_and_parties_become_factions() -> None:
    result = import_ballot_definition(_load(ACTIVATION))
    m = result.manifest
    assert m is not None
    assert [(f.id, f.name) for f in m.factions] == [
        ("par-rep", "Republican"),
        ("par-dem", "Democratic"),
    ]
    (district,) = m.districts
    assert district.id == "cc-replacements"
    assert district.seats == 1  # no NumberElected: its VotesAllowed
    assert [(c.name, c.faction) for c in district.candidates] == [
        ("Alex Mack", "par-rep"),
        ("Ray Alvarado", "par-rep"),
    ]
    assert result.ignored == [
        "ActivationContest cc-activation-contest: a manifest holds candidate contests only",
        "Party.IsRecognizedParty (on 2 Party element(s)): not in a manifest",
    ]


def test_printed_codes_are_kept_when_every_option_has_one() -> None:
    doc = _load(ACTIVATION)
    contest = doc["Election"][0]["Contest"][1]
    for option, code in zip(contest["ContestOption"], ("4711", "4712"), strict=True):
        option["ExternalIdentifier"] = [
            {"@type": "BallotDefinition.ExternalIdentifier", "Type": "local-level", "Value": code}
        ]
    validate(doc, BALLOT_DEFINITION)
    m = import_ballot_definition(doc).manifest
    assert m is not None
    assert [c.code for c in m.districts[0].candidates] == ["4711", "4712"]
    del contest["ContestOption"][1]["ExternalIdentifier"]
    renumbered = import_ballot_definition(doc)
    assert renumbered.manifest is not None
    assert [c.code for c in renumbered.manifest.districts[0].candidates] == ["1", "2"]
    assert "contest cc-replacements: candidate codes are incomplete or repeat; renumbered" in (
        renumbered.ignored
    )


def test_write_ins_and_second_elections_are_reported() -> None:
    doc = _load(PHYSICAL)
    contest = doc["Election"][0]["Contest"][0]
    contest["ContestOption"].append(
        {"@id": "cs-write-in", "@type": "BallotDefinition.CandidateOption", "IsWriteIn": True}
    )
    contest["NumberElected"] = 2
    # A second election with its own ids (an @id is unique in the whole file).
    first = {k: v for k, v in doc["Election"][0].items() if k != "BallotStyle"}
    text = json.dumps(first).replace('"can-', '"can2-').replace('"cs-', '"cs2-')
    second = json.loads(text.replace('"cc-', '"cc2-'))
    second["Name"]["Text"][0]["Content"] = "Another election"
    doc["Election"].append(second)
    validate(doc, BALLOT_DEFINITION)
    result = import_ballot_definition(doc, election=2, election_id="other-2020")
    assert result.manifest is not None
    assert result.manifest.election_id == "other-2020"
    assert result.manifest.name == "Another election"
    assert result.manifest.districts[0].seats == 2
    assert "contest cc2-president: write-in option cs2-write-in left out (the law counts none)" in (
        result.ignored
    )
    assert (
        "contest cc2-president: VotesAllowed 1 is not kept; a Majlis ballot allows as many names "
        "as seats (2)" in result.ignored
    )
    assert (
        "Election 1 (2020 General Election): a manifest holds one election (choose it with "
        "--election 1)" in result.ignored
    )
    with pytest.raises(InteropError, match="there is no election 3"):
        import_ballot_definition(doc, election=3)


def test_nothing_usable_gives_no_manifest() -> None:
    doc = _load(ACTIVATION)
    del doc["Election"][0]["Contest"][1]
    result = import_ballot_definition(doc)
    assert result.manifest is None
    assert "no candidate contest with candidates: there is no district to import" in (
        result.ignored
    )
    with pytest.raises(InteropError, match="not an SP 1500-20 BallotDefinition"):
        import_ballot_definition({"@type": "CVR.CastVoteRecordReport"})


# --- the command line ----------------------------------------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_cli_writes_a_manifest_that_loads(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str
) -> None:
    out = tmp_path / f"manifest{suffix}"
    code, stdout, err = cli(
        capsys, "import", "nist-ballot-definition", str(PHYSICAL), "-o", str(out)
    )
    assert code == 0, err
    assert stdout == ""
    assert "left out of the manifest (4):" in err
    assert "  - Shape: not in a manifest (ballot layout)" in err
    assert "1 district(s), 4 candidate(s), 0 faction(s), 1 station(s)" in err
    assert load_manifest(out) == import_ballot_definition(_load(PHYSICAL)).manifest


def test_cli_prints_json_without_o(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = cli(capsys, "import", "nist-ballot-definition", str(ACTIVATION))
    assert code == 0
    assert parse_manifest(json.loads(stdout)).districts[0].id == "cc-replacements"


def test_cli_fails_when_nothing_is_usable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = _load(ACTIVATION)
    del doc["Election"][0]["Contest"][1]
    path = tmp_path / "bd.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    out = tmp_path / "m.yaml"
    code, _, err = cli(capsys, "import", "nist-ballot-definition", str(path), "-o", str(out))
    assert code == 1
    assert "  - ActivationContest cc-activation-contest: a manifest holds candidate contests" in err
    assert err.endswith(
        f"verivote: error: {path}: nothing in it can make a manifest (see the list above)\n"
    )
    assert not out.exists()


def test_cli_bad_files_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    code, _, err = cli(capsys, "import", "nist-ballot-definition", str(bad))
    assert code == 1
    assert err.startswith(f"verivote: error: {bad} is not valid JSON: ")
    code, _, err = cli(capsys, "import", "nist-ballot-definition", str(tmp_path / "none.json"))
    assert (code, err) == (
        1,
        f"verivote: error: no such ballot definition file: {tmp_path / 'none.json'}\n",
    )


# --- property: a manifest written as a ballot definition imports back as itself --------------


def _text(content: str) -> dict[str, Any]:
    return {
        "@type": "BallotDefinition.InternationalizedText",
        "Text": [
            {"@type": "BallotDefinition.LanguageString", "Content": content, "Language": "fa"}
        ],
    }


def ballot_definition_of(m: Manifest) -> dict[str, Any]:
    """The manifest as an SP 1500-20 ballot definition, written independently of the importer:
    provinces as states composing district units, which compose their polling places; the
    contests and options listed in reverse, with their ballot order in `SequenceOrder`."""
    unit_type = "BallotDefinition.ReportingUnit"
    units: list[dict[str, Any]] = []
    provinces: dict[str, list[str]] = {}
    for d in m.districts:
        unit: dict[str, Any] = {
            "@id": f"ru-{d.id}",
            "@type": unit_type,
            "Type": "other",
            "Name": _text(d.name),
        }
        children = [s.id for s in m.stations if s.district == d.id]
        if children:
            unit["ComposingGpUnitIds"] = children
        units.append(unit)
        if d.province is not None:
            provinces.setdefault(d.province, []).append(unit["@id"])
    for i, (name, parts) in enumerate(provinces.items()):
        units.append(
            {
                "@id": f"state-{i}",
                "@type": unit_type,
                "Type": "state",
                "Name": _text(name),
                "ComposingGpUnitIds": parts,
            }
        )
    units += [
        {"@id": s.id, "@type": unit_type, "Type": "polling-place", "Name": _text(s.name)}
        for s in m.stations
    ]
    units.append(
        {
            "@id": "scope",
            "@type": unit_type,
            "Type": "country",
            "ComposingGpUnitIds": [f"ru-{d.id}" for d in m.districts],
        }
    )
    candidates, contests = [], []
    for place, d in enumerate(m.districts, start=1):
        options = []
        for position, c in enumerate(d.candidates, start=1):
            cand: dict[str, Any] = {
                "@id": f"can-{d.id}-{c.code}",
                "@type": "BallotDefinition.Candidate",
                "BallotName": _text(c.name),
                "ExternalIdentifier": [
                    {
                        "@type": "BallotDefinition.ExternalIdentifier",
                        "Type": "local-level",
                        "Value": c.code,
                    }
                ],
            }
            if c.faction is not None:
                cand["PartyId"] = c.faction
            candidates.append(cand)
            options.append(
                {
                    "@id": f"opt-{d.id}-{c.code}",
                    "@type": "BallotDefinition.CandidateOption",
                    "CandidateIds": [cand["@id"]],
                    "SequenceOrder": position,
                }
            )
        contests.append(
            {
                "@id": d.id,
                "@type": "BallotDefinition.CandidateContest",
                "Name": d.name,
                "ElectionDistrictId": f"ru-{d.id}",
                "VotesAllowed": d.seats,
                "NumberElected": d.seats,
                "VoteVariation": "n-of-m",
                "SequenceOrder": place,
                # Listed backwards: the ballot's order is their SequenceOrder.
                "ContestOption": options[::-1],
            }
        )
    return {
        "@type": "BallotDefinition.BallotDefinition",
        "Version": "1.0.0",
        "GeneratedDate": "2024-02-01T00:00:00Z",
        "Issuer": "test",
        "IssuerAbbreviation": "T",
        "SequenceStart": 1,
        "SequenceEnd": 1,
        "VendorApplicationId": "tests",
        "GpUnit": units,
        "Party": [
            {"@id": f.id, "@type": "BallotDefinition.Party", "Name": _text(f.name)}
            for f in m.factions
        ],
        "Election": [
            {
                "@type": "BallotDefinition.Election",
                "Name": _text(m.name),
                "Type": "general",
                "StartDate": m.date.isoformat(),
                "EndDate": m.date.isoformat(),
                "ElectionScopeId": "scope",
                "Candidate": candidates,
                "Contest": contests[::-1],
            }
        ],
    }


_names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=10
).filter(str.strip)


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    factions = [f"f{i}" for i in range(draw(st.integers(0, 3)))]
    provinces = draw(st.lists(_names, max_size=2, unique=True))
    districts, stations = [], []
    for k in range(draw(st.integers(1, 3))):
        names = draw(st.lists(_names, min_size=1, max_size=5, unique=True))
        codes = draw(
            st.lists(
                st.from_regex(r"[0-9]{1,8}", fullmatch=True),
                min_size=len(names),
                max_size=len(names),
                unique=True,
            )
        )
        district: dict[str, Any] = {
            "id": f"d{k}",
            "name": draw(_names),
            "seats": draw(st.integers(1, 5)),
            "province": draw(st.sampled_from([None, *provinces])),
            "candidates": [
                {"code": code, "name": name, "faction": draw(st.sampled_from([None, *factions]))}
                for code, name in zip(codes, names, strict=True)
            ],
        }
        districts.append(district)
        stations += [
            {"id": f"s{k}-{i}", "name": draw(_names), "district": f"d{k}"}
            for i in range(draw(st.integers(0, 2)))
        ]
    return parse_manifest(
        {
            "election_id": "bd-2024",
            "name": draw(_names),
            "date": "2024-03-01",
            "factions": [{"id": f, "name": draw(_names)} for f in factions],
            "districts": districts,
            "stations": stations,
        }
    )


@settings(max_examples=50, deadline=None)
@given(manifests())
def test_a_manifest_written_as_a_ballot_definition_imports_as_itself(m: Manifest) -> None:
    doc = ballot_definition_of(m)
    validate(doc, BALLOT_DEFINITION)
    result = import_ballot_definition(doc, election_id=m.election_id, language="fa")
    assert result.manifest == m
    assert result.ignored == []
