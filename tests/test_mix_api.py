"""The mix path's routes of the authority's server (issue 16, items 2 and 3), over real HTTP:
POST /api/mix/shuffles takes a shuffle only with a mixer's token and only as the chain's next
checked link; POST /api/decryption/mix-partials takes a guardian's batch of the closed mix only
with that guardian's token and valid proofs. Guardians hold the ceremony as processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mix_fixtures import (
    BALLOTS,
    CODES,
    MIXED,
    MIXERS,
    SEATS,
    mix_manifest_data,
    publish_mix_input,
)
from tests.parties_fixtures import Authority, authority, held_ceremony
from tests.sealing_helpers import authority_key
from tests.store_fixtures import sqlite_database
from verivote.crypto.ceremony import public_share
from verivote.crypto.keyfile import read_key_share
from verivote.election.decryption import combine, decrypt_as_guardian
from verivote.election.mixers import issue_mixer_tokens
from verivote.election.mixing import (
    close_mix,
    entry_rows,
    final_rows,
    make_shuffle_entry,
    mix_partial_entry,
    mix_state,
)
from verivote.election.tally import run_tally
from verivote.model.ballots import Ballot
from verivote.parties.guardian import Client, ServerError
from verivote.rules.majlis import tally_majlis


@pytest.fixture
def auth(tmp_path: Path) -> Iterator[Authority]:
    with sqlite_database(tmp_path) as url, authority(url, tmp_path, mix_manifest_data()) as a:
        held_ceremony(a)
        publish_mix_input(a.store, a.ctx, BALLOTS)
        run_tally(a.store, a.ctx, processes=1, signer=authority_key(a.keys, a.ctx))
        yield a


def _next_shuffle(a: Authority, mixer: str) -> dict[str, object]:
    ctx = a.ctx
    assert ctx.key is not None
    chain = mix_state(a.store, ctx).districts[MIXED]
    rows = entry_rows(ctx.key.group, chain.last_entry)
    return make_shuffle_entry(ctx.key, ctx.base_hash, MIXED, mixer, len(chain.shuffles) + 1,
                              chain.last_entry, rows)  # fmt: skip


def _refused(client: Client, path: str, doc: object, status: int, reason: str) -> None:
    with pytest.raises(ServerError, match=reason) as caught:
        client.post_json(path, doc)
    assert caught.value.status == status


def test_shuffles_and_mix_partials_go_through_their_checks(auth: Authority) -> None:
    tokens = issue_mixer_tokens(auth.store, auth.ctx)
    path = "/api/mix/shuffles"
    first = _next_shuffle(auth, MIXERS[0])
    _refused(Client(auth.server), path, first, 401, "a mixer's token is required")
    _refused(Client(auth.server, "forged"), path, first, 401, "unknown mixer token")
    _refused(Client(auth.server, tokens[MIXERS[1]]), path, first, 403, "names mixer")
    tampered = {**first, "rows": list(reversed(first["rows"]))}  # type: ignore[call-overload]
    _refused(Client(auth.server, tokens[MIXERS[0]]), path, tampered, 422, "does not verify")
    indices = []
    for n, mixer in enumerate(MIXERS):
        client = Client(auth.server, tokens[mixer])
        doc = first if n == 0 else _next_shuffle(auth, mixer)
        indices.append(int(client.post_json(path, doc)["index"]))
        _refused(client, path, doc, 409, f"mixer {mixer} has already mixed")
    assert indices == sorted(indices)
    close_mix(auth.store, auth.ctx)
    late = Client(auth.server, tokens[MIXERS[0]])
    _refused(late, path, first, 409, "already mixed|the mix is closed")

    ctx = auth.ctx
    assert ctx.key is not None
    assert ctx.transcript is not None
    group = ctx.key.group
    rows = final_rows(auth.store, ctx)[MIXED]
    partials = "/api/decryption/mix-partials"
    for g in (1, 3):
        share = read_key_share(auth.folder(g) / "guardian.key")
        public = public_share(group, ctx.transcript, g)
        entry = mix_partial_entry(group, ctx.base_hash, share, public, MIXED, 0, rows)
        token = auth.token(g).read_text(encoding="utf-8").strip()
        other = auth.token(2).read_text(encoding="utf-8").strip()
        _refused(Client(auth.server, other), partials, entry, 403, "not 2")
        _refused(Client(auth.server), partials, entry, 401, "a guardian's token is required")
        client = Client(auth.server, token)
        assert int(client.post_json(partials, entry)["index"]) > indices[-1]
        _refused(client, partials, entry, 409, "already decrypted")
    # the homomorphic districts' partial decryptions, in this process, then the combination
    for g in (1, 3):
        decrypt_as_guardian(auth.store, ctx, read_key_share(auth.folder(g) / "guardian.key"))
    decrypted = combine(auth.store, ctx)
    law = tally_majlis([Ballot(tuple(b)) for b in BALLOTS], CODES, SEATS)
    assert decrypted["districts"][MIXED] == {
        "ballots": len(BALLOTS), "blank": law.void, "votes": {c: law.votes[c] for c in CODES}
    }  # fmt: skip
