"""The journal reaches its rows only through ``JournalStorage``: any implementation of it will do."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from fleet.journal import Journal
from fleet.journal.keys import load_or_create_key
from fleet.journal.sqlite import SqliteStorage
from fleet.journal.storage import JournalStorage, Operation
from fleet.secrets.secret import Secret

T = TypeVar("T")


class CountingStorage:
    """A storage that delegates to SQLite and counts what the journal asks of it."""

    def __init__(self, inner: JournalStorage) -> None:
        self.inner = inner
        self.writes = self.reads = self.closes = 0

    @property
    def commits(self) -> int:
        return self.inner.commits

    async def write(self, operation: Operation[T], *, alone: bool = False) -> T:
        self.writes += 1
        return await self.inner.write(operation, alone=alone)

    async def read(self, operation: Operation[T]) -> T:
        self.reads += 1
        return await self.inner.read(operation)

    async def close(self) -> None:
        self.closes += 1
        await self.inner.close()


async def test_a_journal_runs_on_any_storage_that_keeps_the_protocol(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    storage = CountingStorage(await SqliteStorage.open(path, "NORMAL"))
    key = load_or_create_key(tmp_path / "journal.db.key")
    journal = Journal(path, storage, key, lambda: datetime.now(UTC))
    run = await journal.create_run(kind="rotate", options={}, inventory_path="i", inventory_digest="d")
    await journal.mark_verified("cl-1", journal.fingerprint(Secret("p" * 40)), run, uuid="u-1")
    await journal.take_lease("cl-1", run_id=run, ttl=60)
    state = await journal.cluster_state("cl-1", uuid="u-1")
    await journal.close()
    await journal.close()
    assert state is not None and state.run_id == run
    assert (storage.writes, storage.reads) == (3, 1)
    assert storage.closes == 2, "close is passed on; the storage itself must make it idempotent"
