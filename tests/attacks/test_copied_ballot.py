"""Attack (issue 14, item 5): a ballot copied under another station of its district, or
replayed, must be refused by `cast` before anything is written, and the record must still
verify afterwards. Before issue 14 a ballot's proofs bound only the election and the district:
the copy was accepted and the verifier then rejected the whole record, for good."""

from __future__ import annotations

import copy
import secrets
from pathlib import Path

import pytest

from tests.attacks.casting_fixtures import close_and_verify, polling_election
from tests.store_fixtures import BACKENDS
from verivote.crypto.ballot import BallotError, encrypt_ballot
from verivote.election.service import cast, challenge


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_ballot_copied_to_another_station_is_refused_and_the_record_verifies(
    backend: str, tmp_path: Path
) -> None:
    with polling_election(backend, tmp_path) as polling:
        store, ctx = polling.store, polling.ctx
        assert ctx.key is not None
        ballot, _ = encrypt_ballot(ctx.manifest, ctx.key, ctx.base_hash, "tabriz-001", ["1101"])
        cast(store, ctx, ballot)
        before = store.entry_count(ctx.election_id)
        for station in ("tabriz-002", "tabriz-003"):  # same district, other stations
            moved = copy.deepcopy(ballot)
            moved["station"] = station
            with pytest.raises(BallotError, match="does not verify"):
                cast(store, ctx, moved)
        assert store.entry_count(ctx.election_id) == before
        report = close_and_verify(polling, tmp_path / "record")
        assert report.valid, report.to_json()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_replayed_ballot_is_refused_cast_or_challenged_and_the_record_verifies(
    backend: str, tmp_path: Path
) -> None:
    with polling_election(backend, tmp_path) as polling:
        store, ctx = polling.store, polling.ctx
        assert ctx.key is not None
        ballot, opened = encrypt_ballot(
            ctx.manifest, ctx.key, ctx.base_hash, "tabriz-002", ["1102", "1103"]
        )
        cast(store, ctx, ballot)
        spied, spied_opening = encrypt_ballot(
            ctx.manifest, ctx.key, ctx.base_hash, "tabriz-002", ["1104"]
        )
        challenge(store, ctx, spied, spied_opening)
        before = store.entry_count(ctx.election_id)
        with pytest.raises(BallotError, match="already"):
            cast(store, ctx, copy.deepcopy(ballot))  # the same ballot again
        with pytest.raises(BallotError, match="already"):
            challenge(store, ctx, copy.deepcopy(ballot), opened)  # cast, then "challenged"
        with pytest.raises(BallotError, match="already"):
            cast(store, ctx, copy.deepcopy(spied))  # a challenged ballot is never cast
        renamed = copy.deepcopy(ballot)  # the same ciphertexts and proofs under a new nonce
        renamed["nonce"] = secrets.token_hex(32)
        with pytest.raises(BallotError, match="does not verify"):
            cast(store, ctx, renamed)
        assert store.entry_count(ctx.election_id) == before
        report = close_and_verify(polling, tmp_path / "record")
        assert report.valid, report.to_json()
