"""A whole election end to end (small): the encrypted path and the plaintext path agree
exactly, in both rounds, on SQLite and PostgreSQL; on the mixnet path (the demo's Shahriar,
issue 16) down to each decoded ballot, and its NIST CVRs are those ballots."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.store_fixtures import BACKENDS, backend_database
from tests.test_interop_nist_schemas import CVR, validate
from verivote.board.record import check_record
from verivote.cli.app import run
from verivote.crypto.written import canonical_written
from verivote.interop.nist.cvr_reader import read_cvr_ballots
from verivote.model.ballots import Ballot
from verivote.rules.districts import count_districts
from verivote.rules.majlis import count_majlis, parse_fraction, tally_majlis
from verivote.rules.plurality import BlockTally
from verivote.rules.tiebreak import PublicLot
from verivote.sim.election import RoundOutcome, run_election
from verivote.store import Store, make_engine, migrate


def check_mix(outcome: RoundOutcome, tmp: Path) -> None:
    """Each mixnet district: the decoded ballots of its record are, as a multiset, exactly the
    canonical forms of what its voters wrote (`outcome.written`), they count by the law as the
    codes as written do, and its CVRs read back as those ballots."""
    manifest = outcome.ctx.manifest
    assert outcome.record is not None
    entries = (outcome.record / "log" / "entries.jsonl").read_text(encoding="utf-8")
    docs = [json.loads(line) for line in entries.splitlines()]
    mixed = manifest.mixnet_districts()
    assert [d.id for d in mixed] == ["shahriar"]
    for district in mixed:
        codes = [c.code for c in district.candidates]
        (entry,) = [
            d for d in docs if d["type"] == "mix-decryption" and d["district"] == district.id
        ]
        decoded = entry["ballots"]
        assert None not in decoded
        voters = outcome.written[district.id]
        assert len(voters) == outcome.ballots[district.id] > 0
        # the voters wrote repeats and codes of no candidate; their devices encrypted the rest
        assert any(len(set(v)) < len(v) or not set(v) <= set(codes) for v in voters)
        canonical = Counter(tuple(canonical_written(district, v)) for v in voters)
        assert Counter(tuple(b) for b in decoded) == canonical
        law = tally_majlis([Ballot(tuple(v)) for v in voters], codes, district.seats)
        assert tally_majlis([Ballot(tuple(b)) for b in decoded], codes, district.seats) == law
        assert outcome.mix[district.id]["mixers"] == manifest.mixers()
        assert outcome.mix[district.id]["ballots"] == len(voters)
        # three shuffles by three factions on the board, in order, each after the previous
        shuffles = [d for d in docs if d["type"] == "shuffle" and d["district"] == district.id]
        assert [(d["mixer"], d["position"]) for d in shuffles] == [
            (m, n) for n, m in enumerate(manifest.mixers(), 1)
        ]
        out = tmp / f"cvr-{manifest.round}-{district.id}.json"
        assert run(["export", "nist-cvr", "--record", str(outcome.record), "-o", str(out)]) == 0
        report = json.loads(out.read_text(encoding="utf-8"))
        validate(report, CVR)
        back = read_cvr_ballots(report).ballots
        # one CVR per decoded ballot, in the order of the last shuffle (read back, equal
        # neighbours come as one ballot of multiplicity 2)
        assert [b.marks for b in back for _ in range(b.count)] == [tuple(b) for b in decoded]


def check_round(outcome: RoundOutcome) -> None:
    manifest = outcome.ctx.manifest
    decrypted = outcome.decrypted["districts"]
    for district in manifest.districts:
        votes = outcome.votes.get(district.id)
        got = decrypted[district.id]
        # The decrypted tally is the plaintext tally of what the voters chose.
        assert got["ballots"] == outcome.ballots[district.id]
        assert got["blank"] == outcome.blank[district.id]
        assert got["votes"] == {c.code: (votes or {}).get(c.code, 0) for c in district.candidates}
    # The published seats are what the counting law gives on the plaintext votes.
    seed = bytes.fromhex(outcome.count["seed"])
    plain = {
        d.id: {
            "ballots": outcome.ballots[d.id],
            "blank": outcome.blank[d.id],
            "votes": {c.code: (outcome.votes.get(d.id) or {}).get(c.code, 0) for c in d.candidates},
        }
        for d in manifest.districts
    }
    expected = count_districts(manifest, {"districts": plain}, seed)
    for district in manifest.districts:
        assert outcome.count["districts"][district.id] == expected[district.id].to_json_dict()
        if manifest.round == 1:
            # and directly through verivote.rules, not through the election package
            codes = [c.code for c in district.candidates]
            block = BlockTally(
                plain[district.id]["votes"],
                outcome.ballots[district.id] - outcome.blank[district.id],
                outcome.blank[district.id],
            )
            direct = count_majlis(
                block, codes, district.seats, PublicLot(seed, district.id),
                parse_fraction(manifest.threshold),
            )  # fmt: skip
            assert direct.elected == outcome.count["districts"][district.id]["elected"]
    assert outcome.record is not None
    assert check_record(outcome.record) == []
    assert (outcome.record / "results.md").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_small_election_agrees_with_its_plaintext_in_both_rounds(
    tmp_path: Path, backend: str
) -> None:
    with backend_database(backend, tmp_path) as url:
        engine = make_engine(url)
        migrate(engine)
        try:
            first, second = run_election(
                Store(engine), tmp_path, voters=250, seed=2024, processes=1
            )
        finally:
            engine.dispose()
    check_round(first)
    assert second is not None, "this seed gives a runoff"
    check_round(second)
    # Round 2 holds exactly the runoff fields of round 1.
    for district in second.ctx.manifest.districts:
        field = first.count["districts"][district.id]["runoff"]
        assert [c.code for c in district.candidates] == field
    check_mix(first, tmp_path)
    check_mix(second, tmp_path)
