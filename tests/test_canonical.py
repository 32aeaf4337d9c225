"""Canonical JSON: one byte string per value, and a parser that accepts nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verivote.model.canonical import canonical_json, parse_canonical

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
entries = st.builds(
    lambda kind, body: {**body, "type": kind},
    st.text(max_size=8),
    st.dictionaries(st.text(max_size=6), json_values, max_size=5),
)


def test_known_answer() -> None:
    value = {"type": "ballot", "b": [True, None, -3], "a": 'é\n"\\\x01\u2028'}
    assert canonical_json(value) == (
        b'{"a":"\xc3\xa9\\n\\"\\\\\\u0001\xe2\x80\xa8","b":[true,null,-3],"type":"ballot"}'
    )


def test_keys_are_sorted_by_code_point_at_every_level() -> None:
    value = {"z": {"b": 1, "a": 2}, "B": 0, "a": 0, "é": 0, "type": "t"}
    assert canonical_json(value) == '{"B":0,"a":0,"type":"t","z":{"a":2,"b":1},"é":0}'.encode()


def test_tuples_are_arrays_and_large_integers_are_exact() -> None:
    assert canonical_json((1, 2**200)) == b"[1," + str(2**200).encode() + b"]"


@pytest.mark.parametrize(
    "value", [1.0, float("nan"), float("inf"), {"x": [0.5]}, b"bytes", {1, 2}, object()]
)
def test_values_without_a_canonical_form_are_refused(value: object) -> None:
    with pytest.raises(TypeError):
        canonical_json(value)


def test_non_string_keys_and_lone_surrogates_are_refused() -> None:
    with pytest.raises(TypeError, match="keys must be strings"):
        canonical_json({1: "x"})
    with pytest.raises(ValueError, match="not valid Unicode"):
        canonical_json({"type": "\ud800"})
    with pytest.raises(ValueError, match="not valid Unicode"):
        canonical_json({"\udfff": 1})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"type": "x"}', "canonical"),  # whitespace
        (b'{"type":"x","a":1}', "canonical"),  # key order
        (b'{"a":1,"a":1,"type":"x"}', "canonical"),  # duplicate key
        (b'{"a":"\\u00e9","type":"x"}', "canonical"),  # needless escape
        (b'{"a":"\\/","type":"x"}', "canonical"),
        (b'{"a":-0,"type":"x"}', "canonical"),
        (b'{"a":01,"type":"x"}', "not JSON"),
        (b'{"a":1.0,"type":"x"}', "non-integer"),
        (b'{"a":1e2,"type":"x"}', "non-integer"),
        (b'{"a":NaN,"type":"x"}', "non-integer"),
        (b'{"type":"x"}\n', "canonical"),  # trailing newline
        (b'{"a":"\\ud800","type":"x"}', "no canonical form"),
        (b'{"type":"\xff"}', "not UTF-8"),
        (b"[1]", "object"),
        (b'{"kind":"x"}', '"type"'),
        (b'{"type":1}', '"type"'),
        (b"", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON"),
    ],
)
def test_parse_refuses_anything_but_the_canonical_spelling(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_canonical(data)


def test_parse_refuses_text() -> None:
    with pytest.raises(TypeError):
        parse_canonical('{"type":"x"}')  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(entries)
def test_round_trip(entry: dict[str, Any]) -> None:
    data = canonical_json(entry)
    assert b"\n" not in data  # one entry per line in the election record
    assert parse_canonical(data) == entry
    assert canonical_json(parse_canonical(data)) == data
    # The standard library's own compact, sorted, non-ASCII output agrees byte for byte.
    assert data == json.dumps(
        entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


@settings(max_examples=100, deadline=None)
@given(
    entries, st.sampled_from([{"indent": 1}, {"ensure_ascii": True}, {"separators": (", ", ": ")}])
)
def test_other_spellings_of_the_same_entry_are_refused(
    entry: dict[str, Any], options: dict[str, Any]
) -> None:
    other = json.dumps(entry, sort_keys=True, **options).encode("utf-8")
    if other != canonical_json(entry):
        with pytest.raises(ValueError, match="canonical form"):
            parse_canonical(other)
