"""A whole election end to end (small): the encrypted path and the plaintext path agree
exactly, in both rounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from verivote.board.record import check_record
from verivote.rules.districts import count_districts
from verivote.rules.majlis import count_majlis, parse_fraction
from verivote.rules.plurality import BlockTally
from verivote.rules.tiebreak import PublicLot
from verivote.sim.election import RoundOutcome, run_election
from verivote.store import Store, make_engine, migrate


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
def test_a_small_election_agrees_with_its_plaintext_in_both_rounds(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    migrate(engine)
    first, second = run_election(Store(engine), tmp_path, voters=400, seed=2024, processes=1)
    check_round(first)
    assert second is not None, "this seed gives a runoff"
    check_round(second)
    # Round 2 holds exactly the runoff fields of round 1.
    for district in second.ctx.manifest.districts:
        field = first.count["districts"][district.id]["runoff"]
        assert [c.code for c in district.candidates] == field
    engine.dispose()
