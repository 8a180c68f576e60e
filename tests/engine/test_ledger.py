"""Never guess twice, never collide: the passphrase ledger, cluster identity by uuid, and leases."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import uuid as uuidlib
from datetime import UTC, datetime
from pathlib import Path

from enginekit import NEW_PASSPHRASE, Gate, by_name

from fleet.secrets.store import FileStore


async def test_five_reruns_with_a_wrong_current_cost_one_wrong_attempt_and_never_lock(sim_fleet, runner):
    sim = await sim_fleet(clusters=4, seed=6)
    name = sim.onboard_names()[0]
    sim.cluster(name).cc_mode = True
    wrong = runner.secret_file("wrong.okm", "W" * 70)
    for _ in range(5):
        report = await runner.rotate(sim.inventory, current_ref=wrong, limit=name)
        assert by_name(report)[name].outcome == "failed"
    assert sim.cluster(name).wrong_passphrase_total == 1
    assert not sim.cluster(name).locked
    last = by_name(report)[name]
    assert "already refused this current passphrase" in last.reason


async def test_a_refused_rotation_leaves_nothing_pending_so_the_next_run_does_not_probe(sim_fleet, runner):
    sim = await sim_fleet(clusters=4, seed=6)
    name = sim.onboard_names()[0]
    wrong = runner.secret_file("wrong.okm", "W" * 40)
    await runner.rotate(sim.inventory, current_ref=wrong, limit=name)
    state = await runner.journal.cluster_state(name, uuid=sim.cluster(name).uuid)
    assert state is None or state.pending_fp is None
    # The right current (the inventory's) within 24 h of a wrong attempt: refused without a request ...
    report = await runner.rotate(sim.inventory, limit=name)
    assert "at most one attempt per day" in by_name(report)[name].reason
    assert sim.cluster(name).wrong_passphrase_total == 1
    # ... unless the admin says so; and then the never-applied candidate is not probed first.
    report = await runner.rotate(sim.inventory, limit=name, allow_attempt=True)
    row = by_name(report)[name]
    assert row.outcome == "succeeded", row.reason
    assert "probe_new_passphrase" not in [step.name for step in row.steps]
    assert sim.cluster(name).wrong_passphrase_total == 1  # the first run's, nothing since


async def test_a_rebuilt_cluster_never_inherits_the_old_identitys_record(sim_fleet, runner):
    """Same name, new uuid, a new passphrase: the journal's old record must cost no wrong attempt."""
    sim = await sim_fleet(clusters=4, seed=6)
    name = sim.onboard_names()[0]
    assert by_name(await runner.rotate(sim.inventory, limit=name))[name].outcome == "succeeded"
    rebuilt = sim.cluster(name)
    rebuilt.uuid = str(uuidlib.uuid4())
    rebuilt.key_manager.passphrase = "R" * 40  # a fresh OKM, set up by hand after the rebuild
    (sim.secrets_dir / f"{name}.okm").write_text("R" * 40)
    report = await runner.rotate(sim.inventory, limit=name)
    row = by_name(report)[name]
    assert row.outcome == "succeeded", row.reason
    assert rebuilt.wrong_passphrase_total == 0 and sim.passphrase(name) == NEW_PASSPHRASE


async def test_a_stale_current_reference_is_refused_without_a_request(sim_fleet, runner):
    """The journal verified P on this cluster; a reference that gives another value is not sent."""
    sim = await sim_fleet(clusters=4, seed=6)
    name = sim.onboard_names()[0]
    first = runner.secret_file("first.okm", "F" * 40)
    await runner.rotate(sim.inventory, limit=name, new_ref=first)
    before = sim.cluster(name).counters.mutations
    report = await runner.rotate(sim.inventory, limit=name)  # the inventory still names the old value
    row = by_name(report)[name]
    assert row.outcome == "failed" and row.reason.startswith("stale reference")
    assert list(report.failures.by_code) == ["stale_reference"]  # a safety rule, not a fleet bug
    assert report.failures.by_code["stale_reference"].kind == "refused"
    assert sim.cluster(name).counters.mutations == before and sim.cluster(name).wrong_passphrase_total == 0


async def run_fleet(*args: str, cwd: Path, after: asyncio.Event | None = None) -> int:
    if after is not None:
        await after.wait()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet", *args, cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, env=dict(os.environ),
    )  # fmt: skip
    return await asyncio.wait_for(process.wait(), timeout=180)


def journal_count(journal: Path, query: str, *args: object) -> int:
    """One count from the journal the fleet processes write (0 while it does not exist yet)."""
    if not journal.exists():
        return 0
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute(query, args).fetchone()[0])
    except sqlite3.OperationalError:  # created, not migrated yet
        return 0
    finally:
        conn.close()


async def when_counted(journal: Path, query: str, *args: object, at_least: int, then: asyncio.Event) -> None:
    """Set ``then`` once ``query`` counts ``at_least`` rows in the journal."""
    async with asyncio.timeout(120):
        while await asyncio.to_thread(journal_count, journal, query, *args) < at_least:  # noqa: ASYNC110 (polls a file)
            await asyncio.sleep(0.02)
    then.set()


async def test_two_generated_rotations_started_together_never_lose_a_passphrase(sim_fleet, tmp_path):
    """Two `fleet rotate --new generate` processes on one journal and store, started together, or the
    second once the first has verified a cluster (it then reads the store after the first promoted
    that cluster's passphrase): every cluster is rotated exactly once per trial, and the store holds
    what every cluster has. The fleet's last cluster answers only once both runs are recorded, so
    the two runs always overlap, however slowly the machine starts the second process."""
    gate = Gate("sim-0037")
    sim = await sim_fleet(
        clusters=37, mcc_pairs=3, seed=9, faults="latency=60ms~20ms", middlewares=[gate.middleware()]
    )
    assert sim.onboard_names()[-1] == gate.cluster
    second_sites = {b for _, b in sim.pairs()}
    store_dir, journal = tmp_path / "store", tmp_path / "journal.db"
    busy = 0
    for trial in range(5):
        staggered = trial % 2 == 1
        reports = [tmp_path / f"t{trial}-{side}.json" for side in ("a", "b")]
        command = [
            "rotate", "-i", str(sim.inventory), "--new", "generate", "--store", str(store_dir),
            "--journal", str(journal), "--concurrency", "4", "--log-format", "json",
        ]  # fmt: skip
        gate.opened.clear()
        began = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        first_verified = asyncio.Event()
        watchers = [
            asyncio.create_task(
                when_counted(journal, "SELECT count(*) FROM runs", at_least=2 * (trial + 1), then=gate.opened)
            ),
            asyncio.create_task(
                when_counted(
                    journal,
                    "SELECT count(*) FROM cluster_state WHERE verified_at >= ?",
                    began,
                    at_least=1,
                    then=first_verified,
                )
            ),
        ]
        codes = await asyncio.gather(
            run_fleet(*command, "--report", str(reports[0]), cwd=tmp_path),
            run_fleet(
                *command,
                "--report",
                str(reports[1]),
                cwd=tmp_path,
                after=first_verified if staggered else None,
            ),
        )
        for watcher in watchers:
            watcher.cancel()
        assert all(code in (0, 1) for code in codes), codes
        busy += sum(report.read_text().count('"outcome": "busy"') for report in reports)
        store = FileStore(store_dir)
        for name in sim.onboard_names():
            current = await store.get(name, "current")
            assert await store.get(name, "pending") is None, name
            assert current is not None and current.reveal() == sim.passphrase(name), (trial, name)
            assert sim.cluster(name).wrong_passphrase_total == 0, name
        rotations = {name: sim.cluster(name).counters.rotations for name in sim.onboard_names()}
        expected = {name: 0 if name in second_sites else trial + 1 for name in rotations}
        assert rotations == expected, (trial, "staggered" if staggered else "together", rotations)
    assert busy > 0, "the two runs never met: the test proves nothing"
