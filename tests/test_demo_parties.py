"""`verivote demo` with every guardian, every witness, every station device and every mixer as
its own process (issue 14, "Done means", first item; issue 15, "Done means", first item; issue
16, "Done means", first item): after a whole two-round election, the authority's database
(every row of every table) and every file of its folder hold no guardian secret, no witness
secret key, no station token and no mixer token; each party's folder
exists with its secrets 0600; every ballot was cast over HTTP by a device after a check-in, one
device journaling part of its day and uploading it; both records verify; no party's process is
left running."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from tests.demo_fixtures import DemoRun
from tests.parties_fixtures import (
    assert_nothing_held,
    guardian_secrets,
    official_secrets,
    witness_secrets,
)
from verivote.audit.stations import station_counts
from verivote.crypto.groups import get_group
from verivote.sim.election import GUARDIANS
from verivote.store import make_engine
from verivote.verify import verify_record

FACTIONS = ["principlists", "reformists", "moderates", "independents", "new-generation"]
MIXERS = FACTIONS[:3]


def _processes_in(folder: Path) -> list[str]:
    """The command lines of running processes that name `folder`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(folder) in line:
            found.append(f"{proc.name}: {line}")
    return found


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow
def test_the_demos_parties_are_processes_and_the_authority_holds_none_of_their_secrets(
    demo_run: DemoRun,
) -> None:
    demo, doc = demo_run.folder, demo_run.doc
    assert doc["round2"] is not None
    assert doc["verified"] == [True, True]
    # 5 ceremonies, 5 runoff contributions, 2 x 4 decryptions; 5 witness servers, 5 inits,
    # 5 add-logs for round 2; 4 station devices in each round; 3 mixers' init and mix in each
    # round (Shahriar, counted by mixnet, has a runoff too); 4 station heads' and 5 observers'
    # keys, and each of the 9 signing each round's result forms (issue 18); 3 guardians
    # answering each round's roll batches (issue 19)
    assert doc["processes"] == 53 + 9 + 2 * 9 + 2 * 3
    assert "shahriar" in doc["round2"]["count"]["districts"]
    assert _processes_in(demo) == []

    authority = demo / "authority"
    assert (authority / "verivote.db").is_file()
    assert sorted(p.name for p in (authority / "keys").iterdir()) == ["round1", "round2"]
    for keys in (authority / "keys").iterdir():
        assert sorted(p.name for p in keys.iterdir()) == [
            "authority.key", "verifiers", "witnesses.json"
        ]  # fmt: skip
    devices = [demo / f"device-{d}" for d in range(1, 5)]
    tokens: list[bytes] = []
    for n in (1, 2):
        days = doc[f"round{n}"]["devices"]
        assert [d["device"] for d in days] == [f.name for f in devices]
        # every ballot cast over HTTP after a check-in, or journaled offline and uploaded
        assert sum(d["cast"] + d["uploaded_ballots"] for d in days) == doc[f"round{n}"]["ballots"]
        assert (
            sum(d["checked_in"] + d["uploaded_checkins"] for d in days)
            == doc[f"round{n}"]["checked_in"]
        )
        assert doc[f"round{n}"]["ballots"] == doc[f"round{n}"]["checked_in"]
        offline = [d for d in days if d["journaled_ballots"]]
        assert [d["device"] for d in offline] == ["device-1"]
        assert offline[0]["uploaded_ballots"] == offline[0]["journaled_ballots"] > 0
        assert offline[0]["uploaded_checkins"] == offline[0]["journaled_checkins"] > 0
        for folder in devices:
            day = folder / f"round{n}"
            assert _mode(folder) == _mode(day) == 0o700
            assert _mode(day / "queue.json") == 0o600
            for token in (day / "tokens").iterdir():
                assert _mode(token) == 0o600, token
                tokens.append(token.read_text(encoding="utf-8").strip().encode())
    # one per station and round, each station served by one device
    stations = [s for n in (1, 2) for d in doc[f"round{n}"]["devices"] for s in d["stations"]]
    assert len(tokens) == len(stations) == len(set(tokens))
    assert sum(d["challenged"] for n in (1, 2) for d in doc[f"round{n}"]["devices"]) == (
        doc["round1"]["challenged"] + doc["round2"]["challenged"]
    )

    guardians = [demo / f"guardian-{g}" for g in range(1, GUARDIANS + 1)]
    for folder in guardians:
        assert _mode(folder) == 0o700
        for name in ("guardian.key", "secrets.json", "token", "pseudonym.key",
                     "pseudonym-secrets.json"):  # fmt: skip
            assert _mode(folder / name) == 0o600, folder / name
    witnesses = [demo / f"witness-{f}" for f in FACTIONS]
    for folder in witnesses:
        assert _mode(folder / "witness.key") == 0o600
        log = (folder / "witness.log").read_text(encoding="utf-8")
        # before each mixer's turn, before decryption, at publishing
        assert log.count(" cosigned verivote/demo-1 ") == len(MIXERS) + 2
        assert log.count(" cosigned verivote/demo-1-r2 ") == len(MIXERS) + 2
    mixers = [demo / f"mixer-{m}{suffix}" for suffix in ("", "-round2") for m in MIXERS]
    for n, folder in enumerate(mixers):
        assert _mode(folder) == 0o700
        assert _mode(folder / "token") == 0o600
        tokens.append((folder / "token").read_text(encoding="utf-8").strip().encode())
        # each mixer shuffled Shahriar once, in its turn in the mixing order
        log = (folder / "mixer.log").read_text(encoding="utf-8")
        assert log.count(" of shahriar ") == 1
        assert f"shuffle {n % len(MIXERS) + 1} of shahriar " in log
    # the paper trail (issue 18): one station's ballots printed, every station's form signed
    # and published, the audit of Karaj at 5 %, the forensics report
    paper = Path(doc["paper"])
    assert paper.parent == devices[1] / "round1"
    assert paper.read_bytes().startswith(b"%PDF-")
    forms = station_counts(demo / "record-round1")
    assert len(forms) == len(
        json.loads((demo / "record-round1" / "log" / "entries.jsonl").read_text().splitlines()[0])[
            "manifest"
        ]["stations"]
    )
    printed = next(c for c in forms if paper.name == f"paper-{c.station}.pdf")
    assert len(re.findall(rb"/Type\s*/Page(?!s)", paper.read_bytes())) == printed.ballots
    assert doc["audit"]["district"] == "karaj"
    assert doc["audit"]["risk_limit"] == 0.05
    assert doc["audit"]["status"] in ("confirmed", "full hand count")
    assert (demo / "forensics" / "forensics.html").is_file()
    # provable turnout (issue 19): the roll committed, a voter who came finds their check-in,
    # one who stayed home finds none, each checked by their own process; the ghost audit
    turnout = doc["turnout"]
    assert turnout["commitment"]["size"] > doc["round1"]["checked_in"]
    came, absent = turnout["voter_status"]
    assert (came["voter"], absent["voter"]) == ("came", "absent")
    assert came["checked"] is True
    assert absent["checked"] is True
    assert came["checked_in"] is not None
    assert absent["checked_in"] is None
    assert turnout["ghost_audit"]["ghosts_found"] == 0
    assert turnout["ghost_audit"]["checkins"] == doc["round1"]["checked_in"]
    for g in range(1, 4):  # the guardians who answered kept their ledger of the roll's batches
        assert (demo / f"guardian-{g}" / "pseudonyms.json").is_file()
    assert sorted(p.name for p in demo.iterdir()) == sorted(
        ["authority", "record-round1", "record-round2", "audit", "forensics"]
        + [f.name for f in guardians]
        + [f.name for f in witnesses]
        + [f.name for f in devices]
        + [f.name for f in mixers]
    )

    officials = [d / "head" for d in devices] + [w / "observer" for w in witnesses]
    for folder in officials:
        assert _mode(folder / "official-keys.json") == 0o600, folder
        for n in (1, 2):  # each signed only after comparing with its own copy of the forms
            assert (folder / f"own-count-round{n}.json").is_file()
    secrets = (
        guardian_secrets(get_group("ristretto255"), guardians)
        + witness_secrets(witnesses)
        + official_secrets(officials)
        + tokens
    )
    engine = make_engine(f"sqlite:///{authority / 'verivote.db'}")
    try:
        public = [authority, demo / "record-round1", demo / "record-round2"]
        assert_nothing_held(secrets, public, engine)
    finally:
        engine.dispose()
    # the scan does see a secret where there is one: in a guardian's or a witness's folder
    for folder in (guardians[0], witnesses[0], devices[0]):
        with pytest.raises(AssertionError):
            assert_nothing_held(secrets, [folder], engine)

    first = verify_record(Path(doc["round1"]["record"]), jobs=1)
    assert first.valid, first.failed()
    second = verify_record(Path(doc["round2"]["record"]), previous=doc["round1"]["record"], jobs=1)
    assert second.valid, second.failed()
