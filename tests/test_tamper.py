"""The tamper suite: one random change at a time to a real election record, and the verifier
must fail every time. The changes are not chosen to suit the verifier: any value of any JSON
leaf of any entry, a dropped line, a duplicated line, two lines swapped, a truncated file, a
changed checkpoint or key. The seed is printed (and taken from VERIVOTE_TAMPER_SEED if set), so
a failure can be replayed."""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.verify_fixtures import VerifyElection
from verivote.model.canonical import canonical_json
from verivote.verify import RecordError, verify_record

CHANGES = 200


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaves(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _leaves(v, (*path, i))] or [path]
    return [path]


def _other_value(value: Any, rng: random.Random) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice([-1, 1, 2, 1000])
    if isinstance(value, str):
        if not value:
            return "x"
        i = rng.randrange(len(value))
        pool = "0123456789abcdef" if all(c in "0123456789abcdef" for c in value) else "xyz-_ 7"
        new = rng.choice([c for c in pool if c != value[i]])
        return value[:i] + new + value[i + 1 :]
    if value is None:
        return 0
    if isinstance(value, list):  # an empty list
        return [0]
    return {"x": 0}  # an empty object


def change_leaf(log: Path, rng: random.Random) -> str:
    lines = (log / "entries.jsonl").read_bytes().split(b"\n")[:-1]
    index = rng.randrange(len(lines))
    doc = json.loads(lines[index])
    path = rng.choice(_leaves(doc))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if path:
        parent[path[-1]] = _other_value(parent[path[-1]], rng)
    lines[index] = canonical_json(doc)
    (log / "entries.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return f"entry {index}, leaf {'/'.join(map(str, path))}"


def _edit_lines(log: Path, edit: Callable[[list[bytes]], str]) -> str:
    lines = (log / "entries.jsonl").read_bytes().split(b"\n")[:-1]
    what = edit(lines)
    (log / "entries.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return what


def drop_line(log: Path, rng: random.Random) -> str:
    def edit(lines: list[bytes]) -> str:
        i = rng.randrange(len(lines))
        del lines[i]
        return f"line {i} dropped"

    return _edit_lines(log, edit)


def duplicate_line(log: Path, rng: random.Random) -> str:
    def edit(lines: list[bytes]) -> str:
        i = rng.randrange(len(lines))
        lines.insert(rng.randrange(len(lines) + 1), lines[i])
        return f"line {i} duplicated"

    return _edit_lines(log, edit)


def swap_lines(log: Path, rng: random.Random) -> str:
    def edit(lines: list[bytes]) -> str:
        while True:
            i, j = rng.sample(range(len(lines)), 2)
            if lines[i] != lines[j]:
                lines[i], lines[j] = lines[j], lines[i]
                return f"lines {i} and {j} swapped"

    return _edit_lines(log, edit)


def truncate_file(log: Path, rng: random.Random) -> str:
    name = rng.choice(["entries.jsonl", "checkpoint", "keys"])
    data = (log / name).read_bytes()
    cut = rng.randrange(len(data))
    (log / name).write_bytes(data[:cut])
    return f"{name} truncated to {cut} bytes"


def change_byte(log: Path, rng: random.Random, name: str) -> str:
    data = bytearray((log / name).read_bytes())
    i = rng.randrange(len(data))
    data[i] = rng.choice([b for b in range(256) if b != data[i]])
    (log / name).write_bytes(bytes(data))
    return f"{name} byte {i} changed"


MUTATIONS: list[Callable[[Path, random.Random], str]] = [
    change_leaf,
    change_leaf,
    change_leaf,
    drop_line,
    duplicate_line,
    swap_lines,
    truncate_file,
    lambda log, rng: change_byte(log, rng, "checkpoint"),
    lambda log, rng: change_byte(log, rng, "keys"),
]


@pytest.mark.slow
def test_every_random_change_to_a_record_is_caught(
    verify_election: VerifyElection,
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("VERIVOTE_TAMPER_SEED", secrets.randbits(32)))
    print(f"tamper seed {seed} (VERIVOTE_TAMPER_SEED={seed} replays it)")
    rng = random.Random(seed)
    records = [verify_election.round1, verify_election.round2]
    assert all(verify_record(r, jobs=1).valid for r in records)
    for n in range(CHANGES):
        record = rng.choice(records)
        work = tmp_path / f"change-{n}"
        shutil.copytree(record, work)
        mutation = rng.choice(MUTATIONS)
        what = mutation(work / "log", rng)
        try:
            report = verify_record(work, jobs=1)
        except RecordError:
            pass  # a record that cannot be read at all fails too (exit 2)
        else:
            assert not report.valid, f"seed {seed}: change {n} ({what}) was not caught"
        shutil.rmtree(work)
