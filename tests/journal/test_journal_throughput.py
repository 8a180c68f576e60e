"""The journal keeps up with a large fleet without stalling the event loop."""

from __future__ import annotations

import asyncio
import time

from fleet.journal import Journal
from fleet.secrets.secret import Secret

PAIRS = 10_000
TASKS = 500


async def test_10000_step_pairs_from_500_tasks_keep_the_loop_responsive(journal: Journal) -> None:
    """10,000 begin/end pairs from 500 concurrent units finish in seconds; the loop never stalls long."""
    run = await journal.create_run(kind="rotate", options={}, inventory_path="i", inventory_digest="d")
    await journal.add_units(run, [(f"u{i}", [f"cl-{i}"], None) for i in range(TASKS)])
    fp = journal.fingerprint(Secret("t" * 64))
    worst_lag = 0.0
    done = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal worst_lag
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.005)
            worst_lag = max(worst_lag, time.perf_counter() - started - 0.005)

    async def unit(i: int) -> None:
        for _ in range(PAIRS // TASKS):
            step = await journal.begin_step(run, f"u{i}", f"cl-{i}", "rotate", from_fp=fp, to_fp=fp)
            await journal.end_step(step, status="ok")

    beat = asyncio.create_task(heartbeat())
    started, commits = time.perf_counter(), journal.commits
    await asyncio.gather(*(unit(i) for i in range(TASKS)))
    elapsed = time.perf_counter() - started
    done.set()
    await beat

    lag_ms = worst_lag * 1000
    print(
        f"\n{PAIRS} pairs: {elapsed:.2f}s, {journal.commits - commits} commits, worst loop lag {lag_ms:.0f}ms"
    )
    assert len(await journal.steps(run)) == PAIRS
    assert await journal.open_intents(run) == []
    assert elapsed < 20
    assert worst_lag < 0.5
