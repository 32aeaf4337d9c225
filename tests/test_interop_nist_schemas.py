"""The official NIST JSON schemas as test oracles, read in place from ../shared/schemas/nist/,
and a check the schemas cannot make: every reference (`...Id`, `...Ids`) names an object of a
type the schema's `refTypes` allows, and every `@id` is unique.

The other `test_interop_nist_*` modules import `validate` from here.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import SHARED

NIST = SHARED / "schemas" / "nist"
RESULTS = "NIST_V2_election_results_reporting.json"
CVR = "NIST_V0_cast_vote_records.json"
BALLOT_DEFINITION = "NIST_V1_ballot_definition.json"
EXAMPLES = sorted((NIST / "examples").glob("*.json")) if (NIST / "examples").is_dir() else []


@cache
def schema(name: str) -> dict[str, Any]:
    path = NIST / name
    if not path.is_file():
        pytest.fail(f"the NIST schema is missing at {path}")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    s = schema(name)
    cls = jsonschema.validators.validator_for(s)
    cls.check_schema(s)
    return cls(s, format_checker=cls.FORMAT_CHECKER)


def reference_problems(doc: Any, name: str) -> list[str]:
    """Dangling or mistyped references and repeated `@id`s in `doc` (see the module doc)."""
    definitions = schema(name)["definitions"]
    ids: dict[str, str] = {}
    problems: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("@id"), str):
                if node["@id"] in ids:
                    problems.append(f"@id {node['@id']} appears twice")
                ids[node["@id"]] = str(node.get("@type"))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    def check(node: Any, where: str) -> None:
        if isinstance(node, list):
            for i, value in enumerate(node):
                check(value, f"{where}[{i}]")
            return
        if not isinstance(node, dict):
            return
        props = definitions.get(node.get("@type"), {}).get("properties", {})
        for key, value in node.items():
            spec = props.get(key, {})
            allowed = spec.get("refTypes") or spec.get("items", {}).get("refTypes")
            if allowed:
                for ref in value if isinstance(value, list) else [value]:
                    if ref not in ids:
                        problems.append(f"{where}.{key}: {ref} names nothing")
                    elif ids[ref] not in allowed:
                        problems.append(f"{where}.{key}: {ref} is a {ids[ref]}, not {allowed}")
            check(value, f"{where}.{key}")

    collect(doc)
    check(doc, "$")
    return problems


def _explain(error: jsonschema.ValidationError) -> str:
    # A `oneOf` error only says that no branch matched; the branch for the object's own
    # `@type` (the one with no error on `@type`) says why.
    while error.context:
        branches: dict[Any, list[jsonschema.ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        typed = [
            errs
            for errs in branches.values()
            if not any(list(e.relative_path)[-1:] == ["@type"] for e in errs)
        ]
        error = jsonschema.exceptions.best_match(typed[0] if typed else error.context)
    return f"{'/'.join(map(str, error.absolute_path))}: {error.message[:200]}"


def validate(doc: Any, name: str) -> None:
    """Fail with the first few schema errors and reference problems of `doc`."""
    errors = sorted(_validator(name).iter_errors(doc), key=lambda e: list(e.absolute_path))
    shown = [_explain(e) for e in errors[:5]]
    shown += reference_problems(doc, name)[:5]
    assert not shown, "\n".join(shown)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_the_official_examples_pass_both_checks(example: Path) -> None:
    validate(json.loads(example.read_text(encoding="utf-8")), BALLOT_DEFINITION)


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 2


def test_a_dangling_or_mistyped_reference_is_caught() -> None:
    doc = json.loads((NIST / "examples" / "physical_ballot_def_1.json").read_text("utf-8"))
    dangling = copy.deepcopy(doc)
    dangling["Election"][0]["Contest"][0]["ContestOption"][0]["CandidateIds"][0] = "can-nobody"
    assert reference_problems(dangling, BALLOT_DEFINITION) == [
        "$.Election[0].Contest[0].ContestOption[0].CandidateIds: can-nobody names nothing"
    ]
    mistyped = copy.deepcopy(doc)
    mistyped["Election"][0]["ElectionScopeId"] = "cc-president"
    assert reference_problems(mistyped, BALLOT_DEFINITION) == [
        "$.Election[0].ElectionScopeId: cc-president is a BallotDefinition.CandidateContest, "
        "not ['BallotDefinition.ReportingUnit']"
    ]


def test_a_schema_error_is_caught() -> None:
    doc = json.loads((NIST / "examples" / "physical_ballot_def_1.json").read_text("utf-8"))
    del doc["Election"][0]["Contest"][0]["VotesAllowed"]
    with pytest.raises(AssertionError, match="VotesAllowed"):
        validate(doc, BALLOT_DEFINITION)
