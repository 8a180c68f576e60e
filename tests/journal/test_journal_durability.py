"""Intents are durable before ``begin_step`` returns, batched under load, and survive a killed process."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from journalkit import OpenJournal, RawSql

from fleet.journal import Journal


def _peek(path: Path, query: str, *args: object) -> list[tuple[object, ...]]:
    """Read the journal through a second, independent SQLite connection."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(query, args).fetchall()
    finally:
        conn.close()


async def test_intent_is_visible_to_another_connection_when_begin_step_returns(
    journal: Journal, raw_sql: RawSql, run_id: str
) -> None:
    """Once ``begin_step`` returns, another reader sees the intent, still without an outcome."""
    step_id = await journal.begin_step(run_id, "u0", "cl-0", "rotate")
    rows = await raw_sql("SELECT cluster, name, status FROM steps WHERE id = ?", step_id)
    assert rows == [("cl-0", "rotate", None)]


async def test_journal_runs_in_wal_mode(journal: Journal, journal_path: Path) -> None:
    assert _peek(journal_path, "PRAGMA journal_mode") == [("wal",)]


async def test_500_concurrent_intents_share_a_few_commits(
    journal: Journal, raw_sql: RawSql, run_id: str
) -> None:
    """Group commit: 500 concurrent callers are served by far fewer than 500 transactions."""
    before = journal.commits
    ids = await asyncio.gather(
        *(journal.begin_step(run_id, f"u{i % 10}", f"cl-{i % 10}", "rotate") for i in range(500))
    )
    assert len(set(ids)) == 500
    assert journal.commits - before < 50
    assert await raw_sql("SELECT count(*) FROM steps WHERE status IS NULL") == [(500,)]


async def test_one_bad_call_in_a_batch_fails_alone(journal: Journal, run_id: str) -> None:
    """A caller's error (here: an unknown unit) does not roll back the others batched with it."""
    results = await asyncio.gather(
        journal.begin_step(run_id, "u1", "cl-1", "rotate"),
        journal.begin_step(run_id, "no-such-unit", "cl-x", "rotate"),
        journal.begin_step(run_id, "u2", "cl-2", "rotate"),
        return_exceptions=True,
    )
    assert isinstance(results[0], int) and isinstance(results[2], int)
    assert isinstance(results[1], Exception)
    assert [step.cluster for step in await journal.steps(run_id)] == ["cl-1", "cl-2"]


async def test_intents_without_outcome_are_open_after_reopening(open_journal: OpenJournal) -> None:
    """Closing mid-run (as a crash would) leaves exactly the steps without outcome as open intents."""
    journal = await open_journal()
    run = await journal.create_run(kind="rotate", options={}, inventory_path="i", inventory_digest="d")
    await journal.add_units(run, [("u0", ["cl-0"], None), ("u1", ["cl-1"], None)])
    done = await journal.begin_step(run, "u0", "cl-0", "rotate")
    await journal.end_step(done, status="ok")
    await journal.begin_step(run, "u1", "cl-1", "rotate")
    await journal.close()

    async with await open_journal() as reopened:
        assert [(s.unit_id, s.status) for s in await reopened.open_intents(run)] == [("u1", None)]


REPO_ROOT = str(Path(__file__).resolve().parents[2])
_KILLED_WRITER = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from fleet.journal import Journal

    async def main() -> None:
        key = bytes.fromhex(os.environ["TEST_JOURNAL_KEY"]) if os.environ.get("TEST_JOURNAL_KEY") else None
        journal = await Journal.open(sys.argv[1], key=key)
        run = await journal.create_run(kind="rotate", options={}, inventory_path="i", inventory_digest="d")
        await journal.add_units(run, [("u0", ["cl-0"], None)])
        step = await journal.begin_step(run, "u0", "cl-0", "rotate")
        print(run, step, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint: the intent must already be on disk

    asyncio.run(main())
    """
)


async def test_intent_survives_sigkill_right_after_begin_step(
    where: Path | str, journal_key: bytes | None, open_journal: OpenJournal
) -> None:
    """A process killed the instant ``begin_step`` returned still left its intent in the journal."""
    child = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", _KILLED_WRITER, str(where)],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "PYTHONPATH": REPO_ROOT,
            "TEST_JOURNAL_KEY": journal_key.hex() if journal_key else "",
        },
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    run, step = child.stdout.split()
    async with await open_journal() as journal:
        assert [s.id for s in await journal.open_intents(run)] == [int(step)]
