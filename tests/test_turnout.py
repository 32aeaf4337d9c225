"""Provable turnout (issue 19): the hourly publication of check-ins, the guardian's limit of
evaluations, the voter's device refusing a false status, the manifest's flag, and the
verifier's `turnout` check on tampered check-in lists."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from tests.manifests import small_manifest_data
from tests.turnout_fixtures import (  # noqa: F401
    TurnoutElection,
    small_turnout_election,
    turnout_election,
)
from tests.verify_fixtures import copy_record, read_entries, resign, roll_code, write_entries
from verivote.crypto.ceremony import public_share
from verivote.crypto.groups import get_group
from verivote.crypto.keyfile import write_private
from verivote.election.polls import close_polls, open_polls
from verivote.election.turnout import (
    blind_roll,
    finish_roll,
    issue_status_codes,
    prepare_roll,
    pseudonym_transcript,
    status_of,
)
from verivote.model.manifest import ManifestError, parse_manifest
from verivote.parties.guardian import Client, GuardianRefusal
from verivote.parties.pseudonyms import answer_batches
from verivote.polling.turnout import StatusError, check_pseudonym
from verivote.store import Store
from verivote.store.roll import check_in, import_voters
from verivote.verify import verify_record
from verivote.web.app import live_app
from verivote.web.serving import in_thread


def _election(directory: Path, voters: int = 6) -> tuple[Store, Any, Path, dict[str, str]]:
    store, ctx, keys = small_turnout_election(directory)
    import_voters(store.engine, ctx.election_id,
                  [(roll_code("tabriz", n), "tabriz", None) for n in range(voters)])  # fmt: skip
    codes = dict(issue_status_codes(store, ctx))
    return store, ctx, keys, codes


def _checkins(store: Store, ctx: Any) -> list[dict[str, Any]]:
    return [json.loads(raw) for _, raw in store.entries_of_type(ctx.election_id, "checkins",
                                                                 log="tabriz")]  # fmt: skip


def test_check_ins_are_published_hourly_and_the_rest_at_the_close(tmp_path: Path) -> None:
    store, ctx, keys, _ = _election(tmp_path)
    prepare_roll(store, ctx, keys, [1, 2, 3])
    open_polls(store, ctx, [s.id for s in ctx.manifest.stations])
    for n, hour in enumerate([9, 9, 10]):
        assert check_in(store.engine, ctx.election_id, roll_code("tabriz", n), "tabriz-001",
                        "tabriz", hour, f"r{n}").status == "accepted"  # fmt: skip
    from verivote.election.turnout import publish_checkins

    assert publish_checkins(store, ctx, "tabriz-001", "tabriz", before_hour=10) == 2
    assert publish_checkins(store, ctx, "tabriz-001", "tabriz", before_hour=10) == 0
    # An offline station's upload of hour 9 arrives after hour 9's list was published.
    assert check_in(store.engine, ctx.election_id, roll_code("tabriz", 3), "tabriz-001",
                    "tabriz", 9, "r3").status == "accepted"  # fmt: skip
    close_polls(store, ctx, [s.id for s in ctx.manifest.stations])
    lists = _checkins(store, ctx)
    assert [(d["hour"], len(d["pseudonyms"])) for d in lists] == [(9, 2), (9, 1), (10, 1)]
    for d in lists:
        assert d["pseudonyms"] == sorted(d["pseudonyms"])
    assert len({p for d in lists for p in d["pseudonyms"]}) == 4


def test_a_guardian_answers_no_more_evaluations_than_the_published_roll(tmp_path: Path) -> None:
    store, ctx, keys, _ = _election(tmp_path, voters=300)
    blind_roll(store, ctx)
    folder = tmp_path / "guardian-1"
    folder.mkdir(mode=0o700)
    (keys / "pseudonym-1.key").rename(folder / "pseudonym.key")
    with in_thread(live_app(store, ctx)) as url:
        tokens = {}
        from verivote.store.ceremony import open_ceremony

        tokens = open_ceremony(store.engine, ctx.election_id, 5, 3)
        write_private(folder / "token", tokens[0] + "\n")
        client = Client(url, tokens[0])
        assert answer_batches(client, folder) == 2  # 300 voters: batches of 256 and 44
        # The hostile authority slips in another batch: the roll's size would be exceeded.
        from verivote.store import turnout as db

        group = get_group(ctx.manifest.group)
        extra = [group.encode(group.pow_g(random.randrange(1, group.q))).hex() for _ in range(3)]
        db.add_batch(store.engine, ctx.election_id, 2, json.dumps(extra), [])
        with pytest.raises(GuardianRefusal, match="more than the roll's 300"):
            answer_batches(client, folder)
    ledger = json.loads((folder / "pseudonyms.json").read_text())
    assert len(ledger[ctx.election_id]) == 2


def test_the_voters_device_refuses_a_false_status(tmp_path: Path) -> None:
    store, ctx, keys, codes = _election(tmp_path)
    prepare_roll(store, ctx, keys, [1, 2, 3])
    voter = roll_code("tabriz", 0)
    status = status_of(store, ctx, voter, codes[voter])
    assert status is not None
    transcript = pseudonym_transcript(store, ctx.election_id)
    assert transcript is not None
    group = get_group(transcript.group)
    shares = {i: public_share(group, transcript, i) for i in range(1, 6)}
    context = bytes.fromhex(transcript.base_hash)
    found = check_pseudonym(group, context, voter, 3, shares, status)
    assert found.hex() == status["pseudonym"]
    # Another voter's pseudonym, or this one's status shown to another voter, is refused.
    other = status_of(store, ctx, roll_code("tabriz", 1), codes[roll_code("tabriz", 1)])
    assert other is not None
    with pytest.raises(StatusError):
        check_pseudonym(
            group, context, voter, 3, shares, {**status, "pseudonym": other["pseudonym"]}
        )
    with pytest.raises(StatusError):
        check_pseudonym(group, context, roll_code("tabriz", 1), 3, shares, status)
    # A guardian's evaluation changed: its batch proof fails.
    answers = json.loads(json.dumps(status["answers"]))
    first = next(iter(answers))
    answers[first]["evaluated"][0] = answers[first]["evaluated"][1]
    with pytest.raises(StatusError):
        check_pseudonym(group, context, voter, 3, shares, {**status, "answers": answers})
    # A wrong status code shows nothing.
    assert status_of(store, ctx, voter, "A" * 26) is None


def test_turnout_needs_a_roll_and_old_manifests_hash_as_before() -> None:
    data = small_manifest_data()
    data["polling"] = {"turnout": True}
    with pytest.raises(ManifestError, match="turnout needs a voter roll"):
        parse_manifest(data)
    data["polling"] = {"roll": True}
    assert b"turnout" not in parse_manifest(data).canonical()


def test_finish_refuses_until_a_quorum_answered(tmp_path: Path) -> None:
    store, ctx, _, _ = _election(tmp_path)
    blind_roll(store, ctx)
    from verivote.election.service import ElectionError

    with pytest.raises(ElectionError, match="quorum"):
        finish_roll(store, ctx)


def _tampered(turnout: TurnoutElection, tmp_path: Path, change: Any) -> list[str]:
    record = copy_record(turnout.record, tmp_path / "record")
    docs = read_entries(record)
    change(docs)
    write_entries(record, docs)
    resign(record, turnout.keys)
    check = next(c for c in verify_record(record).checks if c.id == "turnout")
    return [f.reason for f in check.failures]


def test_an_unsorted_list_and_a_count_that_disagrees_fail_the_check(
    turnout_election: TurnoutElection,  # noqa: F811
    tmp_path: Path,
) -> None:
    def unsort(docs: list[dict[str, Any]]) -> None:
        target = next(d for d in docs if d["type"] == "checkins" and len(d["pseudonyms"]) > 1)
        target["pseudonyms"].reverse()

    reasons = _tampered(turnout_election, tmp_path / "a", unsort)
    assert any("not sorted" in r for r in reasons)

    def drop(docs: list[dict[str, Any]]) -> None:
        target = next(d for d in docs if d["type"] == "checkins" and len(d["pseudonyms"]) > 1)
        target["pseudonyms"].pop()

    reasons = _tampered(turnout_election, tmp_path / "b", drop)
    assert any("pseudonyms are published" in r for r in reasons)


def test_the_status_page_shows_a_check_in_and_takes_a_complaint(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from verivote.election.publishing import make_checkpoint
    from verivote.store.turnout import complaints
    from verivote.web.app import read_verifiers

    store, ctx, keys, codes = _election(tmp_path)
    prepare_roll(store, ctx, keys, [1, 2, 3])
    open_polls(store, ctx, [s.id for s in ctx.manifest.stations])
    voter, home = roll_code("tabriz", 0), roll_code("tabriz", 1)
    assert check_in(store.engine, ctx.election_id, voter, "tabriz-002", "tabriz", 14,
                    "r0").status == "accepted"  # fmt: skip
    close_polls(store, ctx, [s.id for s in ctx.manifest.stations])
    make_checkpoint(store, ctx, keys)
    app = live_app(store, ctx, read_verifiers(keys, ctx.election_id))
    with TestClient(app) as client:
        assert 'action="/status"' in client.get("/status").text
        seen = client.post(
            "/status?lang=en", data={"national_code": voter, "status_code": codes[voter]}
        )
        assert seen.status_code == 200, seen.text
        assert "tabriz-002" in seen.text
        assert 'action="/status/complaint"' in seen.text
        away = client.post(
            "/status?lang=en", data={"national_code": home, "status_code": codes[home]}
        )
        assert away.status_code == 200
        assert "none recorded" in away.text
        wrong = client.post(
            "/status?lang=en", data={"national_code": voter, "status_code": "A" * 26}
        )
        unknown = client.post(
            "/status?lang=en",
            data={"national_code": roll_code("tabriz", 50), "status_code": "A" * 26},
        )
        assert wrong.status_code == unknown.status_code == 404
        assert "No voter with this national code and status code." in wrong.text
        filed = client.post("/status/complaint?lang=en", data={
            "national_code": voter, "status_code": codes[voter], "text": "not me"})  # fmt: skip
        assert filed.status_code == 200
        assert "recorded for the supervisors" in filed.text
    assert [c["station"] for c in complaints(store.engine, ctx.election_id)] == ["tabriz-002"]
