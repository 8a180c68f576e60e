"""The journal keeps up with a large fleet without stalling the event loop."""

from __future__ import annotations

import asyncio
import time

from fleet.journal import Journal
from fleet.journal.storage import Connection, Operation
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


async def test_group_commit_lingers_for_concurrent_writers_but_never_for_a_lone_one(tmp_path) -> None:
    """Concurrent writes wait a moment to share one commit; one-at-a-time writes never wait for company."""
    from fleet.journal.sqlite import connect as _connect
    from fleet.journal.writer import JournalWriter

    writer = JournalWriter(lambda: _connect(tmp_path / "j.db", "NORMAL"), linger=0.5)

    def answer(value: object) -> Operation[object]:
        async def operation(conn: Connection) -> object:
            await conn.fetchone("SELECT 1")
            return value

        return operation

    await writer.start()
    try:
        started = time.perf_counter()
        for _ in range(5):  # lingering, these would take 2.5 s
            await writer.submit(answer(1))
        assert time.perf_counter() - started < 2.0
        await asyncio.gather(*(writer.submit(answer(i)) for i in range(10)))  # now busy
        commits = writer.batches
        first = asyncio.create_task(writer.submit(answer("first")))
        await asyncio.sleep(0.1)
        second = asyncio.create_task(writer.submit(answer("second")))
        assert await asyncio.gather(first, second) == ["first", "second"]
        assert writer.batches - commits == 1, "the second write should have joined the first one's commit"
    finally:
        await writer.stop()
