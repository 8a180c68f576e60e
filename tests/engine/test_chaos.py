"""Kill fleet with SIGKILL at seeded random moments, resume each time: no passphrase is ever lost."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from pathlib import Path

import pytest

from fleet.secrets.store import FileStore

KILLS = 4


async def start_fleet(*args: str, cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fleet",
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "FLEET_JOURNAL": str(cwd / "journal.db")},
    )


async def all_runs(cwd: Path) -> list[dict]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fleet",
        "runs",
        "--json",
        "--last",
        "1000",
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "FLEET_JOURNAL": str(cwd / "journal.db")},
    )
    out, _ = await process.communicate()
    return json.loads(out)


async def newest_run(cwd: Path) -> str:
    return (await all_runs(cwd))[0]["id"]


async def recorded(cwd: Path, runs: int, process: asyncio.subprocess.Process) -> None:
    """Wait until the journal holds ``runs`` runs (the one just started is recorded), or it ended.

    A loaded machine may take longer than any fixed delay to start Python and record the run;
    a kill before that leaves nothing to resume.
    """
    async with asyncio.timeout(60):
        while process.returncode is None and len(await all_runs(cwd)) < runs:  # noqa: ASYNC110 (polls a file)
            await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_rotation_killed_at_random_moments_and_resumed_loses_no_passphrase(sim_fleet, tmp_path):
    sim = await sim_fleet(
        clusters=300, mcc_pairs=15, seed=31, faults="partial=0.05,jobs=0.1,latency=10ms~10ms"
    )
    originals = {name: sim.passphrase(name) for name in sim.onboard_names()}
    store_dir = tmp_path / "store"
    rng = random.Random(31)
    rotate = [
        "rotate",
        "-i",
        str(sim.inventory),
        "--new",
        "generate",
        "--store",
        str(store_dir),
        "--concurrency",
        "8",  # slow enough that every kill lands mid-run
        "--log-format",
        "json",
    ]
    process = await start_fleet(*rotate, cwd=tmp_path)
    for started in range(1, KILLS + 1):
        await recorded(tmp_path, started, process)
        await asyncio.sleep(rng.uniform(0.2, 0.9))
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await process.wait()
        process = await start_fleet("resume", await newest_run(tmp_path), cwd=tmp_path)
    code = await asyncio.wait_for(process.wait(), timeout=180)
    assert code in (0, 1)
    runs = await all_runs(tmp_path)
    assert len(runs) == KILLS + 1
    assert sum(1 for run in runs if run["outcome"] is None) >= 2, "kills should land mid-run"
    store = FileStore(store_dir)
    unknown = []
    for name, original in originals.items():
        truth = sim.passphrase(name)
        current = await store.get(name, "current")
        pending = await store.get(name, "pending")
        known = {s.reveal() for s in (current, pending) if s is not None} | {original}
        if truth not in known:
            unknown.append(name)
        assert sim.cluster(name).counters.rotations <= 1, f"{name} was sent the rotation twice"
    assert unknown == [], "clusters whose passphrase fleet does not know"
    # Finished: every onboard cluster is on the passphrase the store calls current.
    for name in originals:
        current = await store.get(name, "current")
        assert current is not None and current.reveal() == sim.passphrase(name), name
    for a, b in sim.pairs():
        assert sim.passphrase(a) == sim.passphrase(b)
        assert sim.cluster(a).pending_partner_sync is None and sim.cluster(b).pending_partner_sync is None
    # No passphrase anywhere but the store's own secret files.
    values = {sim.passphrase(name) for name in originals} | set(originals.values())
    for path in tmp_path.iterdir():
        if path.is_file():
            text = path.read_bytes().decode("latin-1")
            assert not any(value in text for value in values), f"a passphrase leaked into {path.name}"
