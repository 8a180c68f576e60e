"""One PostgreSQL journal for a team: runners with overlapping selections, a runner killed and resumed
elsewhere. Real ``fleet`` processes, a real PostgreSQL server, the simulator's truth."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
from pathlib import Path

from pgserver import PgServer
from simfleet import SimFleet

from fleet.secrets.store import FileStore

TEAM_KEY = secrets.token_hex(32)
# 300 clusters; runner A takes sim-0001..0195, runner B sim-0001..0090 and sim-0196..0300: both start
# on the same 90 (30%), so their leases meet there.
LIMIT_A = "sim-00*,sim-01*,!sim-019[6-9]"
LIMIT_B = "sim-00[0-8]?,sim-0090,sim-019[6-9],sim-02*,sim-0300"
OVERLAP = {f"sim-{i:04d}" for i in range(1, 91)}


def _env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLEET_JOURNAL")}
    return {**env, "TEAM_KEY": TEAM_KEY, "FLEET_JOURNAL_KEY": "env:TEAM_KEY", "COLUMNS": "250", **extra}


async def _fleet(*args: str, cwd: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    out, err = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


def _outcomes(report: Path) -> dict[str, tuple[str, str]]:
    return {c["name"]: (c["outcome"], c["reason"] or "") for c in json.loads(report.read_text())["clusters"]}


async def _check_every_passphrase_known(sim: SimFleet, store_dir: Path, names: set[str]) -> None:
    """Rotated exactly once, and the store's current slot holds what the cluster holds."""
    store = FileStore(store_dir)
    for name in sorted(names):
        assert sim.cluster(name).counters.rotations == 1, (name, sim.cluster(name).counters.rotations)
        assert await store.get(name, "pending") is None, name
        current = await store.get(name, "current")
        assert current is not None and current.reveal() == sim.passphrase(name), name
        assert sim.cluster(name).wrong_passphrase_total == 0, name


async def test_two_runners_with_overlapping_selections_rotate_every_cluster_exactly_once(
    sim_fleet, tmp_path: Path, pg_server: PgServer, pg_url: str
) -> None:
    """30% of 300 clusters selected by both: each is rotated once, by one runner; the other says busy
    (or that the first one did it, or finds the cluster already on it), never both. One runner names
    the journal with ``--journal``, the other with ``FLEET_JOURNAL`` and another spelling of the same
    database."""
    sim = await sim_fleet(clusters=300, seed=19, faults="latency=30ms~10ms")
    onboard = set(sim.onboard_names())
    store = tmp_path / "store"
    reports = {side: tmp_path / f"{side}.json" for side in "ab"}
    common = ["rotate", "-i", str(sim.inventory), "--new", "generate", "--store", str(store),
              "--concurrency", "16", "--log-format", "json"]  # fmt: skip
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    runner_a = await _fleet(
        *common, "--limit", LIMIT_A, "--report", str(reports["a"]), "--journal", pg_url,
        cwd=tmp_path / "a", env=_env(),
    )  # fmt: skip
    runner_b = await _fleet(
        *common, "--limit", LIMIT_B, "--report", str(reports["b"]),
        cwd=tmp_path / "b", env=_env(FLEET_JOURNAL=pg_url.replace("postgresql://", "postgres://")),
    )  # fmt: skip
    (code_a, out_a), (code_b, out_b) = await asyncio.gather(_finish(runner_a), _finish(runner_b))
    assert code_a in (0, 1) and code_b in (0, 1), (out_a[-3000:], out_b[-3000:])

    a, b = _outcomes(reports["a"]), _outcomes(reports["b"])
    assert len(a) == len(b) == 195 and set(a) | set(b) == set(sim.fleet.clusters)
    await _check_every_passphrase_known(sim, store, onboard)
    busy = 0
    for name in sorted(OVERLAP & onboard):
        pair = (a[name][0], b[name][0])
        assert pair.count("succeeded") == 1, (name, a[name], b[name])
        other = a[name] if pair[1] == "succeeded" else b[name]
        # the other runner found it held (busy), or rotated by a run alongside (skipped), or, having
        # planned after the first runner stored its pending passphrase, took that passphrase as its
        # own target and proved the cluster already on it with one probe (already_current)
        assert other[0] in ("busy", "already_current") or (
            other[0] == "skipped" and "not rotated again" in other[1]
        ), (name, other)
        busy += other[0] == "busy"
    assert busy > 0, "the runners never met on a cluster: the test proves nothing about leases"
    for name in onboard - OVERLAP:
        assert (a.get(name) or b[name])[0] == "succeeded", name

    listed = await _finish(await _fleet("runs", "--json", "--journal", pg_url, cwd=tmp_path, env=_env()))
    runs = json.loads(listed[1][listed[1].index("[") :])
    assert {run["id"] for run in runs} == {json.loads(r.read_text())["run"]["id"] for r in reports.values()}
    assert all(
        run["operator"] and run["host"] and run["operator"].endswith("@" + run["host"]) for run in runs
    )
    for text in (out_a, out_b, listed[1], *(r.read_text() for r in reports.values())):
        assert pg_server.password not in text and TEAM_KEY not in text
    print(f"\noverlap of {len(OVERLAP & onboard)} onboard clusters: {busy} reported busy, the rest skipped")


async def test_a_runner_killed_mid_run_is_resumed_from_elsewhere_and_nothing_is_rotated_twice(
    sim_fleet, tmp_path: Path, pg_server: PgServer, pg_url: str
) -> None:
    """SIGKILL mid-run; ``fleet resume`` from another folder, naming the same database another way."""
    sim = await sim_fleet(clusters=60, seed=23, faults="latency=40ms~10ms")
    onboard = set(sim.onboard_names())
    store = tmp_path / "store"
    first, elsewhere = tmp_path / "site-a", tmp_path / "elsewhere"
    first.mkdir()
    elsewhere.mkdir()
    runner = await _fleet(
        "rotate", "-i", str(sim.inventory), "--new", "generate", "--store", str(store), "--concurrency", "4",
        "--journal", pg_url, "--log-format", "json", cwd=first, env=_env(),
    )  # fmt: skip
    async with asyncio.timeout(120):
        while sum(sim.cluster(n).counters.rotations for n in onboard) < 12:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    runner.send_signal(signal.SIGKILL)
    code, output = await _finish(runner)
    assert code == -signal.SIGKILL
    rotated_before = {n for n in onboard if sim.cluster(n).counters.rotations}
    assert 12 <= len(rotated_before) < len(onboard), "killed too late to prove anything"

    other_spelling = pg_url.replace("postgresql://", "postgres://") + "?sslmode=disable"
    env = _env(FLEET_JOURNAL=other_spelling)
    code, listed = await _finish(await _fleet("runs", "--json", cwd=elsewhere, env=env))
    assert code == 0, listed
    (killed,) = json.loads(listed[listed.index("[") :])
    assert killed["outcome"] is None, "the killed run never recorded an end"

    resume = await _fleet("resume", killed["id"], "--log-format", "json", cwd=elsewhere, env=env)
    code, resumed = await _finish(resume)
    assert code == 0, resumed[-3000:]
    await _check_every_passphrase_known(sim, store, onboard)

    # The change as one record, from a third folder: the killed run left no report, the resume's is
    # read where it was written; every cluster's outcome comes from one of the two runs.
    third = tmp_path / "third"
    third.mkdir()
    code, shown = await _finish(await _fleet("report", "show", killed["id"], "--json", cwd=third, env=env))
    assert code == 0, shown
    change = json.loads(shown[shown.index("{") :])["change"]
    assert change["runs"][0] == killed["id"] and len(change["runs"]) == 2 and change["complete"] is False
    final = {c["name"]: c["outcome"] for c in change["clusters"]}
    # a cluster whose change was in flight at the kill is proven by the resume: already_current
    assert {name for name, outcome in final.items() if outcome in ("succeeded", "already_current")} == onboard
    for text in (output, listed, resumed, shown):
        assert pg_server.password not in text and TEAM_KEY not in text
    print(f"\nkilled after {len(rotated_before)} of {len(onboard)} rotations; resumed to all, none twice")


async def test_a_shared_journal_needs_the_teams_key_and_says_so_without_showing_secrets(
    tmp_path: Path, pg_server: PgServer, pg_url: str
) -> None:
    """Exit 2, one line naming ``--journal-key``; never the database password, never a key."""
    no_key = {key: value for key, value in _env().items() if key != "FLEET_JOURNAL_KEY"}
    cases = [
        (no_key, [], "give the same --journal-key (env FLEET_JOURNAL_KEY) to every runner"),
        (
            no_key,
            ["--journal-key", "env:NOT_SET_ANYWHERE"],
            "environment variable NOT_SET_ANYWHERE is not set",
        ),
        (_env(TEAM_KEY="0123-not-hex"), [], "a journal key is 64 hex digits"),
        (_env(TEAM_KEY="f" * 63 + "g"), [], "this one has other characters"),
    ]
    for env, extra, expected in cases:
        code, out = await _finish(await _fleet("runs", "--journal", pg_url, *extra, cwd=tmp_path, env=env))
        assert code == 2 and expected in out, out
        assert "Traceback" not in out and pg_server.password not in out and "0123-not-hex" not in out
    code, out = await _finish(await _fleet("runs", "--journal", pg_url, cwd=tmp_path, env=_env()))
    assert code == 0 and "operator" in out, out
