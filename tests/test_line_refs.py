"""Many entries named at once for tasks (`Lines.refs`, `MerkleLog.leaf_hashes`, issue 17: the
verifier's main process names every ballot to its tasks): the same as naming them one by one,
and an index outside the log refused alike."""

from __future__ import annotations

from array import array
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verivote.board.lines import Lines, read_refs
from verivote.board.merkle import MerkleLog, leaf_hash


def _lines(folder: Path, texts: list[bytes], files: int) -> Lines:
    """`texts` as lines spread over `files` files, line i in file i % files."""
    paths = [folder / f"f{k}" for k in range(files)]
    data = [bytearray() for _ in paths]
    starts, lengths, which = array("q"), array("q"), array("H")
    log = MerkleLog()
    for i, text in enumerate(texts):
        k = i % files
        starts.append(len(data[k]))
        lengths.append(len(text))
        which.append(k)
        data[k] += text + b"\n"
        log.append(leaf_hash(text))
    for path, content in zip(paths, data, strict=True):
        path.write_bytes(bytes(content))
    return Lines(paths, starts, lengths, which if files > 1 else None, log)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(
        st.binary(min_size=1, max_size=20).filter(lambda b: b"\n" not in b), min_size=1, max_size=12
    ),
    files=st.integers(1, 3),
    picks=st.lists(st.integers(0, 11), max_size=10),
)
def test_refs_are_the_refs_one_by_one(
    tmp_path_factory: pytest.TempPathFactory, texts: list[bytes], files: int, picks: list[int]
) -> None:
    lines = _lines(tmp_path_factory.mktemp("lines"), texts, files)
    indices = [i for i in picks if i < len(texts)]
    refs = lines.refs(indices)
    assert refs == [lines.ref(i) for i in indices]
    assert read_refs(refs) == [texts[i] for i in indices]


def test_an_index_outside_is_refused(tmp_path: Path) -> None:
    lines = _lines(tmp_path, [b"a", b"b"], 1)
    with pytest.raises(IndexError):
        lines.refs([0, 2])
    with pytest.raises(IndexError):
        lines.refs([-1])
    log = MerkleLog([leaf_hash(b"a")])
    with pytest.raises(IndexError):
        log.leaf_hashes([1])
    assert log.leaf_hashes([]) == []
