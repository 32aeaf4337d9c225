"""The mix's large entries are not parsed by the verifier's main process (issue 17, README
"What the verifier's main process still does"): the scan reads their type from the line's end
(`loader.unparsed_type`), and the mix check's tasks read them from the record by place
(`Board.ref`). The type so read is the entry's whenever the line is JSON; a line that is not
is reported, not trusted; the report is the one of a board held in memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.attacks.test_mix_tamper import (
    BASE,
    GROUP,
    MANIFEST,
    Dishonesty,
    _at_position,
    _key,
    _other_row,
    make_record,
    verify_mix,
)
from verivote.board.lines import read_ref
from verivote.board.record import CHECKPOINT, ENTRIES, KEYS
from verivote.crypto.ceremony import CeremonyOutcome, run_ceremony
from verivote.model.canonical import canonical_json
from verivote.verify import check_mix as check_mix_module
from verivote.verify import loader
from verivote.verify.check_mix import check_mix
from verivote.verify.context import Election, Keys
from verivote.verify.loader import UNPARSED, load_board, unparsed_type

TYPES = [*sorted(UNPARSED), "tally", "mix-input", "ballot-cast", "shuffles", "type"]

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=12))
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(["type", "rows"]), st.text(max_size=6)),
                        inner, max_size=4),
    ),
    max_leaves=20,
)  # fmt: skip
_values = st.one_of(_json, st.sampled_from(TYPES))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.one_of(st.sampled_from(["type", "rows", "z", "u"]),
                                 st.text(max_size=6)), _values, max_size=5),
       st.sampled_from([*TYPES, None]))  # fmt: skip
def test_the_type_read_from_the_end_is_the_entrys_own(doc: dict[str, Any], kind: Any) -> None:
    if kind is not None:
        doc["type"] = kind
    raw = canonical_json(doc)
    found = unparsed_type(raw)
    if found is not None:
        assert json.loads(raw).get("type") == found
    # every entry of an unparsed type whose keys all sort before "type" (as the mix's do) is
    # found so, whatever else it holds
    own = doc.get("type")
    if isinstance(own, str) and own in UNPARSED and max(doc) == "type":
        assert found == own


@pytest.mark.parametrize(
    "line",
    [
        b'{"rows":[[1,2],"type":"shuffle"}',
        b'{"a":{"b":1,"type":"shuffle"}}',
        b'{"a":"x","type":"shuffle"} ',
        b'{"a":"x","type":"shufflex"}',
        b'"type":"mix-decryption"}',
    ],
)
def test_only_a_line_ending_as_a_canonical_entry_is_typed_so(line: bytes) -> None:
    found = unparsed_type(line)
    try:
        doc = json.loads(line)
    except ValueError:
        return  # not JSON: the task that reads it says so (below)
    assert found is None or (isinstance(doc, dict) and doc.get("type") == found)


@pytest.fixture(scope="module")
def ceremony() -> CeremonyOutcome:
    return run_ceremony(GROUP, 5, 3, BASE)


def _record(directory: Path, entries: list[bytes]) -> Path:
    """A record folder holding `entries` as its log (no checkpoint: only the mix is checked)."""
    (directory / ENTRIES).parent.mkdir(parents=True, exist_ok=True)
    (directory / ENTRIES).write_bytes(b"".join(e + b"\n" for e in entries))
    (directory / CHECKPOINT).write_bytes(b"")
    (directory / KEYS).write_bytes(b"")
    return directory


def _streamed_failures(
    outcome: CeremonyOutcome, entries: list[bytes], directory: Path, jobs: int = 1
) -> list[str]:
    board = load_board(_record(directory, entries), stream=True)
    election = Election(MANIFEST, BASE, GROUP)
    keys = Keys(outcome.transcript, _key(outcome))
    check = check_mix(board, election, keys, jobs=jobs)
    return [f"{f.entry}: {f.reason}" for f in check.failures]


def test_the_scan_parses_no_shuffle_share_or_decryption_line(
    ceremony: CeremonyOutcome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = make_record(ceremony)
    parsed: list[bytes] = []
    real = loader._parse

    def counting(raw: bytes) -> tuple[Any, str]:
        parsed.append(raw)
        return real(raw)

    monkeypatch.setattr(loader, "_parse", counting)
    board = load_board(_record(tmp_path, entries), stream=True)
    kinds = [json.loads(e)["type"] for e in entries]
    assert sorted(parsed) == sorted(e for e, k in zip(entries, kinds, strict=True)
                                    if k not in UNPARSED)  # fmt: skip
    assert {k for k in kinds if k in UNPARSED} == set(UNPARSED)
    for kind in UNPARSED:
        assert board.indices(kind) == [i for i, k in enumerate(kinds) if k == kind]
    # a task reads the entry by its place, and the bytes are the line's
    for index in board.indices("shuffle"):
        assert read_ref(board.ref(index)) == entries[index]


def _replace_row(outcome: CeremonyOutcome) -> Dishonesty:
    other = _other_row(_key(outcome))

    def replace(doc: dict[str, Any]) -> None:
        doc["rows"][2] = other

    return _at_position(2, replace)


def _wrong_share(guardian: int) -> Dishonesty:
    def partial(g: int, doc: dict[str, Any]) -> dict[str, Any]:
        if g == guardian:
            doc["shares"][1] = doc["shares"][0]
        return doc

    return Dishonesty(partial=partial)


@pytest.mark.parametrize("cheat", ["honest", "row", "share", "ballot", "not json"])
@pytest.mark.parametrize("jobs", [1, 2])
def test_read_by_tasks_from_the_record_the_report_is_the_held_boards(
    ceremony: CeremonyOutcome, tmp_path: Path, cheat: str, jobs: int
) -> None:
    dishonesty = {
        "honest": None,
        "row": _replace_row(ceremony),
        "share": _wrong_share(2),
        "ballot": Dishonesty(ballots=lambda b: [["3001"], *b[1:]]),
        "not json": None,
    }[cheat]
    entries = make_record(ceremony, dishonesty)
    streamed_entries = list(entries)
    if cheat == "not json":
        # the second shuffle's line cut short: it still ends as a shuffle entry does
        streamed_entries[2] = entries[2][: len(entries[2]) // 2] + b',"type":"shuffle"}'
        failures = _streamed_failures(ceremony, streamed_entries, tmp_path, jobs)
        assert failures[0] == "2: shuffle: malformed: not JSON (JSONDecodeError)"
        assert "3: shuffle of 'tehran' by 'independents': position 3, the chain's next is 2" in (
            failures
        )
        return
    held = verify_mix(ceremony, entries, jobs=jobs)
    assert _streamed_failures(ceremony, streamed_entries, tmp_path, jobs) == held
    assert (held == []) == (cheat == "honest")


def test_a_line_changed_after_the_scan_is_not_read(
    ceremony: CeremonyOutcome, tmp_path: Path
) -> None:
    entries = make_record(ceremony)
    board = load_board(_record(tmp_path, entries), stream=True)
    index = board.indices("shuffle")[0]
    ref = board.ref(index)
    data = bytearray((tmp_path / ENTRIES).read_bytes())
    at = data.index(entries[index]) + 20
    data[at] = ord("0") if data[at] != ord("0") else ord("1")
    (tmp_path / ENTRIES).write_bytes(bytes(data))
    with pytest.raises(OSError, match="changed since it was read"):
        read_ref(ref)


def test_the_main_process_parses_no_shuffle_and_no_share(
    ceremony: CeremonyOutcome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a pool, the shuffles and the partial decryptions (the bulk of a national log)
    are parsed by its workers only. A step with a single task runs where it is (a pool would
    cost more): here the one district's decryption, and its last rows, which one task cuts
    into batches from its last shuffle, so that shuffle is left out of the watch; and the
    one batch's combination, which reads the shares it combines, so what that task parses
    is left out too."""
    entries = make_record(ceremony)
    record = _record(tmp_path, entries)
    shuffles = [e for e in entries if unparsed_type(e) == "shuffle"]
    shares = [e for e in entries if unparsed_type(e) == "mix-partial-decryption"]
    assert len(shuffles) == 3
    assert len(shares) == 3
    heavy = {*shuffles[:-1], *shares}
    seen: list[bytes] = []
    real = json.loads
    combining = [False]
    real_combine = check_mix_module._combine_task

    def watching(raw: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(raw, bytes) and raw in heavy and not combining[0]:
            seen.append(raw)
        return real(raw, *args, **kwargs)

    def combine(task: Any) -> Any:
        combining[0] = True
        try:
            return real_combine(task)
        finally:
            combining[0] = False

    monkeypatch.setattr(json, "loads", watching)
    monkeypatch.setattr(check_mix_module, "_combine_task", combine)
    board = load_board(record, stream=True)
    election = Election(MANIFEST, BASE, GROUP)
    check = check_mix(board, election, Keys(ceremony.transcript, _key(ceremony)), jobs=2)
    assert check.passed, check.failures
    assert seen == []
    # the watch itself works: the same check in one process parses each of them here
    check_mix(board, election, Keys(ceremony.transcript, _key(ceremony)), jobs=1)
    assert set(seen) == heavy


def test_no_row_of_the_mix_passes_through_the_main_process(
    ceremony: CeremonyOutcome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The partial decryptions' and the combination's tasks read their batch of the last
    rows from the record (`verivote.verify.pieces`): what the main process sends to its
    workers names where a batch is, and holds none of its ciphertexts (issue 17)."""
    import multiprocessing.reduction as reduction

    entries = make_record(ceremony)
    record = _record(tmp_path, entries)
    last = json.loads([e for e in entries if unparsed_type(e) == "shuffle"][-1])
    elements = {element for row in last["rows"] for pair in row for element in pair}
    sent: list[bytes] = []
    real = reduction.ForkingPickler.dumps

    def dumps(obj: Any, protocol: int | None = None) -> Any:
        data = real(obj, protocol)
        sent.append(bytes(data))
        return data

    monkeypatch.setattr(reduction.ForkingPickler, "dumps", staticmethod(dumps))
    board = load_board(record, stream=True)
    election = Election(MANIFEST, BASE, GROUP)
    check = check_mix(board, election, Keys(ceremony.transcript, _key(ceremony)), jobs=2)
    assert check.passed, check.failures
    assert sent  # the watch works: tasks were sent to the pool
    assert not [e for e in elements if any(e.encode() in payload for payload in sent)]


def test_a_split_shuffle_is_neither_parsed_nor_sent_by_the_main_process(
    ceremony: CeremonyOutcome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shuffle checked by parts over the pool (Tehran's at the 2024 shape,
    `check_held_shuffle`): two tasks cut its entries, and the tasks that feed its hash and
    check its products read their parts from the record; the main process parses none of
    its rows and sends none of its ciphertexts (issue 17). The last shuffle is cut into the
    decryption's batches by a single task, which runs in the main process: left out."""
    import multiprocessing.reduction as reduction

    entries = make_record(ceremony)
    record = _record(tmp_path, entries)
    shuffles = [e for e in entries if unparsed_type(e) == "shuffle"]
    heavy = set(shuffles[:-1])
    elements = {
        element
        for line in shuffles[:-1]
        for row in json.loads(line)["rows"]
        for pair in row
        for element in pair
    }
    seen: list[bytes] = []
    sent: list[bytes] = []
    real_loads = json.loads
    real_dumps = reduction.ForkingPickler.dumps

    def watching(raw: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(raw, bytes) and raw in heavy:
            seen.append(raw)
        return real_loads(raw, *args, **kwargs)

    def dumps(obj: Any, protocol: int | None = None) -> Any:
        data = real_dumps(obj, protocol)
        sent.append(bytes(data))
        return data

    monkeypatch.setattr(json, "loads", watching)
    monkeypatch.setattr(reduction.ForkingPickler, "dumps", staticmethod(dumps))
    board = load_board(record, stream=True)
    election = Election(MANIFEST, BASE, GROUP)
    keys = Keys(ceremony.transcript, _key(ceremony))
    check = check_mix(board, election, keys, jobs=2, split_rows=1)
    assert check.passed, check.failures
    assert seen == []
    assert sent
    assert not [e for e in elements if any(e.encode() in payload for payload in sent)]
    assert not [e for e in elements if any(bytes.fromhex(e) in payload for payload in sent)]
