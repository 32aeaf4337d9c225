"""Attack (issue 14, item 5, in an election with a voter roll): station staff, or anyone with
the casting path, casting more ballots than voters checked in at the station. The verifier
holds every station to no more ballots than check-ins at its close, so before the casting path
refused such a ballot, one extra ballot made the whole record fail verification for good."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attacks.casting_fixtures import close_and_verify, polling_election
from tests.store_fixtures import BACKENDS
from verivote.crypto.ballot import encrypt_ballot
from verivote.polling.roll import check_digit
from verivote.store import NoCheckin
from verivote.store.roll import Checkin, check_in_many, import_voters


def _code(n: int) -> str:
    nine = f"{n:09d}"
    return nine + check_digit(nine)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_ballot_beyond_the_stations_check_ins_is_refused_and_the_record_verifies(
    backend: str, tmp_path: Path
) -> None:
    with polling_election(backend, tmp_path) as polling:
        store, ctx = polling.store, polling.ctx
        assert ctx.key is not None
        district = ctx.manifest.station("tabriz-001").district
        import_voters(store.engine, ctx.election_id, [(_code(n), district, None) for n in (1, 2)])
        # one voter checked in at tabriz-001, the other at tabriz-002
        answers = check_in_many(store.engine, ctx.election_id, [
            Checkin(_code(1), "tabriz-001", district, 9, "r-1"),
            Checkin(_code(2), "tabriz-002", district, 9, "r-2"),
        ])  # fmt: skip
        assert [a.status for a in answers] == ["accepted", "accepted"]  # type: ignore[union-attr]

        def ballot(station: str) -> dict[str, object]:
            assert ctx.key is not None
            doc, _ = encrypt_ballot(ctx.manifest, ctx.key, ctx.base_hash, station, ["1101"])
            return doc

        from verivote.election.service import cast

        cast(store, ctx, ballot("tabriz-001"))
        before = store.entry_count(ctx.election_id)
        with pytest.raises(NoCheckin, match="1 cast ballots for 1 voters checked in"):
            cast(store, ctx, ballot("tabriz-001"))
        with pytest.raises(NoCheckin, match="0 cast ballots for 0 voters checked in"):
            cast(store, ctx, ballot("tabriz-003"))
        assert store.entry_count(ctx.election_id) == before
        cast(store, ctx, ballot("tabriz-002"))  # the other station's voter still votes
        report = close_and_verify(polling, tmp_path / "record")
        assert report.valid, report.to_json()
