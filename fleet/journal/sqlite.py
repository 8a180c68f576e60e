"""The SQLite journal storage: one WAL database, served by the group-committing writer thread.

A journal that cannot be used (not a database, damaged, locked by another process, unreadable) is
one ``JournalError`` naming the file and the cause when it is opened, before a run sends anything.
In WAL mode nothing fleet does keeps a reader waiting, so the first reads wait ``OPEN_BUSY_SECONDS``
at most: longer means a process holds the file exclusively (``locking_mode=EXCLUSIVE``, a backup).
Writes wait ``BUSY_TIMEOUT_MS``, as another run sharing the journal may be committing.

While it is open, every write batch first checks, with one ``os.stat``, that the path still names
the file the connection holds: SQLite goes on writing into a journal deleted or replaced mid-run, a
file nobody can read again, so the batch fails instead and the run stops.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Literal, TypeVar

from fleet.journal.errors import JournalError
from fleet.journal.schema import migrate
from fleet.journal.storage import Operation
from fleet.journal.writer import JournalWriter
from fleet.safe_files import make_dirs

T = TypeVar("T")
Synchronous = Literal["FULL", "NORMAL"]
BUSY_TIMEOUT_MS = 10_000
OPEN_BUSY_SECONDS = 2.0  # for reads, which only an exclusive lock holds up

_LOCKED = "is locked by another process; let it finish or stop it"
#: What SQLite's primary result codes mean for a journal, said to the person who has to fix it.
_CAUSES = {
    sqlite3.SQLITE_NOTADB: "is not a SQLite database; is this the journal (--journal, FLEET_JOURNAL)?",
    sqlite3.SQLITE_CORRUPT: "is damaged (truncated or corrupt); restore it from a backup",
    sqlite3.SQLITE_BUSY: _LOCKED,
    sqlite3.SQLITE_LOCKED: _LOCKED,
    sqlite3.SQLITE_CANTOPEN: "cannot be opened (a folder, or no permission?)",
    sqlite3.SQLITE_READONLY: "cannot be written (a read-only file or folder?)",
    sqlite3.SQLITE_FULL: "cannot be written: the disk is full",
}


class SqliteStorage:
    """``JournalStorage`` over a SQLite file. Build it with ``await SqliteStorage.open(path)``."""

    def __init__(self, writer: JournalWriter) -> None:
        self._writer = writer

    @classmethod
    async def open(cls, path: Path, synchronous: Synchronous = "FULL") -> SqliteStorage:
        """Open (creating, migrating) the database; the connection lives on the writer thread."""
        file = _JournalFile(path)
        writer = JournalWriter(lambda: file.connect(synchronous), before_write=file.check)
        await writer.start()
        return cls(writer)

    @property
    def commits(self) -> int:
        return self._writer.batches

    async def write(self, operation: Operation[T], *, alone: bool = False) -> T:
        return await self._writer.submit(operation, write=True)  # one writer at a time: never a deadlock

    async def read(self, operation: Operation[T]) -> T:
        return await self._writer.submit(operation, write=False)

    async def close(self) -> None:
        await self._writer.stop()


class _JournalFile:
    """The file the connection holds, by device and inode, so a path that names another is noticed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._identity: tuple[int, int] | None = None

    def connect(self, synchronous: Synchronous) -> sqlite3.Connection:
        conn = connect(self.path, synchronous)
        self._identity = _identity(self.path)
        return conn

    def check(self) -> None:
        """Raise unless the path still names the opened file (one ``stat``: called per group commit)."""
        if _identity(self.path) != self._identity:
            raise JournalError(
                f"{self.path}: the journal file was deleted or replaced while in use; "
                "nothing more can be recorded in it"
            )


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def connect(path: Path, synchronous: Synchronous) -> sqlite3.Connection:
    """Open the database (on the writer thread): private files, WAL, the schema up to date."""
    try:
        make_dirs(path.parent, 0o700)  # every folder it makes 0700, whatever the umask
        if not path.exists():
            # Created 0600 before SQLite touches it: the -wal and -shm files inherit this mode.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError as exc:
        raise JournalError(f"{path}: the journal cannot be created ({exc.strerror})") from None
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=OPEN_BUSY_SECONDS)
        conn.row_factory = sqlite3.Row
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise JournalError(f"{path}: SQLite could not use WAL mode here (got {mode!r}); use a local disk")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA user_version").fetchone()  # a read: held up only by an exclusive lock
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        migrate(conn)
        conn.execute("BEGIN IMMEDIATE")  # the write lock can be had, so the error is said here
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise unusable(path, exc) from exc
    except BaseException:
        if conn is not None:
            conn.close()
        raise
    return conn


def unusable(path: Path, exc: sqlite3.Error) -> JournalError:
    """One line: the journal file and what is wrong with it."""
    cause = _CAUSES.get(exc.sqlite_errorcode & 0xFF)
    return JournalError(
        f"{path}: the journal {cause}" if cause else f"{path}: the journal cannot be used ({exc})"
    )
