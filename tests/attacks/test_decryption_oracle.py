"""Attack (issue 14, item 2): the guardians as a decryption oracle.

The operator, who controls the server and the board, wants one voter's choices: it presents as
the "tally" the ciphertexts of that voter's ballot alone and asks the guardians to decrypt it.
Before issue 14 a guardian decrypted whatever `tally` entry was on the board (`verivote decrypt
--key`, `decrypt_as_guardian`): a quorum of them revealed the ballot. Now each guardian runs its
own program, rebuilds the tally from the cast ballots of a checkpoint it has verified, and
refuses anything else, in one line and in its log.

Written first against the old code, where this test failed: guardian 1 exited 0 and published
partial decryptions of both districts of the forged tally.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.types import ASGIApp

from tests.attacks.hostile_entries import RewrittenEntries
from tests.parties_fixtures import (
    EXPECTED,
    GUARDIANS,
    Authority,
    authority,
    guardian,
    held_ceremony,
    polling_day,
)
from tests.sealing_helpers import authority_key
from tests.site_fixtures import serving
from tests.store_fixtures import BACKENDS, backend_database
from verivote.election.count import run_count
from verivote.election.decryption import PARTIAL_TYPE, combine
from verivote.election.district_logs import seal_districts
from verivote.election.publishing import export_record, make_checkpoint
from verivote.election.tally import TALLY_TYPE, run_tally
from verivote.model.canonical import canonical_json
from verivote.parties.guardian import Client, ServerError
from verivote.verify import verify_record
from verivote.web.app import live_app, read_verifiers


@pytest.fixture(params=BACKENDS)
def auth(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Authority]:
    with backend_database(request.param, tmp_path) as url, authority(url, tmp_path) as a:
        held_ceremony(a)
        yield a


def _forged_tally(a: Authority, victim: dict[str, Any], cutoff: int) -> bytes:
    """A `tally` entry whose Tabriz totals are the victim's ballot alone."""
    empty = {"alpha": "00" * 32, "beta": "00" * 32}
    one = {
        "ballots": 1,
        "blank": victim["blank"]["ciphertext"],
        "candidates": {s["candidate"]: s["ciphertext"] for s in victim["selections"]},
    }
    other = {"ballots": 0, "blank": empty, "candidates": {"2201": empty, "2202": empty}}
    return canonical_json(
        {
            "type": TALLY_TYPE,
            "election": a.ctx.base_hash.hex(),
            "cutoff": cutoff,
            "districts": {"tabriz": one, "armenians-south": other},
        }
    )


def _sealed_size(a: Authority) -> int:
    """The board's size once every district log is sealed (what a tally's cutoff is)."""
    seal_districts(a.store, a.ctx, authority_key(a.keys, a.ctx))
    return a.store.merged_size(a.ctx.election_id)


def _every_guardian_refuses(a: Authority, reason: str) -> None:
    before = a.store.entry_count(a.ctx.election_id)
    for g in range(1, GUARDIANS + 1):
        code, out, err = guardian(a, g, "decrypt")
        assert code == 1, f"guardian {g} decrypted: {out}"
        assert len(err.splitlines()) == 1, err
        assert reason in err
        last = (a.folder(g) / "guardian.log").read_text(encoding="utf-8").splitlines()[-1]
        assert "refused:" in last
        assert reason in last
    assert a.store.entry_count(a.ctx.election_id) == before
    assert a.store.entries_of_type(a.ctx.election_id, PARTIAL_TYPE) == []


def test_a_forged_one_ballot_tally_on_the_board_is_refused_by_every_guardian(
    auth: Authority,
) -> None:
    ctx = auth.ctx
    victim = polling_day(auth)[1]
    # The operator publishes its forged tally in place of the real one, and has it signed.
    forged = _forged_tally(auth, victim, _sealed_size(auth))
    auth.store.append_entry(ctx.election_id, forged, TALLY_TYPE)
    make_checkpoint(auth.store, ctx, auth.keys)
    _every_guardian_refuses(auth, "is not the product of exactly the 7 cast ballots")


def test_a_second_tally_after_the_real_one_is_refused(auth: Authority) -> None:
    ctx = auth.ctx
    victim = polling_day(auth)[0]
    run_tally(auth.store, ctx, processes=1, signer=authority_key(auth.keys, ctx))
    forged = _forged_tally(auth, victim, _sealed_size(auth))
    auth.store.append_entry(ctx.election_id, forged, TALLY_TYPE)
    make_checkpoint(auth.store, ctx, auth.keys)
    _every_guardian_refuses(auth, "the signed board holds 2 tally entries")


def test_a_tally_under_no_signed_checkpoint_is_refused(auth: Authority) -> None:
    ctx = auth.ctx
    polling_day(auth)
    make_checkpoint(auth.store, ctx, auth.keys)
    run_tally(
        auth.store, ctx, processes=1, signer=authority_key(auth.keys, ctx)
    )  # after the latest checkpoint
    _every_guardian_refuses(auth, "no tally under the signed checkpoint")


def _replaced_tally(app: ASGIApp, forged: bytes) -> RewrittenEntries:
    """A hostile server: the signed board is honest, but the entries it serves to guardians
    have the tally replaced by the forged one."""
    return RewrittenEntries(
        app, lambda line: forged if json.loads(line).get("type") == TALLY_TYPE else line
    )


def test_a_server_serving_a_replaced_tally_is_refused_and_the_record_still_verifies(
    auth: Authority, tmp_path: Path
) -> None:
    ctx = auth.ctx
    victim = polling_day(auth)[1]
    run_tally(auth.store, ctx, processes=1, signer=authority_key(auth.keys, ctx))
    make_checkpoint(auth.store, ctx, auth.keys)
    tally_index = auth.store.entries_of_type(ctx.election_id, TALLY_TYPE)[0][0]
    forged = _forged_tally(auth, victim, tally_index)
    hostile = _replaced_tally(
        live_app(auth.store, ctx, read_verifiers(auth.keys, ctx.election_id)), forged
    )
    honest = auth.server
    with serving(hostile) as server:
        auth.server = server
        _every_guardian_refuses(auth, "do not give the root of the signed checkpoint")
    # Through the honest server the same guardians decrypt the real tally (a refusal is not a
    # decryption: they have decrypted nothing yet), and the whole record verifies.
    auth.server = honest
    for g in (1, 2):
        code, _, err = guardian(auth, g, "decrypt")
        assert code == 0, err
    assert combine(auth.store, ctx)["districts"] == EXPECTED
    run_count(auth.store, ctx)
    make_checkpoint(auth.store, ctx, auth.keys)
    export_record(auth.store, ctx, auth.keys, tmp_path / "record")
    report = verify_record(tmp_path / "record", jobs=1)
    assert report.valid, report.failed()


def test_the_server_appends_no_partial_decryption_that_does_not_verify(auth: Authority) -> None:
    ctx = auth.ctx
    polling_day(auth)
    run_tally(auth.store, ctx, processes=1, signer=authority_key(auth.keys, ctx))
    make_checkpoint(auth.store, ctx, auth.keys)
    code, _, err = guardian(auth, 1, "decrypt")
    assert code == 0, err
    _, raw = auth.store.entries_of_type(ctx.election_id, PARTIAL_TYPE)[0]
    entry = json.loads(raw)
    token = (auth.token(2)).read_text(encoding="utf-8").strip()
    client = Client(auth.server, token)
    # guardian 2 posting guardian 1's entry as its own, and then with its number
    with pytest.raises(ServerError, match="may post only its own"):
        client.post_json("/api/decryption/partials", entry)
    with pytest.raises(ServerError, match="does not verify"):
        client.post_json("/api/decryption/partials", {**entry, "guardian": 2})
    before = auth.store.entry_count(ctx.election_id)
    with pytest.raises(ServerError, match="unknown guardian token"):
        Client(auth.server, "x" * 43).post_json("/api/decryption/partials", entry)
    assert auth.store.entry_count(ctx.election_id) == before
