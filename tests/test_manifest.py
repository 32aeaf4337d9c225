"""The manifest: loading from JSON and YAML, errors that point at the bad field, base hash."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.manifests import small_manifest_data
from verivote.crypto.hashing import election_base_hash
from verivote.model.manifest import ManifestError, load_manifest, parse_manifest


def test_json_and_yaml_give_the_same_manifest_and_base_hash(tmp_path: Path) -> None:
    import yaml

    data = small_manifest_data()
    (tmp_path / "m.json").write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    a = load_manifest(tmp_path / "m.json")
    b = load_manifest(tmp_path / "m.yaml")
    assert a == b
    assert election_base_hash(a.canonical()) == election_base_hash(b.canonical())
    assert a.district("armenians-south").minority == "armenian-south"


def test_any_change_to_the_manifest_changes_the_base_hash() -> None:
    data = small_manifest_data()
    other = copy.deepcopy(data)
    other["districts"][0]["seats"] = 2
    h1 = election_base_hash(parse_manifest(data).canonical())
    h2 = election_base_hash(parse_manifest(other).canonical())
    assert h1 != h2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["districts"][0].update(seats=0), "districts[0].seats"),
        (lambda d: d["districts"][1]["candidates"].append({"code": "2201", "name": "X"}),
         "candidate code 2201 appears twice"),
        (lambda d: d["stations"][0].update(district="nowhere"), "district 'nowhere'"),
        (lambda d: d["districts"][0]["candidates"][0].update(faction="greens"), "faction 'greens'"),
        (lambda d: d["districts"][0]["candidates"][0].update(code="12a"),
         "districts[0].candidates[0].code"),
        (lambda d: d.update(colour="blue"), "colour"),
        (lambda d: d["districts"][1].update(minority="martian"), "districts[1].minority"),
        (lambda d: d.pop("date"), "date"),
    ],
)  # fmt: skip
def test_bad_manifests_are_refused_with_the_field_named(change, message: str) -> None:  # type: ignore[no-untyped-def]
    data = small_manifest_data()
    change(data)
    with pytest.raises(ManifestError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_manifest(data)


def test_unreadable_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such manifest file"):
        load_manifest(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "election_id": \n}', encoding="utf-8")
    with pytest.raises(ManifestError, match="line 3"):
        load_manifest(bad)
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("a: [1, 2\nb: 3\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="not valid YAML at line"):
        load_manifest(bad_yaml)


# --- issue 16: District.mode and Manifest.mixing ---------------------------------------------


def _with_candidates(n: int) -> dict[str, Any]:
    data = small_manifest_data()
    data["districts"][0]["candidates"] = [
        {"code": str(1000 + i), "name": f"Candidate {i}"} for i in range(n)
    ]
    return data


def test_the_default_mode_follows_the_candidate_count() -> None:
    from verivote.model.manifest import MIXNET_ABOVE

    at = parse_manifest(_with_candidates(MIXNET_ABOVE))
    above = parse_manifest(_with_candidates(MIXNET_ABOVE + 1))
    assert at.district("tabriz").counted_by == "homomorphic"
    assert above.district("tabriz").counted_by == "mixnet"
    assert [d.id for d in above.mixnet_districts()] == ["tabriz"]
    data = _with_candidates(MIXNET_ABOVE + 1)
    data["districts"][0]["mode"] = "homomorphic"
    data["districts"][1]["mode"] = "mixnet"
    chosen = parse_manifest(data)
    assert chosen.district("tabriz").counted_by == "homomorphic"
    assert chosen.district("armenians-south").counted_by == "mixnet"


def test_mixers_default_to_every_faction_and_quorum_to_all() -> None:
    m = parse_manifest(small_manifest_data())
    assert m.mixers() == ["principlists", "reformists", "independents"]
    assert m.mix_quorum() == 3
    data = small_manifest_data()
    data["mixing"] = {"mixers": ["reformists", "principlists"], "quorum": 1}
    m = parse_manifest(data)
    assert m.mixers() == ["reformists", "principlists"]
    assert m.mix_quorum() == 1


@pytest.mark.parametrize(
    ("mixing", "message"),
    [
        ({"mixers": ["nobody"]}, "mixer 'nobody' is not a faction"),
        ({"mixers": ["reformists", "reformists"]}, "mixer id 'reformists' appears twice"),
        ({"quorum": 4}, "mixing.quorum is 4 but there are only 3 mixers"),
        ({"quorum": -1}, "mixing.quorum"),
        ({"order": []}, "mixing.order"),
    ],
)
def test_bad_mixing_is_refused_clearly(mixing: dict[str, Any], message: str) -> None:
    data = small_manifest_data()
    data["mixing"] = mixing
    with pytest.raises(ManifestError, match=message):
        parse_manifest(data)


def test_a_mixnet_district_needs_mixers() -> None:
    data = small_manifest_data()
    data["factions"] = []
    for c in data["districts"][0]["candidates"]:
        c.pop("faction")
    data["districts"][0]["mode"] = "mixnet"
    with pytest.raises(ManifestError, match="district tabriz is counted by mixnet but the "):
        parse_manifest(data)
    data["districts"][0]["mode"] = "wrong"
    with pytest.raises(ManifestError, match=r"districts\[0\]\.mode"):
        parse_manifest(data)


def test_unused_new_fields_leave_the_canonical_form_as_it_was() -> None:
    plain = parse_manifest(small_manifest_data())
    doc = json.loads(plain.canonical())["manifest"]
    assert "mixing" not in doc
    assert all("mode" not in d for d in doc["districts"])
    explicit = small_manifest_data()
    explicit["mixing"] = {"mixers": [], "quorum": 0}
    assert parse_manifest(explicit).canonical() == plain.canonical()
    used = small_manifest_data()
    used["districts"][0]["mode"] = "homomorphic"
    used["mixing"] = {"quorum": 2}
    doc = json.loads(parse_manifest(used).canonical())["manifest"]
    assert doc["districts"][0]["mode"] == "homomorphic"
    assert "mode" not in doc["districts"][1]
    assert doc["mixing"] == {"mixers": [], "quorum": 2}
    # What the board publishes reads back as the same manifest.
    assert parse_manifest(doc).canonical() == parse_manifest(used).canonical()


def test_a_manifest_of_before_issue_16_hashes_as_it_did() -> None:
    """Base hashes computed before District.mode and Manifest.mixing existed."""
    assert election_base_hash(parse_manifest(small_manifest_data()).canonical()).hex() == (
        "ec33f5bc22b9c5f2f416ed77a50b2d3fb379e2cbc336823f3c86b120d54ff0e0"
    )
    eg = parse_manifest(small_manifest_data("eg4096"))
    assert election_base_hash(eg.canonical()).hex() == (
        "8bf183a068ef09d0e47f754285038da91e568e8c309263d109b70130cf0a6010"
    )
