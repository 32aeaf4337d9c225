"""Mix-path mutations (issue 16, item 4): a record of the mix path made by honest parties
(`verivote.election.mixing`), then one dishonest step at a time, each made consistent
downstream as a colluding authority would (later mixers shuffle the bad output, mix-closed
names it, the guardians decrypt it, the decryption and the tally follow). The `mix` check
(`verivote.verify.check_mix`, which never imports the election package) must fail each time,
and pass the honest record."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.mix_fixtures import BALLOTS, MIXED, MIXERS, mix_manifest_data, written_rows
from verivote.board.merkle import MerkleLog
from verivote.crypto import wire
from verivote.crypto.ceremony import CeremonyOutcome, public_share, run_ceremony
from verivote.crypto.elgamal import ElectionKey
from verivote.crypto.groups import get_group
from verivote.crypto.rows import entry_hash, rows_to_json
from verivote.election.mixing import (
    combine_rows,
    count_ballots,
    decode_rows,
    entry_rows,
    make_shuffle_entry,
    mix_partial_entry,
)
from verivote.model.canonical import canonical_json
from verivote.model.manifest import parse_manifest
from verivote.verify.check_mix import check_mix
from verivote.verify.context import Election, Keys
from verivote.verify.loader import Board

MANIFEST = parse_manifest(mix_manifest_data())
BASE = bytes(range(32))
GROUP = get_group("ristretto255")
PRESENT = (1, 2, 4)


@pytest.fixture(scope="module")
def ceremony() -> CeremonyOutcome:
    return run_ceremony(GROUP, 5, 3, BASE)


def _key(outcome: CeremonyOutcome) -> ElectionKey[Any]:
    return ElectionKey(GROUP, GROUP.decode(bytes.fromhex(outcome.transcript.joint_key)))


@dataclass
class Dishonesty:
    """Hooks where one party cheats; each returns the (changed) entry."""

    shuffle: Callable[[int, dict[str, Any]], dict[str, Any]] = lambda _p, d: d
    partial: Callable[[int, dict[str, Any]], dict[str, Any]] = lambda _g, d: d
    ballots: Callable[[list[Any]], list[Any]] = lambda b: b
    counts: Callable[[dict[str, Any]], dict[str, Any]] = lambda c: c
    extra: list[bytes] = field(default_factory=list)


def make_record(outcome: CeremonyOutcome, cheat: Dishonesty | None = None) -> list[bytes]:
    cheat = cheat or Dishonesty()
    ek = _key(outcome)
    election = BASE.hex()
    entries: list[bytes] = []
    rows = written_rows(ek, BALLOTS, 1)
    previous = canonical_json(
        {"type": "mix-input", "election": election, "district": MIXED, "cutoff": 0,
         "width": 1, "rows": rows_to_json(GROUP, rows)}
    )  # fmt: skip
    entries.append(previous)
    for position, mixer in enumerate(MIXERS, start=1):
        doc = make_shuffle_entry(ek, BASE, MIXED, mixer, position, previous, rows)
        doc = cheat.shuffle(position, doc)
        previous = canonical_json(doc)
        entries.append(previous)
        rows = entry_rows(GROUP, previous)
    entries.append(canonical_json({
        "type": "mix-closed", "election": election,
        "districts": {MIXED: {"shuffles": len(MIXERS), "last": entry_hash(previous)}},
    }))  # fmt: skip
    t = outcome.transcript
    shares: dict[int, list[list[Any]]] = {}
    for g in PRESENT:
        public = public_share(GROUP, t, g)
        doc = cheat.partial(
            g, mix_partial_entry(GROUP, BASE, outcome.shares[g], public, MIXED, 0, rows)
        )
        shares[g] = [
            [wire.element_from_hex(GROUP, s["share"]) for s in row] for row in doc["shares"]
        ]
        entries.append(canonical_json(doc))
    ballots = cheat.ballots(decode_rows(GROUP, combine_rows(GROUP, 3, rows, shares)))
    entries.append(canonical_json({"type": "mix-decryption", "election": election,
                                   "district": MIXED, "guardians": list(PRESENT),
                                   "ballots": ballots}))  # fmt: skip
    d = MANIFEST.district(MIXED)
    counts = cheat.counts(count_ballots(ballots, [c.code for c in d.candidates], d.seats))
    entries.append(canonical_json({"type": "decrypted-tally", "election": election,
                                   "districts": {MIXED: counts}}))  # fmt: skip
    return [*entries, *cheat.extra]


def verify_mix(outcome: CeremonyOutcome, entries: list[bytes], jobs: int = 1) -> list[str]:
    docs = [json.loads(e) for e in entries]
    by_type: dict[str, list[int]] = {}
    for i, doc in enumerate(docs):
        by_type.setdefault(doc["type"], []).append(i)
    board = Board(Path("."), tuple(entries), tuple(docs), (), "", (), MerkleLog(), by_type)
    election = Election(MANIFEST, BASE, GROUP)
    keys = Keys(outcome.transcript, _key(outcome))
    check = check_mix(board, election, keys, jobs=jobs)
    return [f"{f.entry}: {f.reason}" for f in check.failures]


def test_the_honest_record_passes(ceremony: CeremonyOutcome) -> None:
    assert verify_mix(ceremony, make_record(ceremony)) == []


def _other_row(ek: ElectionKey[Any]) -> list[list[str]]:
    return rows_to_json(GROUP, written_rows(ek, [["3009", "3010"]], 1))[0]


def _at_position(p: int, change: Callable[[dict[str, Any]], None]) -> Dishonesty:
    def shuffle(position: int, doc: dict[str, Any]) -> dict[str, Any]:
        if position == p:
            change(doc)
        return doc

    return Dishonesty(shuffle=shuffle)


def test_a_mixer_that_replaces_a_row(ceremony: CeremonyOutcome) -> None:
    other = _other_row(_key(ceremony))

    def replace(doc: dict[str, Any]) -> None:
        doc["rows"][2] = other

    failures = verify_mix(ceremony, make_record(ceremony, _at_position(2, replace)))
    assert failures == ["2: shuffle: its shuffle proof does not verify"]


def test_the_proofs_are_checked_on_processes_with_the_same_outcome(
    ceremony: CeremonyOutcome,
) -> None:
    other = _other_row(_key(ceremony))

    def replace(doc: dict[str, Any]) -> None:
        doc["rows"][2] = other

    assert verify_mix(ceremony, make_record(ceremony), jobs=2) == []
    failures = verify_mix(ceremony, make_record(ceremony, _at_position(3, replace)), jobs=2)
    assert failures == ["3: shuffle: its shuffle proof does not verify"]


def test_a_mixer_that_drops_a_row(ceremony: CeremonyOutcome) -> None:
    def drop(doc: dict[str, Any]) -> None:
        del doc["rows"][4]

    failures = verify_mix(ceremony, make_record(ceremony, _at_position(2, drop)))
    assert "2: shuffle: it has 6 rows, its input 7" in failures


def test_a_mixer_that_duplicates_a_row(ceremony: CeremonyOutcome) -> None:
    def duplicate(doc: dict[str, Any]) -> None:
        doc["rows"][5] = doc["rows"][1]

    failures = verify_mix(ceremony, make_record(ceremony, _at_position(1, duplicate)))
    assert failures == ["1: shuffle: its shuffle proof does not verify"]


def test_a_shuffle_proof_from_another_input(ceremony: CeremonyOutcome) -> None:
    ek = _key(ceremony)
    rows = written_rows(ek, BALLOTS, 1)
    first = canonical_json({"type": "mix-input", "election": BASE.hex(), "district": MIXED,
                            "cutoff": 0, "width": 1,
                            "rows": rows_to_json(GROUP, rows)})  # fmt: skip
    foreign = make_shuffle_entry(ek, BASE, MIXED, "reformists", 2, first, rows)

    def swap(doc: dict[str, Any]) -> None:
        doc["proof"] = foreign["proof"]

    failures = verify_mix(ceremony, make_record(ceremony, _at_position(2, swap)))
    assert failures == ["2: shuffle: its shuffle proof does not verify"]


def test_a_wrong_decryption_share(ceremony: CeremonyOutcome) -> None:
    def partial(guardian: int, doc: dict[str, Any]) -> dict[str, Any]:
        if guardian == 2:
            doc["shares"][3][0]["share"] = wire.element_hex(GROUP, GROUP.pow_g(12345))
        return doc

    failures = verify_mix(ceremony, make_record(ceremony, Dishonesty(partial=partial)))
    assert failures == [
        "6: mix partial decryption of guardian 2: the proof of the share of row 3, "
        "ciphertext 0 fails",
        "8: mix-decryption of tehran: guardian 2 does not have a valid partial decryption "
        "of every batch",
    ]


def test_a_mix_decryption_with_a_changed_ballot(ceremony: CeremonyOutcome) -> None:
    def change(ballots: list[Any]) -> list[Any]:
        i = next(i for i, b in enumerate(ballots) if b == ["3001", "3002"])
        return [*ballots[:i], ["3001", "3003"], *ballots[i + 1 :]]

    failures = verify_mix(ceremony, make_record(ceremony, Dishonesty(ballots=change)))
    assert len(failures) == 1
    assert failures[0].startswith("8: mix-decryption of tehran: row ")
    assert "decrypts to ['3001', '3002'], not ['3001', '3003']" in failures[0]


def test_a_decrypted_tally_changed_for_a_mixnet_district(ceremony: CeremonyOutcome) -> None:
    def change(counts: dict[str, Any]) -> dict[str, Any]:
        counts["votes"]["3002"] += 1
        return counts

    failures = verify_mix(ceremony, make_record(ceremony, Dishonesty(counts=change)))
    assert failures == [
        "9: decrypted tally of tehran is not the law's count of its decoded ballots"
    ]


def test_a_shuffle_after_the_close_and_a_repeated_mixer(ceremony: CeremonyOutcome) -> None:
    honest = make_record(ceremony)
    late = json.loads(honest[3])
    failures = verify_mix(ceremony, [*honest, canonical_json(late)])
    assert failures == ["10: shuffle of 'tehran' by 'independents': it comes after mix-closed"]
