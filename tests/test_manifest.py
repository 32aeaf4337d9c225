"""The manifest: loading from JSON and YAML, errors that point at the bad field, base hash."""

from __future__ import annotations

import copy
import json
from pathlib import Path

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
