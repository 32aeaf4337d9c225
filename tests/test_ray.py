"""verivote on a Ray cluster (issue 17, item 4): the executor keeps the process pool's
promises, and verify, tally and the mix give the same results through Ray as locally.

One local cluster (127.0.0.1 only) is started for the whole session by the `cluster`
fixture; if Ray cannot start, these tests fail. The CLI's `--ray auto` starts its own in a
child process, as a user's command does.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, as_completed, wait
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import ray_tasks
from tests import test_mixer as mixer_tests
from tests import test_verify_split as split_tests
from tests.crypto_helpers import keypair
from tests.manifests import small_manifest_data
from tests.mix_fixtures import BALLOTS, MIXED, mix_manifest_data, written_rows
from tests.national_fixtures import to_districts
from tests.parties_fixtures import Authority, guardian
from tests.sealing_helpers import authority_key
from tests.store_fixtures import BACKENDS, backend_database
from tests.verify_fixtures import VerifyElection, copy_record, read_entries, resign, write_entries
from verivote.bench.ray_overhead import ray_task_core_s
from verivote.cluster import Cluster, ClusterError, make_pool, open_cluster, width
from verivote.cluster.connect import check_address, host_port
from verivote.crypto.ballot import encrypt_ballot
from verivote.crypto.ceremony import run_ceremony
from verivote.crypto.keyfile import read_key_share
from verivote.crypto.rows import rows_to_json
from verivote.election.district_logs import seal_districts
from verivote.election.lot import contribute_lot
from verivote.election.mix_workers import HERE, mix_workers
from verivote.election.mixing import (
    MixError,
    check_shuffle_entry,
    close_mix,
    combine_mix,
    make_shuffle_entry,
)
from verivote.election.polls import close_polls, open_polls
from verivote.election.publishing import make_checkpoint
from verivote.election.service import cast, hold_ceremony, init_election, load_context
from verivote.election.tally import accumulate_all, products_to_json, run_tally
from verivote.model.ballots import Ballot
from verivote.model.canonical import canonical_json
from verivote.model.manifest import parse_manifest
from verivote.parties.recheck import checked_ballots
from verivote.rules.majlis import tally_majlis
from verivote.store import Store, make_engine, migrate
from verivote.verify import verify_record

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The session's local Ray cluster, bound to 127.0.0.1."""
    with open_cluster("auto") as opened:
        yield opened


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "verivote", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=240, check=False,
    )  # fmt: skip


def _without_rate(report: dict[str, Any]) -> dict[str, Any]:
    """The report without its ballots/s, which is a measurement, not a result."""
    return {k: v for k, v in report.items() if k != "ballots_per_second"}


# --- the executor -------------------------------------------------------------------------


def test_the_local_cluster_listens_on_the_loopback_address_only(cluster: Cluster) -> None:
    import ray

    assert ray.util.get_node_ip_address() == "127.0.0.1"
    assert cluster.cpus == (os.cpu_count() or 1)
    assert width(cluster, 7) == cluster.cpus  # Ray's width is the cluster's, not --jobs
    assert width(None, 3) == 3


def test_the_initializer_runs_once_per_worker_process_before_its_tasks(cluster: Cluster) -> None:
    with make_pool(cluster, 2, ray_tasks.init, ("first",)) as pool:
        results = list(pool.map(ray_tasks.tagged, range(12)))
    assert [r[1] for r in results] == [x * x for x in range(12)]  # in order, like map
    assert {r[0] for r in results} == {"first"}
    inits: dict[int, set[int]] = {}
    for _, _, pid, count in results:
        inits.setdefault(pid, set()).add(count)
    # Each process ran the initializer once for all of this executor's tasks.
    assert all(len(counts) == 1 for counts in inits.values())
    # A second executor with other initargs: its initializer runs again in a reused process.
    with make_pool(cluster, 2, ray_tasks.init, ("second",)) as pool:
        futures = [pool.submit(ray_tasks.tagged, x) for x in range(6)]
        again = [f.result() for f in as_completed(futures)]
    assert {r[0] for r in again} == {"second"}
    for _, _, pid, count in again:
        if pid in inits:
            assert count == max(inits[pid]) + 1


def test_futures_work_with_wait_and_carry_exceptions(cluster: Cluster) -> None:
    with make_pool(cluster, 2) as pool:
        good = pool.submit(ray_tasks.tagged, 3)
        bad = pool.submit(ray_tasks.fail, 4)
        done, _ = wait([good, bad], return_when=FIRST_COMPLETED)
        assert done
        wait([good, bad])
        assert good.result()[1] == 9
        with pytest.raises(ValueError, match="refused 4"):
            bad.result()
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(ray_tasks.tagged, 1)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(min_value=-(10**6), max_value=10**6), max_size=20))
def test_ray_map_equals_the_process_pools_map(cluster: Cluster, xs: list[int]) -> None:
    with make_pool(cluster, 2, ray_tasks.init, ("t",)) as pool:
        through_ray = [r[:2] for r in pool.map(ray_tasks.tagged, xs)]
    assert through_ray == [("t", x * x) for x in xs]


@pytest.mark.parametrize("chunksize", [2, 16])
def test_ray_map_in_chunks_equals_the_process_pools(cluster: Cluster, chunksize: int) -> None:
    """`map`'s chunksize sends several calls a Ray task (the mix's steps do, from 1,024 tasks):
    the same results in the same order as the process pool's."""
    xs = list(range(-20, 21))
    with make_pool(cluster, 2, ray_tasks.init, ("t",)) as pool:
        submitted: list[Any] = []
        submit = pool.submit

        def counting(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            submitted.append(fn)
            return submit(fn, *args, **kwargs)

        pool.submit = counting  # type: ignore[method-assign]
        through_ray = [r[:2] for r in pool.map(ray_tasks.tagged, xs, chunksize=chunksize)]
    assert len(submitted) == -(-len(xs) // chunksize)  # a Ray task a chunk
    with make_pool(None, 2, ray_tasks.init, ("t",)) as pool:
        local = [r[:2] for r in pool.map(ray_tasks.tagged, xs, chunksize=chunksize)]
    assert through_ray == local == [("t", x * x) for x in xs]


def test_process_pool_map_agrees_with_the_same_tasks() -> None:
    with make_pool(None, 2, ray_tasks.init, ("t",)) as pool:
        assert isinstance(pool, ProcessPoolExecutor)
        assert [r[:2] for r in pool.map(ray_tasks.tagged, [2, 5])] == [("t", 4), ("t", 25)]


@given(st.text(max_size=30))
def test_only_auto_and_host_port_addresses_are_accepted(address: str) -> None:
    try:
        checked = check_address(address)
    except ClusterError:
        return
    assert checked == "auto" or 0 <= host_port(checked)[1] <= 99999


def test_an_address_where_nothing_listens_is_one_clear_error() -> None:
    refused = r"cannot connect to the Ray cluster at 127\.0\.0\.1:1"
    with pytest.raises(ClusterError, match=refused), open_cluster("127.0.0.1:1"):
        pass


# --- verify and tally through Ray ---------------------------------------------------------


def test_verify_through_ray_gives_the_local_report(
    cluster: Cluster, verify_election: VerifyElection, tmp_path: Path
) -> None:
    # Both rounds, and round 1 as a record with a log per district (cut at two places).
    districts = to_districts(
        verify_election.round1, verify_election.keys1, tmp_path / "districts", cuts=(20, 30)
    )
    rounds = (
        (verify_election.round1, None),
        (verify_election.round2, verify_election.round1),
        (districts, None),
    )
    for record, previous in rounds:
        local = verify_record(record, previous=previous, jobs=2)
        seen: list[tuple[int, int]] = []
        through_ray = verify_record(
            record,
            previous=previous,
            cluster=cluster,
            progress=lambda d, t: seen.append((d, t)),  # noqa: B023
        )
        assert local.valid
        assert _without_rate(through_ray.to_json()) == _without_rate(local.to_json())
        assert seen[-1][0] == seen[-1][1] > 0


def test_verify_through_ray_finds_the_same_failures(
    cluster: Cluster, verify_election: VerifyElection, tmp_path: Path
) -> None:
    record = copy_record(verify_election.round1, tmp_path / "record")
    docs = read_entries(record)
    casts = [d for d in docs if d.get("type") == "ballot-cast"]
    # Two ballots' blank-flag proofs broken (their responses swapped), the record re-signed.
    for doc in casts[2:4]:
        doc["ballot"]["blank"]["proof"]["responses"].reverse()
    write_entries(record, docs)
    resign(record, verify_election.keys1)
    local = verify_record(record, jobs=2)
    through_ray = verify_record(record, cluster=cluster)
    # The two ballots fail (and the count then differs from the ballots that are valid).
    assert "ballots" in local.failed()
    assert {f.entry for f in local.check("ballots").failures} == {
        i for i, d in enumerate(docs) if d in casts[2:4]
    }
    assert _without_rate(through_ray.to_json()) == _without_rate(local.to_json())


def test_the_verify_command_with_ray_auto_prints_the_local_report(
    verify_election: VerifyElection,
) -> None:
    record = str(verify_election.round1)
    local = _cli("verify", record, "--json", "--jobs", "2")
    through_ray = _cli("verify", record, "--json", "--ray", "auto")
    assert local.returncode == 0, local.stderr
    assert through_ray.returncode == 0, through_ray.stderr
    assert _without_rate(json.loads(through_ray.stdout)) == _without_rate(json.loads(local.stdout))


def test_the_commands_refuse_bad_ray_options_in_one_line(
    verify_election: VerifyElection, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = str(verify_election.round1)
    db = f"sqlite:///{tmp_path / 'none.db'}"
    for args, code, says in (
        (["verify", record, "--ray", "somewhere"], 2, "expected 'auto', HOST:PORT"),
        (["verify", record, "--ray", "auto", "--jobs", "2"], 2, "exclude each other"),
        (["verify", record, "--ray", "127.0.0.1:1"], 2, "cannot connect to the Ray cluster"),
        (["tally", "--db", db, "--ray", "auto", "--cores", "2"], 2, "--ray and --cores"),
        (["bench", "ray", "--ray", "ray://127.0.0.1:1"], 1, "cannot connect to the Ray cluster"),
    ):
        done = _cli(*args)
        assert done.returncode == code, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert says in lines[0]
    from verivote.cli.app import run as run_cli

    # Each command's help, in this process: five more processes cost five seconds.
    for command in (["verify"], ["tally"], ["decrypt"], ["guardian", "decrypt"], ["mixer", "mix"]):
        assert run_cli([*command, "--help"]) == 0
        assert "--ray" in capsys.readouterr().out


def test_without_ray_installed_ray_options_end_in_one_line(
    verify_election: VerifyElection,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from verivote.cli.app import run as run_cli

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails, as uninstalled
    assert run_cli(["verify", str(verify_election.round1), "--ray", "auto"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "pip install -e '.[ray]'" in lines[0]


def test_bench_ray_measures_both_executors_on_a_running_cluster(cluster: Cluster) -> None:
    done = _cli("bench", "ray", "--tasks", "40", "--ray", cluster.head, "--json")
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert (figures["tasks"], figures["tasks_one_at_a_time"], figures["ray_cpus"]) == (
        40, 8, cluster.cpus,
    )  # fmt: skip
    for key in ("pool_ms_per_task_round_trip", "pool_ms_per_task_batch",
                "ray_ms_per_task_round_trip", "ray_ms_per_task_batch", "ray_start_s"):  # fmt: skip
        assert figures[key] > 0


@pytest.fixture(params=BACKENDS)
def closed_election(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """tests/manifests.py's small election, 14 ballots cast, the polls closed, the district
    logs sealed."""
    with backend_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        migrate(engine)
        store = Store(engine)
        manifest = parse_manifest(small_manifest_data())
        init_election(store, manifest)
        hold_ceremony(store, load_context(store, manifest.election_id), 5, 3, tmp_path / "keys")
        ctx = load_context(store, manifest.election_id)
        assert ctx.key is not None
        for g in range(1, 6):
            contribute_lot(store, ctx, read_key_share(tmp_path / "keys" / f"guardian-{g}.key"))
        stations = ["tabriz-001", "tabriz-002", "isfahan-arm-1"]
        open_polls(store, ctx, stations)
        votes = [["1101"], ["1102", "1103"], [], ["1101", "1105"], ["2201"], ["2202"], []]
        for n in range(14):
            station = stations[2] if n % 3 == 2 else stations[n % 2]
            armenian = station == stations[2]
            choices = [c for c in votes[n % len(votes)] if c.startswith("2") == armenian]
            cast(store, ctx, encrypt_ballot(manifest, ctx.key, ctx.base_hash, station, choices)[0])
        close_polls(store, ctx, stations)
        seal_districts(store, ctx, authority_key(tmp_path / "keys", ctx))  # their positions
        yield store
        engine.dispose()


def test_a_tally_through_ray_equals_the_local_tally(
    cluster: Cluster, closed_election: Store
) -> None:
    store = closed_election
    ctx = load_context(store, parse_manifest(small_manifest_data()).election_id)
    assert ctx.key is not None
    cutoff = store.merged_size(ctx.election_id)
    local, local_rows = accumulate_all(store, ctx, cutoff, "local", processes=2, chunk=4)
    seen: list[tuple[int, int]] = []
    through_ray, ray_rows = accumulate_all(
        store, ctx, cutoff, "ray", chunk=4, cluster=cluster,
        progress=lambda d, t: seen.append((d, t)),
    )  # fmt: skip
    group = ctx.key.group
    assert products_to_json(group, through_ray) == products_to_json(group, local)
    assert sum(p.ballots for p in through_ray.values()) == 14
    assert ray_rows == local_rows
    assert seen[-1] == (cutoff, cutoff)
    # Every chunk was stored as a part: a tally cut off under Ray resumes like a local one.
    assert len(store.tally_parts(ctx.election_id, "ray")) == -(-cutoff // 4)


def test_a_seeded_shuffle_through_ray_equals_the_local_one_and_checks(cluster: Cluster) -> None:
    _, _, ek = keypair()
    manifest = parse_manifest(mix_manifest_data())
    base = b"\x07" * 32
    rows = written_rows(ek, BALLOTS, 2)
    doc = {"type": "mix-input", "election": base.hex(), "district": MIXED, "cutoff": 9,
           "width": 2, "rows": rows_to_json(ek.group, rows)}  # fmt: skip
    first = canonical_json(doc)

    def seeded(seed: int) -> Any:
        r = random.Random(seed)
        return lambda: r.randrange(ek.group.q)

    local = make_shuffle_entry(ek, base, MIXED, "principlists", 1, first, rows, seeded(3), HERE)
    with mix_workers(cluster, ek) as workers:
        assert workers.jobs == cluster.cpus
        through_ray = make_shuffle_entry(
            ek, base, MIXED, "principlists", 1, first, rows, seeded(3), workers
        )
        assert through_ray == local
        outputs = check_shuffle_entry(ek, base, through_ray, first, rows, manifest, workers)
        assert outputs == check_shuffle_entry(ek, base, local, first, rows, manifest, HERE)
        # A proof of another shuffle fails through Ray as it does here.
        other = make_shuffle_entry(ek, base, MIXED, "principlists", 1, first, rows, seeded(4))
        forged = {**through_ray, "proof": other["proof"]}
        with pytest.raises(MixError, match="its shuffle proof does not verify"):
            check_shuffle_entry(ek, base, forged, first, rows, manifest, workers)


def test_a_partys_ballot_recheck_through_ray_equals_the_local_one(
    cluster: Cluster, closed_election: Store
) -> None:
    store = closed_election
    ctx = load_context(store, parse_manifest(small_manifest_data()).election_id)
    docs = [json.loads(raw) for raw in store.merged_entries(ctx.election_id)]
    ballots: list[Any] = [doc["ballot"] for doc in docs if doc["type"] == "ballot-cast"]
    ballots[5]["blank"]["proof"]["responses"].reverse()  # a proof that fails
    ballots[9] = "not a ballot"
    ballots *= 9  # 126 ballots: two tasks of CHUNK
    local = list(checked_ballots(ctx, ballots, False, None))
    through_ray = list(checked_ballots(ctx, ballots, False, cluster))
    assert through_ray == local
    refused = [n for n, (problem, _) in enumerate(local) if problem is not None]
    assert refused == [n for n in range(126) if n % 14 in (5, 9)]
    assert local[9] == ("no ballot", ())
    assert all(len(cts) > 0 for problem, cts in local if problem is None)


voted = mixer_tests.voted
"""A mixnet district's polling day on SQLite, parties served over HTTP (tests/test_mixer.py)."""


def test_a_mix_and_its_decryption_through_ray_count_what_the_law_counts(
    cluster: Cluster, voted: Authority, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tally, the first mixer's shuffle, guardian 1's decryption (the parties' own
    commands, connecting to the cluster by its address) and the combination of the shares
    through Ray; the rest locally. The server accepts every entry (it checks each proof) and
    the mix decrypts to the law."""
    a = voted
    run_tally(a.store, a.ctx, cluster=cluster, signer=authority_key(a.keys, a.ctx))
    folders = mixer_tests._mixers_ready(a, capsys)
    for n, folder in enumerate(folders.values()):
        make_checkpoint(a.store, a.ctx, a.keys)
        if n == 0:
            done = _cli("mixer", "mix", "--dir", str(folder), "--json", "--ray", cluster.head)
            code, out, err = done.returncode, done.stdout, done.stderr
        else:
            code, out, err = mixer_tests.cli(capsys, "mixer", "mix", "--dir", str(folder), "--json")
        assert code == 0, err
        assert list(json.loads(out.strip().splitlines()[-1])["posted"]) == ["tabriz"]
    close_mix(a.store, a.ctx)
    make_checkpoint(a.store, a.ctx, a.keys)
    for g, extra in ((1, ["--ray", cluster.head]), (3, [])):
        code, out, err = guardian(a, g, "decrypt", "--json", *extra)
        assert code == 0, err
    decoded = combine_mix(a.store, a.ctx, cluster)["tabriz"]  # the shares' proofs on Ray
    tabriz = a.ctx.manifest.district("tabriz")
    voters = [
        Ballot(tuple(codes))
        for station, codes in [*mixer_tests.WRITTEN, mixer_tests.AS_WRITTEN]
        if station.startswith("tabriz")
    ]
    law = tally_majlis(voters, [c.code for c in tabriz.candidates], tabriz.seats)
    assert decoded["votes"] == law.votes
    assert (decoded["ballots"], decoded["blank"]) == (5, law.void)


def test_the_mix_check_split_into_ray_tasks_reports_as_the_serial_one(cluster: Cluster) -> None:
    # A shuffle by chunks of rows over the cluster (split_rows=1), the combination by batch.
    outcome = run_ceremony(split_tests.GROUP, 5, 3, split_tests.BASE)
    for cheat in (None, split_tests.replace_row(outcome, 2), split_tests.changed_ballot(1)):
        entries = split_tests.make_record(outcome, cheat)
        serial = split_tests.mix_report(outcome, entries, 1, 10**9)
        assert split_tests.mix_report(outcome, entries, 1, 1, cluster) == serial
        assert (serial[1] == []) == (cheat is None)


def test_the_national_projection_can_take_rays_overhead_measured_on_the_cluster(
    cluster: Cluster,
) -> None:
    """`sim national --ray` projects with Ray's cost a task (wall time a task when submitted
    at once, times the cluster's CPUs): more than nothing, and each task paid for."""
    cost = ray_task_core_s(cluster, 40, 1024)
    assert 0 < cost < 10  # seconds of a core a no-op task: positive, and not absurd
    refused = _cli("sim", "national", "--scale", "0.00002", "--ray", "auto",
                   "--task-overhead-ms", "1")  # fmt: skip
    assert refused.returncode == 2
    assert "exclude each other" in refused.stderr
    assert "--ray" in _cli("sim", "national", "--help").stdout
