"""The one seam between the journal's API and where its rows live: SQLite or PostgreSQL.

``Journal`` knows its tables, not its transport: every call is one *operation*, an async function of
a ``Connection``, handed to ``write`` (runs atomically and is durable when the await returns) or
``read`` (sees every write whose await has returned). That is the whole contract, so a backend is an
implementation of ``JournalStorage`` plus a ``Connection`` adapter, not a new ``Journal``.

Operations speak one SQL for both backends: ``?`` placeholders (the PostgreSQL adapter numbers
them ``$1``, ``$2``...), ``INSERT ... ON CONFLICT``, ``RETURNING``, partial indexes, explicit column
lists, text timestamps in one fixed-width UTC format (PostgreSQL's text columns are ``COLLATE "C"``,
so they compare byte by byte as in SQLite). Where the two differ, the connection says how
(``json_text``), or does what its backend needs (``serialize``).

Operations are coroutines so that PostgreSQL's async driver can run them on the event loop. The
SQLite adapter's methods never suspend, so its writer thread drives an operation to completion
with ``drive``, without an event loop: the same code, no thread hop per statement.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from typing import Any, Literal, Protocol, TypeVar

T = TypeVar("T")
Dialect = Literal["sqlite", "postgresql"]


class Row(Protocol):
    """A result row, by position or by column name (``sqlite3.Row``, ``asyncpg.Record``)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What an operation is given: a connection inside the storage's transaction."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, sql: str, args: Sequence[object] = ()) -> int:
        """Run one statement; return how many rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None: ...

    async def fetchone(self, sql: str, args: Sequence[object] = ()) -> Row | None: ...

    async def fetchall(self, sql: str, args: Sequence[object] = ()) -> list[Row]: ...

    def json_text(self, column: str, key: str) -> str:
        """A SQL expression: the text at top-level ``key`` of the JSON text in ``column``."""
        ...

    async def serialize(self, topic: str) -> None:
        """Hold other writers' ``serialize(topic)`` off until this transaction ends.

        SQLite's write transactions already run one at a time (``BEGIN IMMEDIATE``), so there it
        does nothing; PostgreSQL takes a transaction-scoped advisory lock, so a check and the write
        that depends on it (resume a run once) stay one atomic step across hosts.
        """
        ...


Operation = Callable[[Connection], Coroutine[Any, Any, T]]


def row_dict(row: Row) -> dict[str, Any]:
    """A row as ``{column: value}`` (iterating a row gives its values, as a tuple would)."""
    return dict(zip(row.keys(), row, strict=True))


def drive(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (an operation on the SQLite adapter) to its result."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("a journal operation awaited something other than its connection")


class JournalStorage(Protocol):
    """Runs journal operations; each ``write`` is atomic and committed before it returns."""

    @property
    def commits(self) -> int:
        """Transactions committed so far (group commit makes this far below the number of calls)."""
        ...

    async def write(self, operation: Operation[T], *, alone: bool = False) -> T:
        """Run ``operation`` in a write transaction; return once it is durable.

        ``alone``: the operation needs no transaction around its statements (each one, committed by
        itself, leaves the journal right: one statement, a lease's retry loop, or a write to a
        cluster's row that the cluster's lease already makes this run's alone). PostgreSQL then runs
        it outside the group commit, on a pooled connection in autocommit: one round trip instead of
        a share of a batch's BEGIN and COMMIT, and a lease row is never held locked until a whole
        batch commits (two runners' batches taking lease rows in different orders deadlocked).
        SQLite, one writer at a time, batches it as any other write.
        """
        ...

    async def read(self, operation: Operation[T]) -> T:
        """Run ``operation`` against committed state; it must not write."""
        ...

    async def close(self) -> None:
        """Finish queued operations and release the storage. Idempotent."""
        ...
