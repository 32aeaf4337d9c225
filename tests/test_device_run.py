"""`verivote device run` (issue 15, the demo's station devices): a queue of voters through the
authority's real server over HTTP: each voter checked in, their ballot encrypted on the device
and cast, one challenged first, one coming back and turned away, and two voters handled
during an offline drill, journaled and uploaded when the drill ends. Everything lands on the
board once the polls close."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.attacks.casting_fixtures import ELECTION, polling_election
from tests.site_fixtures import national_code
from verivote.cli.app import app as cli
from verivote.election.polls import close_polls
from verivote.polling import station
from verivote.polling.device_day import Queue, Voter, write_queue, write_token
from verivote.store.roll import import_voters, issue_token
from verivote.web.app import live_app
from verivote.web.serving import in_thread

CHOICES = [["1101", "1102"], ["1103"], [], ["1101"], ["1102"], ["1104"]]


def test_a_device_runs_a_queue_over_http_with_an_offline_drill(tmp_path: Path) -> None:
    voters = [national_code(n) for n in range(7001, 7001 + len(CHOICES))]
    with polling_election("sqlite", tmp_path) as polling:
        store, ctx = polling.store, polling.ctx
        import_voters(store.engine, ELECTION, [(c, "tabriz", None) for c in voters])
        folder = tmp_path / "device-1"
        folder.mkdir(mode=0o700)
        write_token(folder, "tabriz-001", issue_token(store.engine, ELECTION, "tabriz-001"))
        queue = [
            Voter(code, "tabriz-001", choices, challenges=n == 1, returns=n == 4)
            for n, (code, choices) in enumerate(zip(voters, CHOICES, strict=True))
        ]
        write_queue(folder / "queue.json", Queue(ELECTION, queue))
        with in_thread(live_app(store, ctx, cast_workers=1)) as server:
            result = CliRunner().invoke(cli, [
                "device", "run", str(folder / "queue.json"), "--server", server,
                "--folder", str(folder), "--offline-between", "3", "4", "--every", "2",
            ])  # fmt: skip
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert [line.split()[1] for line in lines[:-1]] == ["2/6", "4/6", "6/6"]
        summary = json.loads(lines[-1])["summary"]
        assert {k: v for k, v in summary.items() if k != "seconds"} == {
            "device": "device-1", "stations": ["tabriz-001"], "voters": 6, "offline": [3, 4],
            "checked_in": 4, "cast": 4, "challenged": 1, "turned_away": 1,
            "journaled_checkins": 2, "journaled_ballots": 2,
            "uploaded_checkins": 2, "uploaded_ballots": 2, "conflicts": 0, "refused_ballots": 0,
        }  # fmt: skip
        close_polls(store, ctx, [s.id for s in ctx.manifest.stations])
        # tabriz-001's ballots are in its district's log (issue 17)
        assert len(store.entries_of_type(ELECTION, "ballot-cast", log="tabriz")) == 6
        assert len(store.entries_of_type(ELECTION, "ballot-challenged", log="tabriz")) == 1
        # the drill's two voters journaled (check-in, ballot each), all of it uploaded
        journal = folder / "journal-tabriz-001.jsonl"
        lines = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
        assert [
            next(k for k in ("record", "ballot", "uploaded") if k in line) for line in lines
        ] == ["record", "ballot", "record", "ballot"] + ["uploaded"] * 3
        assert station.pending(journal) == []
