"""The PostgreSQL journal storage: one database a team shares, on asyncpg, with the same group commit.

Why asyncpg: the journal is on every step's path (an intent is committed before its request is
sent), so the driver's cost per statement is the cost of a team journal. asyncpg speaks the wire
protocol itself, in Cython, on the event loop the run already has: measured on this project's
benchmark machine it spends about half the CPU per statement of psycopg 3's async connection. It
brings its own small pool.

Group commit, as on SQLite (``writer``): callers queue operations; the writer task, which owns one
connection of the pool, runs everything queued since it last looked as ONE transaction and resolves
each caller's future only after COMMIT returned. That is where an intent goes (a step and its
pending mark together) and everything else that needs a transaction. Operations that do not
(``write(alone=True)``: one statement, or a cluster row the run's lease already makes its own) run
on the pool in autocommit instead: each statement is a network round trip and costs the runner
CPU, and a batch's BEGIN and COMMIT are two more, which at the batch sizes a run makes cost more
than the statements they would share. PostgreSQL itself shares WAL flushes among concurrent
commits, so durability costs the server little either way. PostgreSQL's COMMIT returns once the WAL
is flushed on the server (``synchronous_commit=on``, set for fleet's sessions whatever the server's
default), so ``await`` still means "durable" and a killed runner never leaves a request in flight
without its intent. While a batch is in the database, the next one queues up behind it.

Savepoints cost two round trips per operation, so a batch runs without them; if an operation fails,
the transaction is rolled back and the batch runs again with a savepoint around each operation, so
one bad call fails alone as it does on SQLite. Operations are functions of the database only, so
running one again is running it once.

Reads do not queue behind writes either: each takes a connection of the pool and runs in autocommit
(every read operation is one statement, so each sees one committed state). Lease statements must
not be in batches at all: a lease row another runner's statement may lock too, held locked until
a batch's COMMIT, deadlocks two runners taking leases in different orders (it did, in the
two-process race test, before leases left the batch).

At open, the runner's clock is compared with the database's: leases and the ledger compare times
written by different hosts, so a runner whose clock is off by more than ``MAX_CLOCK_SKEW`` seconds
is refused, naming the offset. A server with ``fsync=off`` is said in a warning: commits there do
not survive a power loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import asyncpg
import structlog

from fleet.journal.errors import JournalError
from fleet.journal.paths import PostgresUrl
from fleet.journal.pg_schema import migrate
from fleet.journal.storage import Operation, Row
from fleet.secrets.scrub import SCRUBBER

T = TypeVar("T")

WRITERS = 1  # group-committing connections (intents); the rest is on the pool
POOL_SIZE = WRITERS + 4  # and four for reads and autocommit writes
CONNECT_TIMEOUT = 10.0  # seconds
STATEMENT_TIMEOUT = 60.0  # seconds: a journal statement is small; longer means the database is stuck
MAX_BATCH = 1000
MAX_CLOCK_SKEW = 10.0  # seconds; leases last 120 s and are renewed every 30 s
_SERVER_SETTINGS = {"application_name": "fleet", "synchronous_commit": "on"}
_CONNECTION_LOST = (asyncpg.InterfaceError, asyncpg.exceptions.ConnectionDoesNotExistError, OSError)

log = structlog.get_logger("fleet.journal")
wall_clock = time.time  # this host's clock, compared with the database's at open (tests move it)


@functools.lru_cache(maxsize=1024)
def numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1``, ``$2``... (fleet's SQL has no ``?`` in literals)."""
    count = iter(range(1, 1_000_000))
    return re.sub(r"\?", lambda _: f"${next(count)}", sql)


class PostgresConnection:
    """The ``storage.Connection`` an operation gets: asyncpg, in a batch's transaction or autocommit."""

    __slots__ = ("raw",)
    dialect: Literal["postgresql"] = "postgresql"

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    async def execute(self, sql: str, args: Sequence[object] = ()) -> int:
        status: str = await self.raw.execute(numbered(sql), *args)
        count = status.rpartition(" ")[2]  # "UPDATE 3", "DELETE 0", "INSERT 0 1"
        return int(count) if count.isdigit() else 0

    async def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        await self.raw.executemany(numbered(sql), list(rows))

    async def fetchone(self, sql: str, args: Sequence[object] = ()) -> Row | None:
        row: Row | None = await self.raw.fetchrow(numbered(sql), *args)
        return row

    async def fetchall(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        rows: list[Row] = await self.raw.fetch(numbered(sql), *args)
        return rows

    def json_text(self, column: str, key: str) -> str:
        return f"({column}::jsonb ->> '{key}')"

    async def serialize(self, topic: str) -> None:
        await self.raw.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"fleet:{topic}")


@dataclass(slots=True)
class _Request:
    operation: Operation[Any]
    future: asyncio.Future[Any]


class _OperationFailed(Exception):
    """An operation raised in a batch run without savepoints: run the batch again, each one isolated."""


_STOP = object()


class PostgresStorage:
    """``JournalStorage`` over a PostgreSQL database. Build it with ``await PostgresStorage.open(url)``;
    it belongs to the event loop it was opened on."""

    def __init__(self, url: PostgresUrl, pool: Any, writers: list[Any]) -> None:
        self._url = url
        self._pool = pool
        self._writers = writers
        self._queue: asyncio.Queue[_Request | object] = asyncio.Queue()
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self.batches = 0

    @classmethod
    async def open(cls, url: PostgresUrl) -> PostgresStorage:
        """Connect (a small pool), create or migrate the tables, check the clock, start the writer."""
        with _translated(url, "cannot be opened"):
            pool = await asyncpg.create_pool(
                url.reveal(),
                min_size=1,
                max_size=POOL_SIZE,
                timeout=CONNECT_TIMEOUT,
                command_timeout=STATEMENT_TIMEOUT,
                server_settings=_SERVER_SETTINGS,
                reset=_keep_session,
            )
        try:
            with _translated(url, "cannot be used"):
                writers = [await pool.acquire() for _ in range(WRITERS)]
                await migrate(writers[0])
                await _check_server(url, writers[0])
        except BaseException:
            await _close_pool(pool)
            raise
        storage = cls(url, pool, writers)
        loop = asyncio.get_running_loop()
        storage._tasks = [
            loop.create_task(storage._serve(conn), name=f"fleet-journal-writer-{i}")
            for i, conn in enumerate(writers)
        ]
        return storage

    @property
    def commits(self) -> int:
        return self.batches

    async def write(self, operation: Operation[T], *, alone: bool = False) -> T:
        if alone:
            return await self._on_pool(operation, "cannot be written")
        if self._closing:
            raise JournalError("the journal is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Request(operation, future))
        return await future

    async def read(self, operation: Operation[T]) -> T:
        return await self._on_pool(operation, "cannot be read")

    async def _on_pool(self, operation: Operation[T], doing: str) -> T:
        """Run ``operation`` on a connection of the pool, in autocommit: each statement on its own.

        A lost connection closes the storage, as the writer's does: a run stops on its journal's
        first failure, and a journal half of whose connections work would only hide it.
        """
        if self._closing:
            raise JournalError("the journal is closed")
        try:
            async with self._pool.acquire() as conn:
                return await operation(PostgresConnection(conn))
        except (*_CONNECTION_LOST, TimeoutError) as exc:
            self._lose()
            raise JournalError(
                SCRUBBER.scrub(
                    f"{self._url}: the journal {doing}: the connection to the database was lost: {exc}"
                )
            ) from None
        except asyncpg.PostgresError as exc:
            raise JournalError(SCRUBBER.scrub(f"{self._url}: the journal {doing}: {exc}")) from None

    def _lose(self) -> None:
        """The database is gone: refuse everything from now on, and let the writers stop."""
        if self._closing:
            return
        self._closing = True
        self._fail_queued()
        for _ in self._tasks:
            self._queue.put_nowait(_STOP)

    async def close(self) -> None:
        """Commit what is queued, then close every connection. Idempotent."""
        if not self._tasks:
            return
        if not self._closing:
            self._closing = True
            for _ in self._tasks:
                self._queue.put_nowait(_STOP)
        await asyncio.shield(asyncio.gather(*self._tasks))
        self._fail_queued()  # raced in behind the stop markers: nobody is left to commit them
        for conn in self._writers:
            with contextlib.suppress(*_CONNECTION_LOST, asyncpg.PostgresError):
                await self._pool.release(conn)
        self._writers = []
        await _close_pool(self._pool)

    # --- the writer task -------------------------------------------------------------------------

    async def _serve(self, conn: Any) -> None:
        """One writer: take what is queued, commit it as one transaction, until told to stop.

        A writer whose connection is lost closes the storage: what is queued fails, and the other
        writers are told to stop (a run must not go on with half its journal).
        """
        while True:
            first = await self._queue.get()
            if first is _STOP:
                return
            batch: list[_Request] = [first]  # type: ignore[list-item]
            stop_after = False
            while len(batch) < MAX_BATCH and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is _STOP:
                    stop_after = True
                    break
                batch.append(item)  # type: ignore[arg-type]
            if not await self._commit(conn, batch):
                self._lose()
                return
            if stop_after:
                return

    async def _commit(self, conn: Any, batch: list[_Request]) -> bool:
        """Run the batch as one transaction and settle every caller; False if the connection is lost."""
        try:
            try:
                outcomes = await self._transaction(conn, batch, isolate=False)
            except _OperationFailed:
                outcomes = await self._transaction(conn, batch, isolate=True)
        except Exception as exc:  # BEGIN or COMMIT failed, or the connection did: none of it is durable
            lost = isinstance(exc, _CONNECTION_LOST) or conn.is_closed()
            cause = "the connection to the database was lost" if lost else "commit failed"
            failed = JournalError(SCRUBBER.scrub(f"journal {self._url}: {cause}: {exc}"))
            for request in batch:
                _settle(request.future, None, failed)
            return not lost
        for request, result, error in outcomes:
            _settle(request.future, result, error)
        return True

    async def _transaction(
        self, conn: Any, batch: list[_Request], *, isolate: bool
    ) -> list[tuple[_Request, Any, BaseException | None]]:
        adapter = PostgresConnection(conn)
        outcomes: list[tuple[_Request, Any, BaseException | None]] = []
        transaction = conn.transaction()
        await transaction.start()
        try:
            for request in batch:
                if not isolate:
                    try:
                        outcomes.append((request, await request.operation(adapter), None))
                    except Exception as exc:
                        raise _OperationFailed from exc
                    continue
                savepoint = conn.transaction()
                await savepoint.start()
                try:
                    result = await request.operation(adapter)
                except Exception as exc:
                    await savepoint.rollback()
                    outcomes.append((request, None, _as_journal_error(exc)))
                    continue
                await savepoint.commit()
                outcomes.append((request, result, None))
        except BaseException:
            if not conn.is_closed():
                with contextlib.suppress(*_CONNECTION_LOST, asyncpg.PostgresError):
                    await transaction.rollback()
            raise
        await transaction.commit()
        self.batches += 1
        return outcomes

    def _fail_queued(self) -> None:
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, _Request):
                _settle(item.future, None, JournalError("the journal is closed"))


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled; the write still stands
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _as_journal_error(exc: BaseException) -> BaseException:
    """Database failures become ``JournalError``; anything else (a caller's error, a bug) stays itself."""
    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError | OSError):
        error = JournalError(SCRUBBER.scrub(f"journal: {exc}"))
        error.__cause__ = exc
        return error
    return exc


@contextlib.contextmanager
def _translated(url: PostgresUrl, doing: str) -> Iterator[None]:
    """Driver and network errors as one ``JournalError`` naming the journal (password hidden)."""
    try:
        yield
    except JournalError:
        raise
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        raise JournalError(SCRUBBER.scrub(f"{url}: the journal {doing}: {reason}")) from None


async def _check_server(url: PostgresUrl, conn: Any) -> None:
    """Refuse a runner whose clock is far from the database's; warn when commits are not durable."""
    before = wall_clock()
    server = float(await conn.fetchval("SELECT extract(epoch FROM clock_timestamp())"))
    after = wall_clock()
    skew = (before + after) / 2 - server
    if abs(skew) > MAX_CLOCK_SKEW:
        raise JournalError(
            f"{url}: this host's clock is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} the "
            f"database's (at most {MAX_CLOCK_SKEW:g} s allowed): leases and the passphrase ledger compare "
            "times written by different hosts; synchronise the clock (NTP) and run again"
        )
    if await conn.fetchval("SHOW fsync") == "off":
        log.warning(
            "the journal's database runs with fsync=off: a commit survives fleet being killed, "
            "not the database server losing power",
            journal=str(url),
        )


async def _keep_session(conn: Any) -> None:
    """What a connection needs before it goes back to the pool: nothing. fleet's operations set no
    session state (no SET, cursors, LISTEN or session locks; asyncpg rolls back an open transaction
    itself), and asyncpg's default reset is one more round trip per read or lease statement."""


async def _close_pool(pool: Any) -> None:
    try:
        await asyncio.wait_for(pool.close(), timeout=CONNECT_TIMEOUT)
    except (TimeoutError, *_CONNECTION_LOST, asyncpg.PostgresError):
        pool.terminate()
