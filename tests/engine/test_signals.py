"""A second SIGINT/SIGTERM stops a run at once: report written, in-flight units interrupted, exit 130."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time

import pytest
from enginekit import NEW_PASSPHRASE

from fleet.engine.run import INTERRUPT_GRACE_SECONDS


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
async def test_a_second_signal_stops_at_once_writes_the_report_and_exits_130(sim_fleet, tmp_path, signum):
    sim = await sim_fleet(clusters=6, seed=163, faults="hang=1")  # every request waits for the client
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    new.chmod(0o600)
    report = tmp_path / "report.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet", "rotate", "-i", str(sim.inventory), "--new", f"file:{new}",
        "--report", str(report), "--journal", str(tmp_path / "j.db"), "--concurrency", "2",
        "--timeout", "120", "--log-format", "json",
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    async with asyncio.timeout(60):
        while sim.requests() < 2:  # noqa: ASYNC110 - two units in flight, each held by the simulator
            await asyncio.sleep(0.05)
    process.send_signal(signum)
    await asyncio.sleep(0.5)  # the first signal is handled: no more units admitted
    second = time.monotonic()
    process.send_signal(signum)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert time.monotonic() - second < INTERRUPT_GRACE_SECONDS / 2, "the second signal did not stop at once"
    assert "Traceback" not in err.decode() and "CancelledError" not in err.decode()
    assert process.returncode == 130, err.decode()[-2000:]
    data = json.loads(report.read_text())
    assert data["run"]["outcome"] == "interrupted" and data["run"]["exit_code"] == 130
    outcomes = {cluster["name"]: cluster["outcome"] for cluster in data["clusters"]}
    assert sorted(outcomes.values()).count("interrupted") == 2
    assert set(outcomes.values()) == {"interrupted", "not_started"}
    sent = {cluster["name"]: cluster["requests"] for cluster in data["clusters"]}
    assert all(sent[name] == 1 for name, outcome in outcomes.items() if outcome == "interrupted"), sent
    assert data["summary"]["requests"] == sim.requests() == 2  # once counted 0: in flight, never finished
    assert "interrupted" in out.decode()
