"""Per-cluster leases: one run per cluster at a time, even between processes racing on one journal."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from journalkit import OpenJournal, RawSql

from fleet.journal import Journal, JournalError, Lease, LeaseHolder, RunStillRunning

REPO_ROOT = str(Path(__file__).resolve().parents[2])


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def _force_holder(raw_sql: RawSql, cluster: str, *, pid: int, host: str) -> None:
    """Make the lease look as if another process (``pid`` on ``host``) held it."""
    await raw_sql("UPDATE leases SET pid = ?, host = ? WHERE cluster = ?", pid, host, cluster)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_a_free_cluster_is_leased_and_a_held_one_names_its_holder(journal: Journal) -> None:
    mine = await journal.take_lease("cl-1", run_id="run-a", ttl=60)
    assert isinstance(mine, Lease) and (mine.cluster, mine.run_id) == ("cl-1", "run-a")
    theirs = await journal.take_lease("cl-1", run_id="run-b", ttl=60)
    assert theirs == LeaseHolder(
        cluster="cl-1", run_id="run-a", pid=os.getpid(), host=socket.gethostname(), expires_at=mine.expires_at
    )
    assert isinstance(await journal.take_lease("cl-2", run_id="run-b", ttl=60), Lease)


async def test_the_same_run_takes_its_lease_again_and_extends_it(open_journal: OpenJournal) -> None:
    clock = Clock()
    async with await open_journal(clock=clock) as journal:
        first = await journal.take_lease("cl-1", run_id="run-a", ttl=60)
        clock.now += timedelta(seconds=30)
        again = await journal.take_lease("cl-1", run_id="run-a", ttl=60)
        assert isinstance(first, Lease) and isinstance(again, Lease)
        assert again.expires_at > first.expires_at


async def test_an_expired_lease_is_taken_over(open_journal: OpenJournal) -> None:
    clock = Clock()
    async with await open_journal(clock=clock) as journal:
        await journal.take_lease("cl-1", run_id="run-a", ttl=60)
        clock.now += timedelta(seconds=59)
        assert isinstance(await journal.take_lease("cl-1", run_id="run-b", ttl=60), LeaseHolder)
        clock.now += timedelta(seconds=1)
        taken = await journal.take_lease("cl-1", run_id="run-b", ttl=60)
        assert isinstance(taken, Lease) and taken.run_id == "run-b"
        assert await journal.renew_leases("run-a", 60) == frozenset(), "run-a learns it lost cl-1"


async def test_renewal_keeps_a_runs_leases_from_expiring(open_journal: OpenJournal) -> None:
    clock = Clock()
    async with await open_journal(clock=clock) as journal:
        for cluster in ("cl-1", "cl-2"):
            await journal.take_lease(cluster, run_id="run-a", ttl=60)
        await journal.take_lease("cl-3", run_id="run-b", ttl=60)
        clock.now += timedelta(seconds=50)
        assert await journal.renew_leases("run-a", 60) == {"cl-1", "cl-2"}
        clock.now += timedelta(seconds=50)
        assert isinstance(await journal.take_lease("cl-1", run_id="run-c", ttl=60), LeaseHolder)
        assert isinstance(await journal.take_lease("cl-3", run_id="run-c", ttl=60), Lease)


async def test_a_lease_of_a_dead_process_on_this_host_is_taken_over(
    journal: Journal, raw_sql: RawSql
) -> None:
    await journal.take_lease("cl-1", run_id="run-a", ttl=3600)
    await _force_holder(raw_sql, "cl-1", pid=_dead_pid(), host=socket.gethostname())
    taken = await journal.take_lease("cl-1", run_id="run-b", ttl=60)
    assert isinstance(taken, Lease) and taken.run_id == "run-b"


async def test_a_lease_of_a_live_process_or_another_host_is_not_taken_over(
    journal: Journal, raw_sql: RawSql
) -> None:
    await journal.take_lease("cl-1", run_id="run-a", ttl=3600)
    await journal.take_lease("cl-2", run_id="run-a", ttl=3600)
    await _force_holder(raw_sql, "cl-1", pid=os.getppid(), host=socket.gethostname())
    await _force_holder(
        raw_sql, "cl-2", pid=_dead_pid(), host="some-other-host"
    )  # its pids mean nothing here
    holder = await journal.take_lease("cl-1", run_id="run-b", ttl=60)
    assert isinstance(holder, LeaseHolder) and holder.pid == os.getppid()
    holder = await journal.take_lease("cl-2", run_id="run-b", ttl=60)
    assert isinstance(holder, LeaseHolder) and holder.host == "some-other-host"


async def test_asking_who_holds_a_lease_names_only_a_live_holder_and_takes_nothing(
    open_journal: OpenJournal, raw_sql: RawSql
) -> None:
    """What a dry run asks: the holder a real run would be refused by, and nobody where it would
    take the lease over (expired, or a dead process of this host); the lease itself is not touched."""
    clock = Clock()
    async with await open_journal(clock=clock) as journal:
        assert await journal.lease_holder("cl-1") is None
        for cluster in ("cl-1", "cl-2", "cl-3"):
            await journal.take_lease(cluster, run_id="run-a", ttl=60)
        await _force_holder(raw_sql, "cl-2", pid=_dead_pid(), host=socket.gethostname())
        await _force_holder(raw_sql, "cl-3", pid=_dead_pid(), host="some-other-host")
        holder = await journal.lease_holder("cl-1")
        assert holder == await journal.take_lease("cl-1", run_id="run-b", ttl=60)
        assert isinstance(holder, LeaseHolder) and holder.run_id == "run-a"
        assert await journal.lease_holder("cl-2") is None
        elsewhere = await journal.lease_holder("cl-3")  # its pids mean nothing here: held until it expires
        assert elsewhere is not None and elsewhere.host == "some-other-host"
        clock.now += timedelta(seconds=60)
        assert await journal.lease_holder("cl-1") is None
        assert await journal.renew_leases("run-a", 60) == {"cl-1", "cl-2", "cl-3"}, "asking took nothing"


async def test_release_gives_back_only_our_own_leases(journal: Journal) -> None:
    await journal.take_lease("cl-1", run_id="run-a", ttl=60)
    await journal.take_lease("cl-2", run_id="run-a", ttl=60)
    await journal.take_lease("cl-3", run_id="run-b", ttl=60)
    assert await journal.release_lease("cl-3", "run-a") is False
    assert await journal.release_lease("cl-1", "run-a") is True
    assert isinstance(await journal.take_lease("cl-1", run_id="run-b", ttl=60), Lease)
    assert await journal.release_run_leases("run-a") == 1
    assert await journal.renew_leases("run-b", 60) == {"cl-1", "cl-3"}


async def test_a_lease_needs_a_positive_ttl(journal: Journal) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await journal.take_lease("cl-1", run_id="run-a", ttl=0)


_HAMMER = textwrap.dedent(
    """
    import asyncio, json, os, random, sqlite3, sys
    from fleet.journal import Journal, Lease
    from fleet.journal import leases
    from fleet.journal.storage import drive

    async def through_journal(journal: Journal, run_id: str, clusters: list[str]) -> list[str]:
        # Each cluster asked for three times at once from this process: they share group commits.
        results = await asyncio.gather(
            *(journal.take_lease(c, run_id=run_id, ttl=600) for c in clusters for _ in range(3))
        )
        held = [r.cluster for r in results if isinstance(r, Lease)]
        assert len(held) == 3 * len(set(held)), "a run never half-holds a cluster"
        return sorted(set(held))

    async def statement_alone(where: str, run_id: str, clusters: list[str]) -> list[str]:
        # No transaction around it: the one statement is all that stands between two processes.
        won = []
        if where.startswith("postgresql://"):
            import asyncpg
            from fleet.journal.postgres import PostgresConnection
            raw = await asyncpg.connect(where)
            conn = PostgresConnection(raw)
            take = lambda c: leases.take(conn, c, None, run_id, "2026-11-29T05:00Z", "2026-11-29T06:00Z")
        else:
            from fleet.journal.writer import SqliteConnection
            raw = sqlite3.connect(where, isolation_level=None, timeout=30)
            raw.row_factory = sqlite3.Row
            conn = SqliteConnection(raw)
            take = lambda c: leases.take(conn, c, None, run_id, "2026-11-29T05:00Z", "2026-11-29T06:00Z")
        for cluster in clusters:
            taken = await take(cluster)
            if isinstance(taken, Lease):
                won.append(cluster)
        close = raw.close()
        if close is not None:
            await close
        return won

    async def main(where: str, run_id: str, count: int) -> None:
        rng = random.Random(run_id)
        a, b = [f"cl-{i}" for i in range(count)], [f"raw-{i}" for i in range(count)]
        rng.shuffle(a)
        rng.shuffle(b)
        key = bytes.fromhex(os.environ["TEST_JOURNAL_KEY"]) if os.environ.get("TEST_JOURNAL_KEY") else None
        async with await Journal.open(where, key=key, synchronous="NORMAL") as journal:
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.readline)  # "go": every racer is ready
            won = await through_journal(journal, run_id, a)
        won += await statement_alone(where, run_id, b)
        print(json.dumps(won), flush=True)
        # Stay alive until every racer is done: a lease of a process that exited may be taken over.
        await asyncio.to_thread(sys.stdin.readline)

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


def _race(where: Path | str, key: bytes | None, runs: tuple[str, ...], clusters: int) -> list[set[str]]:
    """Start one hammering process per run, let them go at once; return what each one won."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _HAMMER, str(where), run, str(clusters)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": REPO_ROOT, "TEST_JOURNAL_KEY": key.hex() if key else ""},
        )
        for run in runs
    ]
    for child in children:
        assert child.stdout is not None
        line = child.stdout.readline()
        if line != "ready\n":
            _, err = child.communicate(timeout=120)
            raise AssertionError(f"a racer did not start: {err}")
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    lines = [child.stdout.readline() for child in children]
    for child, line in zip(children, lines, strict=True):
        if not line:
            _, err = child.communicate(timeout=120)
            raise AssertionError(f"a racer died: {err}")
    won = [set(json.loads(line)) for line in lines]
    for child in children:
        _, err = child.communicate("exit\n", timeout=120)
        assert child.returncode == 0, err
    return won


async def test_two_processes_racing_for_the_same_clusters_never_both_win(
    where: Path | str, journal_key: bytes | None, open_journal: OpenJournal, raw_sql: RawSql
) -> None:
    """Two OS processes take leases on the same clusters at once: each cluster has exactly one winner.

    Once through ``Journal.take_lease`` (group commit) and once with the bare statement in autocommit
    mode, no transaction around it: the statement alone must make the decision atomic. On
    PostgreSQL the two processes are two runners of a team sharing one database.
    """
    clusters = 300
    async with await open_journal():
        pass  # created and migrated up front, so the race is about leases, not the schema
    won_a, won_b = await asyncio.to_thread(_race, where, journal_key, ("run-a", "run-b"), clusters)
    assert not won_a & won_b, "a cluster was leased to both runs"
    assert won_a | won_b == {f"{kind}-{i}" for kind in ("cl", "raw") for i in range(clusters)}
    holders = dict(await raw_sql("SELECT cluster, run_id FROM leases"))
    assert holders == {**dict.fromkeys(won_a, "run-a"), **dict.fromkeys(won_b, "run-b")}
    split = {kind: sum(c.startswith(kind) for c in won_a) for kind in ("cl-", "raw-")}
    print(f"\nof {clusters} each, run-a won {split}, run-b the rest")


async def _force_run_holder(raw_sql: RawSql, run_id: str, *, pid: int, host: str) -> None:
    """Make the run's hold look as if another process (``pid`` on ``host``) had it."""
    await raw_sql("UPDATE runs SET pid = ?, host = ? WHERE id = ?", pid, host, run_id)


async def test_a_run_is_under_way_while_it_holds_its_row_until_it_finishes_or_its_hold_lapses(
    open_journal: OpenJournal,
) -> None:
    clock = Clock()
    async with await open_journal(clock=clock) as journal:
        runs = {
            name: await journal.create_run(kind=kind, options={}, inventory_path="i", inventory_digest="d")
            for name, kind in (("working", "rotate"), ("never held", "rotate"), ("a sync", "sync"))
        }
        await journal.hold_run(runs["working"], 120)
        await journal.hold_run(runs["a sync"], 120)
        start = clock.now
        assert await journal.runs_under_way("rotate", since=start) == {runs["working"]}
        assert await journal.runs_under_way("sync", since=start) == {runs["a sync"]}

        clock.now += timedelta(seconds=60)
        await journal.finish_run(runs["working"], outcome="succeeded", exit_code=0, report_path=None)
        assert await journal.runs_under_way("rotate", since=start) == {runs["working"]}, "it ended since"
        assert await journal.runs_under_way("rotate", since=clock.now + timedelta(seconds=1)) == frozenset()

        clock.now += timedelta(seconds=121)
        assert await journal.runs_under_way("sync", since=clock.now) == frozenset(), "its hold lapsed"
        await journal.hold_run(runs["a sync"], 120)
        assert await journal.runs_under_way("sync", since=clock.now) == {runs["a sync"]}
        await journal.end_run_hold(runs["a sync"])
        assert await journal.runs_under_way("sync", since=clock.now) == frozenset(), (
            "cancelled, never finished"
        )
        with pytest.raises(JournalError):
            await journal.hold_run("no-such-run", 120)


async def test_a_run_whose_process_died_on_this_host_is_not_under_way(
    open_journal: OpenJournal, raw_sql: RawSql
) -> None:
    async with await open_journal() as journal:
        killed = await journal.create_run(kind="rotate", options={}, inventory_path="i", inventory_digest="d")
        elsewhere = await journal.create_run(
            kind="rotate", options={}, inventory_path="i", inventory_digest="d"
        )
        for run in (killed, elsewhere):
            await journal.hold_run(run, 120)
        await _force_run_holder(raw_sql, killed, pid=_dead_pid(), host=socket.gethostname())
        await _force_run_holder(raw_sql, elsewhere, pid=_dead_pid(), host="another-host")
        now = datetime.now(UTC)
        assert await journal.runs_under_way("rotate", since=now) == {elsewhere}, (
            "a pid elsewhere says nothing"
        )


async def _resume(journal: Journal, run_id: str) -> str:
    """Record a run resuming ``run_id``, as ``fleet resume`` does."""
    return await journal.create_run(
        kind="rotate", options={"resumed_from": run_id}, inventory_path="i", inventory_digest="d"
    )


async def test_a_run_held_live_on_another_host_is_not_resumed_until_its_hold_lapses(
    open_journal: OpenJournal, raw_sql: RawSql
) -> None:
    """Another host's pid means nothing here: its hold is trusted until ``alive_until``, then it is dead."""
    clock = Clock()
    async with await open_journal(clock=clock) as journal:
        run = await journal.create_run(kind="rotate", options={}, inventory_path="i", inventory_digest="d")
        await journal.hold_run(run, 120)
        await _force_run_holder(raw_sql, run, pid=4242, host="ams-runner-2")
        with pytest.raises(RunStillRunning) as refused:
            await _resume(journal, run)
        hold = refused.value.hold
        assert (hold.run_id, hold.pid, hold.host) == (run, 4242, "ams-runner-2")
        assert hold.alive_until == "2026-11-29T05:02:00.000Z" and await journal.live_hold(run) == hold
        message = str(refused.value)
        assert all(
            part in message for part in (run, "pid 4242 on ams-runner-2", hold.alive_until, "kill 4242")
        )
        assert [row.id for row in await journal.runs()] == [run], "a refused resume records no run"

        clock.now += timedelta(seconds=121)  # its runner stopped renewing: it died
        assert await journal.live_hold(run) is None
        resumed = await _resume(journal, run)
        assert (await journal.run(resumed)).options["resumed_from"] == run  # type: ignore[union-attr]


async def test_a_run_is_resumed_at_once_when_its_holder_on_this_host_is_gone_or_it_ended(
    open_journal: OpenJournal, raw_sql: RawSql
) -> None:
    """Only a live holder refuses a resume: a pid of this host that is gone (SIGKILL a moment ago, its
    hold still ahead), a finished run or a cancelled one is resumed at once, as is one never held."""
    async with await open_journal() as journal:
        runs = {
            name: await journal.create_run(
                kind="rotate", options={}, inventory_path="i", inventory_digest="d"
            )
            for name in ("alive here", "killed here", "finished", "cancelled", "never held")
        }
        for name in ("alive here", "killed here", "finished", "cancelled"):
            await journal.hold_run(runs[name], 120)
        await _force_run_holder(raw_sql, runs["killed here"], pid=_dead_pid(), host=socket.gethostname())
        await journal.finish_run(runs["finished"], outcome="failed", exit_code=1, report_path=None)
        await journal.end_run_hold(runs["cancelled"])

        with pytest.raises(RunStillRunning, match=f"pid {os.getpid()} on {socket.gethostname()}"):
            await _resume(journal, runs["alive here"])
        for name in ("killed here", "finished", "cancelled", "never held"):
            assert await journal.live_hold(runs[name]) is None, name
            await _resume(journal, runs[name])
