"""The SQLite journal storage: one WAL database, served by the group-committing writer thread."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Literal, TypeVar

from fleet.journal.errors import JournalError
from fleet.journal.schema import migrate
from fleet.journal.storage import Operation
from fleet.journal.writer import JournalWriter

T = TypeVar("T")
Synchronous = Literal["FULL", "NORMAL"]
BUSY_TIMEOUT_MS = 10_000


class SqliteStorage:
    """``JournalStorage`` over a SQLite file. Build it with ``await SqliteStorage.open(path)``."""

    def __init__(self, writer: JournalWriter) -> None:
        self._writer = writer

    @classmethod
    async def open(cls, path: Path, synchronous: Synchronous = "FULL") -> SqliteStorage:
        """Open (creating, migrating) the database; the connection lives on the writer thread."""
        writer = JournalWriter(lambda: connect(path, synchronous))
        await writer.start()
        return cls(writer)

    @property
    def commits(self) -> int:
        return self._writer.batches

    async def write(self, operation: Operation[T]) -> T:
        return await self._writer.submit(operation, write=True)

    async def read(self, operation: Operation[T]) -> T:
        return await self._writer.submit(operation, write=False)

    async def close(self) -> None:
        await self._writer.stop()


def connect(path: Path, synchronous: Synchronous) -> sqlite3.Connection:
    """Open the database (on the writer thread): private files, WAL, the schema up to date."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        # Created 0600 before SQLite touches it: the -wal and -shm files inherit this mode.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        conn.row_factory = sqlite3.Row
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise JournalError(f"{path}: SQLite could not use WAL mode here (got {mode!r}); use a local disk")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn
