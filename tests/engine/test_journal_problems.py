"""A broken journal is one line and exit 2 before any request; one lost mid-run stops the run (exit 3)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from enginekit import NEW_PASSPHRASE
from test_cli_rotate import run_fleet

from fleet.journal import Journal

HOLD_EXCLUSIVE_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA locking_mode = EXCLUSIVE")
conn.execute("BEGIN EXCLUSIVE")
conn.execute("COMMIT")  # the exclusive lock stays: locking_mode EXCLUSIVE never gives it back
print("locked", flush=True)
time.sleep(120)
"""


async def make_journal(path: Path) -> None:
    async with await Journal.open(path):
        pass


@asynccontextmanager
async def exclusively_locked(path: Path) -> AsyncIterator[None]:
    """Another process (an sqlite3 shell, say) holds the journal in exclusive locking mode."""
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD_EXCLUSIVE_LOCK, str(path), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), timeout=30) == b"locked\n"
        yield
    finally:
        holder.kill()
        await holder.wait()


def not_a_database(path: Path) -> None:
    path.write_text("clusters:\n  - name: cl-0001\n" * 200)


def truncated(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def key_deleted(path: Path) -> None:
    path.with_name(path.name + ".key").unlink()


BROKEN: dict[str, tuple[Callable[[Path], None] | None, str]] = {
    "not_a_database": (not_a_database, "is not a SQLite database"),
    "truncated": (truncated, "is damaged"),
    "locked": (None, "is locked by another process"),
    "key_deleted": (key_deleted, "key file is missing"),
}


@pytest.mark.parametrize("problem", list(BROKEN))
async def test_a_broken_journal_is_one_line_and_exit_2_before_any_request(sim_fleet, tmp_path, problem):
    sim = await sim_fleet(clusters=3, seed=164)
    journal = tmp_path / "state" / "journal.db"
    await make_journal(journal)
    breaks, cause = BROKEN[problem]
    if breaks is not None:
        breaks(journal)
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    new.chmod(0o600)
    rotate = ("rotate", "-i", str(sim.inventory), "--new", f"file:{new}", "--journal", str(journal))
    commands: list[tuple[str, ...]] = [rotate, ("runs", "--journal", str(journal))]

    async def run_all() -> list[tuple[int, str, float]]:
        results = []
        for args in commands:
            started = time.monotonic()
            code, _, err = await run_fleet(*args, cwd=tmp_path)
            results.append((code, err, time.monotonic() - started))
        return results

    if problem == "locked":
        async with exclusively_locked(journal):
            results = await run_all()
    else:
        results = await run_all()
    for code, err, seconds in results:
        assert "Traceback" not in err
        assert code == 2, err[-2000:]
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(journal) in lines[0] and cause in lines[0], err
        assert seconds < 8
    assert sim.requests() == 0


def replace_file(path: Path) -> None:
    copy = path.with_name("replacement.db")
    copy.write_bytes(path.read_bytes())
    copy.replace(path)


@pytest.mark.parametrize("lose", [Path.unlink, replace_file], ids=["deleted", "replaced"])
async def test_a_journal_lost_mid_run_stops_the_run_with_a_report_exit_3(sim_fleet, tmp_path, lose):
    sim = await sim_fleet(clusters=60, seed=165, faults="latency=40ms")
    journal = tmp_path / "state" / "journal.db"
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    new.chmod(0o600)
    report = tmp_path / "report.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet", "rotate", "-i", str(sim.inventory), "--new", f"file:{new}",
        "--report", str(report), "--journal", str(journal), "--concurrency", "2",
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    async with asyncio.timeout(60):
        while sim.mutations() == 0:  # noqa: ASYNC110 - polling the simulator's counters
            await asyncio.sleep(0.02)
    lose(journal)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert "Traceback" not in err.decode()
    assert process.returncode == 3, err.decode()[-2000:]
    data = json.loads(report.read_text())
    assert data["run"]["outcome"] == "aborted" and data["run"]["exit_code"] == 3
    assert str(journal) in data["run"]["stop_reason"] and "deleted or replaced" in data["run"]["stop_reason"]
    outcomes = [cluster["outcome"] for cluster in data["clusters"]]
    assert outcomes.count("not_started") > len(outcomes) // 2  # stopped at the next commit, not at the end
    assert b"deleted or replaced" in out
