"""`fleet resume RUN` while RUN's own process still works on it is refused; once that process is gone
(finished, or SIGKILLed a moment ago with its hold still ahead) RUN is resumed as always.

Real ``fleet`` processes against the loopback simulator; a ``Gate`` keeps the first run under way on
one cluster for as long as the test needs, so "still running" is a fact, not a race against the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from enginekit import Gate
from simfleet import SimFleet
from test_cli_rotate import run_fleet

from fleet.secrets.store import FileStore

GATED = "sim-0004"  # with --concurrency 1 the run has done sim-0001..0003 and waits here


def _hold(journal: Path) -> dict[str, object]:
    """The one run in the journal and its hold, read as any other reader of the file would."""
    conn = sqlite3.connect(journal)
    conn.row_factory = sqlite3.Row
    try:
        (row,) = conn.execute("SELECT id, pid, host, alive_until, finished_at, outcome FROM runs").fetchall()
    finally:
        conn.close()
    return dict(row)


def _run_count(journal: Path) -> int:
    conn = sqlite3.connect(journal)
    try:
        return int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
    finally:
        conn.close()


@contextlib.asynccontextmanager
async def _held_rotation(
    sim: SimFleet, gate: Gate, tmp_path: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``fleet rotate`` in its own folder and process, under way on ``GATED`` until the gate opens."""
    site = tmp_path / "site-a"
    site.mkdir()
    log = (site / "stderr.log").open("wb")  # a file, not a pipe nobody drains while the run is held
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet", "rotate", "-i", str(sim.inventory), "--new", "generate",
        "--store", str(tmp_path / "store"), "--journal", str(tmp_path / "j.db"),
        "--report", str(tmp_path / "first.json"), "--concurrency", "1", "--timeout", "120",
        "--log-format", "json",
        cwd=site, stdout=asyncio.subprocess.DEVNULL, stderr=log,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    try:
        await asyncio.wait_for(gate.reached.wait(), timeout=60)
        yield process
    finally:
        gate.opened.set()
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        log.close()


async def _resume_elsewhere(run_id: str, tmp_path: Path) -> tuple[int, str, str]:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return await run_fleet("resume", run_id, "--journal", str(tmp_path / "j.db"), "--yes", cwd=elsewhere)


def _assert_refused(code: int, err: str, run_id: str, pid: int) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"run {run_id} is still running" in lines[0] and f"pid {pid} on {socket.gethostname()}" in lines[0]
    assert f"kill {pid}" in lines[0] and "until 20" in lines[0], lines[0]


async def _assert_every_passphrase_known_and_rotated_once(sim: SimFleet, store_dir: Path) -> None:
    store = FileStore(store_dir)
    for name in sim.onboard_names():
        assert sim.cluster(name).counters.rotations == 1, name
        assert sim.cluster(name).wrong_passphrase_total == 0, name
        current = await store.get(name, "current")
        assert current is not None and current.reveal() == sim.passphrase(name), name
        assert await store.get(name, "pending") is None, name


async def test_resuming_a_run_its_live_process_holds_is_refused_and_contacts_no_cluster(sim_fleet, tmp_path):
    gate = Gate(GATED)
    sim = await sim_fleet(clusters=6, seed=3, middlewares=[gate.middleware()])
    async with _held_rotation(sim, gate, tmp_path) as live:
        run = _hold(tmp_path / "j.db")
        assert (run["pid"], run["finished_at"]) == (live.pid, None)
        requests, mutations = sim.requests(), sim.mutations()

        code, _, err = await _resume_elsewhere(str(run["id"]), tmp_path)
        _assert_refused(code, err, str(run["id"]), live.pid)
        assert (sim.requests(), sim.mutations()) == (requests, mutations), "a refused resume sent a request"
        assert _run_count(tmp_path / "j.db") == 1, "a refused resume recorded a run"

        gate.opened.set()
        code = await asyncio.wait_for(live.wait(), timeout=120)
        assert code == 0, (tmp_path / "site-a" / "stderr.log").read_text()[-2000:]
    assert json.loads((tmp_path / "first.json").read_text())["run"]["outcome"] == "succeeded"
    await _assert_every_passphrase_known_and_rotated_once(sim, tmp_path / "store")

    # Finished, the run is no longer held: resume answers as it always did (nothing left to do).
    code, _, err = await _resume_elsewhere(str(run["id"]), tmp_path)
    assert code == 2 and "has nothing left to do" in err and "still running" not in err, err


async def test_a_run_sigkilled_mid_run_is_resumed_at_once_on_its_host_and_rotates_nothing_twice(
    sim_fleet, tmp_path
):
    """Refused while it runs; killed as the refusal says, its hold still ahead: resumed at once."""
    gate = Gate(GATED)
    sim = await sim_fleet(clusters=6, seed=3, middlewares=[gate.middleware()])
    async with _held_rotation(sim, gate, tmp_path) as live:
        run_id = str(_hold(tmp_path / "j.db")["id"])
        code, _, err = await _resume_elsewhere(run_id, tmp_path)
        _assert_refused(code, err, run_id, live.pid)

        live.send_signal(signal.SIGKILL)
        assert await live.wait() == -signal.SIGKILL
        run = _hold(tmp_path / "j.db")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        assert run["finished_at"] is None and str(run["alive_until"]) > now, (
            "the dead run's hold is still ahead"
        )
        assert 3 <= sum(sim.cluster(n).counters.rotations for n in sim.onboard_names()) < 6

        gate.opened.set()
        code, out, err = await _resume_elsewhere(run_id, tmp_path)
    assert code == 0, (out + err)[-3000:]
    assert "Traceback" not in err
    await _assert_every_passphrase_known_and_rotated_once(sim, tmp_path / "store")
    reports = list((tmp_path / "elsewhere" / "reports").glob("*.json"))
    assert len(reports) == 1
    for text in [out, err, reports[0].read_text()]:
        assert not any(secret in text for secret in sim.secret_values()), "a secret in the output"
