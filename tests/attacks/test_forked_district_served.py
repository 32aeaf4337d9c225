"""Attack (issue 17): the authority's server serves a party a district log other than the one
it sealed into the national log, a fork of the district's log.

The national log it serves is the signed and witnessed one, so every check of the national
checkpoint passes; the district log it serves for Tabriz has its challenged ballot changed (an
entry no count or tally looks at, so that nothing but the seal can tell). A guardian fetches
each district's log up to its last seal and acts only on what `open_sealed` accepts: it
refuses, says why in one line and in its log, and posts nothing. Through the honest server the
same guardians decrypt. Run on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.hostile_entries import RewrittenEntries
from tests.parties_fixtures import Authority, authority, guardian, held_ceremony, polling_day
from tests.sealing_helpers import authority_key
from tests.site_fixtures import serving
from tests.store_fixtures import BACKENDS, backend_database
from verivote.election.decryption import PARTIAL_TYPE
from verivote.election.publishing import make_checkpoint
from verivote.election.tally import run_tally
from verivote.model.canonical import canonical_json
from verivote.web.app import live_app, read_verifiers

FORKED = "tabriz"


@pytest.fixture(params=BACKENDS)
def auth(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Authority]:
    with backend_database(request.param, tmp_path) as url, authority(url, tmp_path) as a:
        held_ceremony(a)
        yield a


def _forked(line: bytes) -> bytes:
    doc = json.loads(line)
    if doc.get("type") != "ballot-challenged":
        return line
    doc["choices"] = ["1101"]
    return canonical_json(doc)


def test_a_server_serving_a_forked_district_log_is_refused_by_every_guardian(
    auth: Authority,
) -> None:
    ctx = auth.ctx
    polling_day(auth)
    run_tally(auth.store, ctx, processes=1, signer=authority_key(auth.keys, ctx))
    make_checkpoint(auth.store, ctx, auth.keys)
    # the national log it serves is the signed one; FORKED's log has its challenged ballot
    # changed
    app = live_app(auth.store, ctx, read_verifiers(auth.keys, ctx.election_id))
    hostile = RewrittenEntries(app, _forked, FORKED)
    honest = auth.server
    with serving(hostile) as server:
        auth.server = server
        for g in (1, 2, 3):
            code, out, err = guardian(auth, g, "decrypt")
            assert code == 1, f"guardian {g} decrypted from a forked district log: {out}"
            assert len(err.splitlines()) == 1, err
            assert "the district logs do not check" in err
            assert FORKED in err
            last = (auth.folder(g) / "guardian.log").read_text(encoding="utf-8").splitlines()[-1]
            assert "refused:" in last
            assert "the district logs do not check" in last
    assert auth.store.entries_of_type(ctx.election_id, PARTIAL_TYPE) == []
    auth.server = honest
    code, _, err = guardian(auth, 1, "decrypt")
    assert code == 0, err
