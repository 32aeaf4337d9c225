"""`verivote.verify.pieces`: the batches of a large entry's array that tasks read from the
record themselves (issue 17). Their elements are what `json.loads` finds, in every case."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verivote.board.lines import read_piece
from verivote.verify.pieces import cut, element_spans, read_batch

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


def _dump(doc: Any, spaced: bool) -> str:
    return json.dumps(doc, indent=1 if spaced else None, ensure_ascii=True)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["rows", "a", "proof", "z"]), values, max_size=4),
    st.booleans(),
)
def test_the_spans_are_the_elements_json_loads_finds(doc: dict[str, Any], spaced: bool) -> None:
    text = _dump(doc, spaced)
    others: dict[str, Any] = {}
    spans = element_spans(text, "rows", others)
    if isinstance(doc.get("rows"), list):
        assert spans is not None
        assert [json.loads(text[a:b]) for a, b in spans] == doc["rows"]
        # and the other members as json.loads reads them
        assert others == {k: v for k, v in doc.items() if k != "rows"}
    else:
        assert spans is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_text_that_is_not_such_an_object_has_no_spans(text: str) -> None:
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    spans = element_spans(text, "rows")
    if not (isinstance(doc, dict) and isinstance(doc.get("rows"), list)):
        assert spans is None
    else:
        assert spans is not None
        assert [json.loads(text[a:b]) for a, b in spans] == doc["rows"]


def test_a_repeated_key_is_read_as_json_loads_reads_it() -> None:
    assert element_spans('{"rows":[1,2],"rows":[3]}', "rows") == [(22, 23)]
    assert element_spans('{"rows":[1,2],"rows":null}', "rows") is None
    assert element_spans('{"rows":[1,2]} x', "rows") is None


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.text(alphabet="0123456789abcdef", max_size=6), max_size=3), max_size=23),
    st.one_of(st.none(), st.integers(0, 30)),
    st.integers(1, 7),
    st.booleans(),
)
def test_batches_from_the_file_are_the_batches_of_the_parsed_value(
    rows: list[list[str]], count: int | None, size: int, in_file: bool
) -> None:
    """The same batches whether a task reads them from the record (a piece of the line) or
    gets them as JSON (a record held in memory), and they are the array's, cut."""
    line = json.dumps({"a": 1, "rows": rows, "z": [2]}, separators=(",", ":")).encode()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "entries.jsonl"
        path.write_bytes(b"x\n" + line + b"\n")
        ref = (str(path), 2, len(line), None)
        have, batches = cut(line, ref if in_file else line, "rows", count, size)
        got = [json.loads(read_batch(b)) for b in batches]
    kept = rows if count is None else rows[:count]
    total = len(kept) if count is None else count
    assert have == len(kept)
    assert got == [kept[s : s + size] for s in range(0, total, size)]


def test_a_value_that_is_not_an_array_is_given_whole_to_every_batch(tmp_path: Path) -> None:
    line = b'{"rows":{"x":1}}'
    (tmp_path / "e").write_bytes(line + b"\n")
    have, batches = cut(line, (str(tmp_path / "e"), 0, len(line), None), "rows", 7, 3)
    assert have is None
    assert [json.loads(read_batch(b)) for b in batches] == [{"x": 1}] * 3


def test_a_piece_changed_after_the_cut_is_not_read(tmp_path: Path) -> None:
    line = b'{"rows":[["aa","bb"],["cc","dd"]]}'
    path = tmp_path / "entries.jsonl"
    path.write_bytes(line + b"\n")
    _, batches = cut(line, (str(path), 0, len(line), None), "rows", None, 1)
    piece = batches[1]
    assert isinstance(piece, tuple)
    assert read_piece(piece) == b'["cc","dd"]'
    path.write_bytes(line.replace(b"cc", b"ce") + b"\n")
    with pytest.raises(OSError, match="changed since it was read"):
        read_piece(piece)
