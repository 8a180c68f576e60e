"""The durable run record: every mutating step is written before its request and after its outcome.

ONTAP never returns a passphrase, so what fleet knows about a cluster's passphrase is what this
journal recorded (as a keyed fingerprint) plus what a probe proves. A run can be killed at any
moment; ``begin_step`` returns only once the intent is committed, so a request is never in flight
without a row saying so, and ``fleet resume`` reconciles every intent that has no outcome.

Durability. SQLite in WAL mode with ``synchronous=FULL`` (the default here): every COMMIT fsyncs
the WAL, so a committed intent survives a process kill *and* a power loss or kernel panic. The
cost is one fsync per commit, which group commit (see ``writer``) shares among every caller queued
at that moment. ``synchronous="NORMAL"`` is accepted for tests and scratch runs: in WAL mode a
COMMIT still ``write()``s the frames to the WAL file, so it lands in the OS page cache and survives
SIGKILL of the process (the kernel owns the data), but the last commits can vanish on power loss.
A rotation journal that forgets a sent passphrase after a power cut is the exact failure this
module exists to prevent, hence FULL by default.

Files: ``<journal>`` (+ ``-wal``, ``-shm``) and ``<journal>.key``, the HMAC key, mode 0600.
Text fields (``detail``, ``reason``, ``stop_reason``, options) pass the value-based scrubber.

A team shares one PostgreSQL journal instead (``postgres``): the same tables and calls, every
commit durable on the server before its await returns, and the HMAC key from a secret reference
given to every runner (``keys``), never stored in the database.

The SQL for cluster identity, leases and the passphrase ledger lives in ``identity``, ``leases``
and ``ledger``; the storage behind every call is a ``JournalStorage`` (``storage``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from fleet.journal import identity, leases, ledger
from fleet.journal.errors import AlreadyResumed, JournalError, RunStillRunning
from fleet.journal.keys import (
    FINGERPRINT_HEX_CHARS,
    FINGERPRINT_PREFIX,
    fingerprint_value,
    key_id,
    load_or_create_key,
    read_key,
)
from fleet.journal.paths import JournalLocation, PostgresUrl, journal_location, key_path_for
from fleet.journal.rows import ClusterFp, Lease, LeaseHolder, RunHold, RunRow, StepRow, UnitRow, columns
from fleet.journal.sqlite import SqliteStorage, Synchronous
from fleet.journal.storage import Connection, JournalStorage, Operation, Row
from fleet.secrets.scrub import SCRUBBER

if TYPE_CHECKING:
    from fleet.secrets.secret import Secret

T = TypeVar("T")
Clock = Callable[[], datetime]
UnitSpec = tuple[str, Sequence[str], int | None]
#: Where a journal's HMAC key comes from: the file beside a SQLite journal, or these bytes.
KeySource = Path | bytes

#: Unit statuses that mean "not finished"; any other status stamps ``ended_at``.
UNIT_OPEN_STATUSES = frozenset({"pending", "running"})
_FINGERPRINT = re.compile(re.escape(FINGERPRINT_PREFIX) + f"[0-9a-f]{{{FINGERPRINT_HEX_CHARS}}}")
_RUN_COLUMNS = columns(RunRow)
_UNIT_COLUMNS = columns(UnitRow)
_STEP_COLUMNS = columns(StepRow)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _scrub(text: str | None) -> str | None:
    return None if text is None else SCRUBBER.scrub(text)


class Journal:
    """An async facade over the journal's storage. Use ``await Journal.open(path_or_url)``.

    Every method is awaited and returns after its transaction committed; concurrent calls from
    many tasks are batched into one transaction (group commit). Close with ``await close()`` or
    ``async with``; a closed journal refuses further calls. ``path`` is where it lives: a ``Path``,
    or a ``PostgresUrl`` whose ``str`` hides the password.
    """

    def __init__(self, path: JournalLocation, storage: JournalStorage, key: bytes, clock: Clock) -> None:
        self.path = path
        self._storage = storage
        self._key = key
        self._clock = clock
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str] | PostgresUrl,
        *,
        key: bytes | None = None,
        synchronous: Synchronous = "FULL",
        clock: Clock = _utc_now,
    ) -> Journal:
        """Open (creating, migrating) the journal at ``path``: a SQLite file, or a ``postgresql://`` URL.

        ``key`` is the HMAC key from ``--journal-key`` (``keys.key_from_text``); a PostgreSQL
        journal needs it, a SQLite one uses its key file beside it unless given one.
        ``synchronous`` is SQLite's (see the module docstring); PostgreSQL commits are always synchronous.
        """
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', not {synchronous!r}")
        location = path if isinstance(path, PostgresUrl) else journal_location(path, env={})
        storage: JournalStorage
        source: KeySource
        if isinstance(location, PostgresUrl):
            if key is None:
                raise JournalError(
                    f"{location}: a PostgreSQL journal is shared, and so is its fingerprint key: give the "
                    "same --journal-key (env FLEET_JOURNAL_KEY) to every runner, e.g. env:FLEET_KEY holding "
                    "the output of `openssl rand -hex 32`"
                )
            try:
                from fleet.journal.postgres import PostgresStorage  # the driver is an optional extra
            except ModuleNotFoundError as missing:
                raise JournalError(
                    f"{location}: a PostgreSQL journal needs the {missing.name} driver: install fleet's "
                    "`postgresql` extra (in a checkout: pip install -e '.[postgresql]')"
                ) from None
            storage = await PostgresStorage.open(location)
            source = key
        else:
            storage = await SqliteStorage.open(location, synchronous)
            source = key if key is not None else key_path_for(location)
        try:
            bound = await storage.write(partial(_bind_key, source=source, where=str(location)))
        except BaseException:
            await storage.close()
            raise
        return cls(location, storage, bound, clock)

    async def close(self) -> None:
        """Commit what is queued and close. Idempotent."""
        self._closed = True
        await self._storage.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            warnings.warn(f"journal {self.path} was not closed", ResourceWarning, stacklevel=1)

    def __repr__(self) -> str:
        return f"<Journal {str(self.path)!r}{' closed' if self._closed else ''}>"

    @property
    def commits(self) -> int:
        """Transactions committed so far by this handle (group commit makes it far below the calls)."""
        return self._storage.commits

    def fingerprint(self, secret: Secret) -> str:
        """``hmac-sha256:<32 hex>`` of the passphrase under this journal's key; never a plain hash."""
        return fingerprint_value(self._key, secret.reveal())

    # --- runs and units --------------------------------------------------------------------------

    async def create_run(
        self,
        *,
        kind: str,
        options: dict[str, Any],
        inventory_path: str,
        inventory_digest: str,
        operator: str | None = None,
        host: str | None = None,
        change_id: str | None = None,
        fleet_version: str | None = None,
    ) -> str:
        """Record a new run; return its id (``20261129-051500-3fa2``: UTC start, then random hex).

        ``operator`` (user@host), ``host``, ``change_id`` and ``fleet_version`` are its audit record.

        A run that resumes another (``options["resumed_from"]``) is recorded only if no run resumed
        that one yet and that one is no longer under way, checked in the same transaction: two
        ``fleet resume`` of one run started together, from two shells or two hosts, record one run
        and refuse the other (``AlreadyResumed``), and a run whose process still holds it is not
        resumed beside it (``RunStillRunning``; see ``leases.live_hold``).
        """
        options_json = _scrub(json.dumps(options, sort_keys=True, default=_refuse_in_options))
        started = self._clock()
        parent = options.get("resumed_from")

        async def insert(conn: Connection) -> str | JournalError:
            if isinstance(parent, str):
                await conn.serialize(f"resume:{parent}")  # the check and the insert: one step
                refused = await _refuse_resume(conn, parent, _iso(started))
                if refused is not None:
                    return refused  # returned, not raised: a batch's other operations are not redone
            while True:
                run_id = f"{started.astimezone(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
                row = await conn.fetchone(
                    "INSERT INTO runs (id, kind, started_at, options, inventory_path, inventory_digest,"
                    " operator, host, change_id, fleet_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (id) DO NOTHING RETURNING id",
                    (
                        run_id,
                        kind,
                        _iso(started),
                        options_json,
                        inventory_path,
                        inventory_digest,
                        operator,
                        host,
                        _scrub(change_id),
                        fleet_version,
                    ),
                )
                if row is not None:
                    return run_id

        run_id = await self._write(insert)
        if isinstance(run_id, JournalError):
            raise run_id
        return run_id

    async def add_units(self, run_id: str, units: Sequence[UnitSpec]) -> None:
        """Record the run's units: ``(unit_id, clusters in step order, wave or None)``."""
        rows = [(run_id, unit_id, json.dumps(list(clusters)), wave) for unit_id, clusters, wave in units]

        async def insert(conn: Connection) -> None:
            await conn.executemany(
                "INSERT INTO units (run_id, unit_id, clusters, wave) VALUES (?, ?, ?, ?)", rows
            )

        await self._write(insert)

    async def set_unit(self, run_id: str, unit_id: str, *, status: str, reason: str | None = None) -> None:
        """Set a unit's status; the first non-pending one stamps ``started_at``, a final one ``ended_at``."""
        now = _iso(self._clock())
        started = None if status == "pending" else now
        ended = None if status in UNIT_OPEN_STATUSES else now

        async def update(conn: Connection) -> None:
            changed = await conn.execute(
                "UPDATE units SET status = ?, reason = ?, started_at = COALESCE(started_at, ?), ended_at = ?"
                " WHERE run_id = ? AND unit_id = ?",
                (status, _scrub(reason), started, ended, run_id, unit_id),
            )
            if changed == 0:
                raise JournalError(f"run {run_id} has no unit {unit_id!r}")

        await self._write(update, alone=True)

    async def finish_run(
        self,
        run_id: str,
        *,
        outcome: str,
        exit_code: int,
        report_path: str | None,
        stop_reason: str | None = None,
    ) -> None:
        """Record how the run ended. A resumed run finishes again: the latest outcome wins."""
        now = _iso(self._clock())

        async def update(conn: Connection) -> None:
            changed = await conn.execute(
                "UPDATE runs SET finished_at = ?, outcome = ?, exit_code = ?, report_path = ?,"
                " stop_reason = ? WHERE id = ?",
                (now, outcome, exit_code, report_path, _scrub(stop_reason), run_id),
            )
            if changed == 0:
                raise JournalError(f"no run {run_id!r} in the journal")

        await self._write(update, alone=True)

    # --- steps -----------------------------------------------------------------------------------

    async def begin_step(
        self,
        run_id: str,
        unit_id: str,
        cluster: str,
        name: str,
        *,
        from_fp: str | None = None,
        to_fp: str | None = None,
        marks_pending: bool = False,
        uuid: str | None = None,
    ) -> int:
        """Record the intent to run a step; returns its id once the intent is durably committed.

        Call it *before* sending the request. If the caller is cancelled while waiting, the intent
        may still be committed: it then shows up in ``open_intents`` and is reconciled on resume.
        ``marks_pending`` also records, in the same commit, that the cluster's passphrase may now be
        ``to_fp`` (what ``mark_sent`` does): a passphrase change and its intent are never apart.
        ``uuid`` is the cluster's identity for that mark (see ``cluster_state``).
        """
        _check_fingerprint(from_fp)
        _check_fingerprint(to_fp)
        if marks_pending and to_fp is None:
            raise ValueError("marks_pending needs to_fp")
        now = _iso(self._clock())

        async def insert(conn: Connection) -> int:
            row = await conn.fetchone(
                "INSERT INTO steps (run_id, unit_id, cluster, name, intent_at, from_fp, to_fp)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (run_id, unit_id, cluster, name, now, from_fp, to_fp),
            )
            if marks_pending:
                await identity.write_state(conn, cluster, uuid, now, pending_fp=to_fp, run_id=run_id)
            assert row is not None
            return int(row[0])

        return await self._write(insert)

    async def end_step(
        self, step_id: int, *, status: str, error_code: int | None = None, detail: str | None = None
    ) -> None:
        """Record a step's outcome. A step has exactly one outcome; a second one is refused."""
        now = _iso(self._clock())

        async def update(conn: Connection) -> None:
            changed = await conn.execute(
                "UPDATE steps SET outcome_at = ?, status = ?, error_code = ?, detail = ?"
                " WHERE id = ? AND status IS NULL",
                (now, status, error_code, _scrub(detail), step_id),
            )
            if changed == 0:
                exists = await conn.fetchone("SELECT 1 FROM steps WHERE id = ?", (step_id,))
                raise JournalError(
                    f"step {step_id} already has an outcome" if exists else f"no step {step_id}"
                )

        await self._write(update, alone=True)

    # --- what fleet knows about each cluster's passphrase ---------------------------------------

    async def mark_sent(self, cluster: str, to_fp: str, run_id: str, *, uuid: str | None = None) -> None:
        """A change to ``to_fp`` was sent (or may have been): the cluster's passphrase is now uncertain."""
        _check_fingerprint(to_fp)
        now = _iso(self._clock())
        await self._write(
            lambda conn: identity.write_state(conn, cluster, uuid, now, pending_fp=to_fp, run_id=run_id),
            alone=True,
        )

    async def mark_verified(self, cluster: str, fp: str, run_id: str, *, uuid: str | None = None) -> None:
        """The cluster proved it has ``fp``: it becomes current and any pending change is settled."""
        _check_fingerprint(fp)
        now = _iso(self._clock())
        await self._write(
            lambda conn: identity.write_state(
                conn,
                cluster,
                uuid,
                now,
                current_fp=fp,
                verified_at=now,
                verified_by=run_id,
                run_id=run_id,
                pending_fp=None,
            ),
            alone=True,
        )

    async def clear_pending(self, cluster: str, fp: str, *, uuid: str | None = None) -> bool:
        """Forget a pending mark equal to ``fp``: a definite refusal proved nothing changed.

        A pending mark for any other fingerprint stays (another change may be in flight); returns
        whether a mark was cleared.
        """
        _check_fingerprint(fp)
        now = _iso(self._clock())
        return await self._write(
            lambda conn: identity.clear_pending(conn, cluster, uuid, fp, now), alone=True
        )

    async def cluster_state(self, cluster: str, *, uuid: str | None = None) -> ClusterFp | None:
        """What fleet knows about this cluster's passphrase, or None.

        With ``uuid``: that identity's record, or a legacy record of the name that has no uuid yet;
        never the record of another cluster that carried the same name (a rebuilt cluster does not
        inherit). Without: the name's most recently written record.
        """
        return await self._read(lambda conn: identity.find_state(conn, cluster, uuid))

    # --- leases: one run per cluster at a time -----------------------------------------------------

    async def take_lease(
        self, cluster: str, *, run_id: str, ttl: float, uuid: str | None = None
    ) -> Lease | LeaseHolder:
        """Hold ``cluster`` for ``run_id`` for ``ttl`` seconds, or learn who holds it (see ``leases``).

        Taking a lease the run already holds extends it; renew held leases with ``renew_leases``.
        """
        now, expires_at = self._lease_times(ttl)
        return await self._write(
            partial(leases.take, cluster=cluster, uuid=uuid, run_id=run_id, now=now, expires_at=expires_at),
            alone=True,
        )

    async def lease_holder(self, cluster: str) -> LeaseHolder | None:
        """Who holds ``cluster``'s lease now, asked without taking it (a dry run takes no lease)."""
        now = _iso(self._clock())
        return await self._read(lambda conn: leases.holder(conn, cluster, now))

    async def renew_leases(self, run_id: str, ttl: float) -> frozenset[str]:
        """Extend every lease ``run_id`` holds to ``ttl`` seconds from now; return those clusters.

        A cluster missing from the answer was taken over (its lease had expired): stop working on it.
        """
        _, expires_at = self._lease_times(ttl)
        return await self._write(lambda conn: leases.renew(conn, run_id, expires_at), alone=True)

    async def release_lease(self, cluster: str, run_id: str) -> bool:
        """Give ``cluster`` back, if ``run_id`` holds it; someone else's lease is left alone."""
        return await self._write(lambda conn: leases.release(conn, cluster, run_id), alone=True)

    async def release_run_leases(self, run_id: str) -> int:
        """Give back every lease of ``run_id`` (the run ended); return how many there were."""
        return await self._write(lambda conn: leases.release_run(conn, run_id), alone=True)

    async def hold_run(self, run_id: str, ttl: float) -> None:
        """``run_id`` is under way in this process for ``ttl`` more seconds (renew it with the leases)."""
        _, alive_until = self._lease_times(ttl)
        if not await self._write(lambda conn: leases.hold_run(conn, run_id, alive_until)):
            raise JournalError(f"no run {run_id!r} in the journal")

    async def end_run_hold(self, run_id: str) -> None:
        """``run_id`` stopped working without finishing (cancelled): it is no longer under way."""
        await self._write(lambda conn: leases.end_run_hold(conn, run_id))

    async def runs_under_way(self, kind: str, *, since: datetime) -> frozenset[str]:
        """The runs of ``kind`` under way now (not finished, their hold not expired, their process
        alive), and those that finished at or after ``since``: every run of ``kind`` that was under way
        at some moment from ``since`` to now."""
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware (a naive time is ambiguous across hosts)")
        now, after = _iso(self._clock()), _iso(since)
        return await self._read(lambda conn: leases.runs_under_way(conn, kind, now, after))

    async def live_hold(self, run_id: str) -> RunHold | None:
        """Who holds ``run_id`` if it is under way now (``leases.live_hold``); None once it finished or
        its holder died. ``fleet resume`` asks before reading any secret; ``create_run`` decides."""
        now = _iso(self._clock())
        return await self._read(lambda conn: leases.live_hold(conn, run_id, now))

    def _lease_times(self, ttl: float) -> tuple[str, str]:
        if not ttl > 0:
            raise ValueError(f"a lease ttl must be a positive number of seconds, not {ttl!r}")
        now = self._clock()
        return _iso(now), _iso(now + timedelta(seconds=ttl))

    # --- the passphrase ledger: never guess twice ------------------------------------------------

    async def record_refusal(
        self,
        cluster: str,
        fp: str,
        *,
        code: int | None,
        run_id: str,
        uuid: str | None = None,
        probe: bool = False,
    ) -> None:
        """The cluster refused candidate ``fp`` (ONTAP ``code``): never send it again; a wrong attempt,
        unless ``probe`` (fleet's reconciliation probe proving a lost change was not applied)."""
        await self._record(cluster, fp, "probe_refused" if probe else "refused", code, run_id, uuid)

    async def record_wrong_attempt(
        self, cluster: str, fp: str, *, run_id: str, uuid: str | None = None
    ) -> None:
        """A passphrase attempt on the cluster failed (it counts toward lockout) without a refusal."""
        await self._record(cluster, fp, "wrong_attempt", None, run_id, uuid)

    async def ledger_names(self) -> frozenset[str]:
        """The clusters the ledger holds anything about (read once per run: most clusters have nothing)."""
        return await self._read(ledger.names)

    async def was_refused(self, cluster: str, fp: str, *, uuid: str | None = None) -> bool:
        """Did this cluster (this identity, or a legacy record of its name) ever refuse ``fp``?"""
        _check_fingerprint(fp)
        return await self._read(lambda conn: ledger.was_refused(conn, cluster, uuid, fp))

    async def wrong_attempts(self, cluster: str, *, since: datetime, uuid: str | None = None) -> int:
        """Wrong attempts (refusals included) on the cluster at or after ``since``, across runs."""
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware (a naive time is ambiguous across hosts)")
        after = _iso(since)
        return await self._read(lambda conn: ledger.wrong_attempts(conn, cluster, uuid, after))

    async def _record(
        self, cluster: str, fp: str, event: ledger.Event, code: int | None, run_id: str, uuid: str | None
    ) -> None:
        _check_fingerprint(fp)
        now = _iso(self._clock())
        await self._write(
            lambda conn: ledger.record(conn, cluster, uuid, fp, event, code, run_id, now), alone=True
        )

    # --- reading back ----------------------------------------------------------------------------

    async def open_intents(self, run_id: str) -> list[StepRow]:
        """Steps of ``run_id`` whose request may have been sent but whose outcome was never recorded."""
        query = f"SELECT {_STEP_COLUMNS} FROM steps WHERE run_id = ? AND status IS NULL ORDER BY id"
        return await self._read(lambda conn: _rows(conn, StepRow.from_sql, query, (run_id,)))

    async def runs(self, *, limit: int | None = None) -> list[RunRow]:
        """All runs, newest first."""
        query = f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY started_at DESC, rowid DESC"
        args: tuple[int, ...] = ()
        if limit is not None:
            query, args = f"{query} LIMIT ?", (limit,)
        return await self._read(lambda conn: _rows(conn, RunRow.from_sql, query, args))

    async def run(self, run_id: str) -> RunRow | None:
        async def select(conn: Connection) -> RunRow | None:
            row = await conn.fetchone(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
            return None if row is None else RunRow.from_sql(row)

        return await self._read(select)

    async def units(self, run_id: str) -> list[UnitRow]:
        """The run's units in the order they were added."""
        query = f"SELECT {_UNIT_COLUMNS} FROM units WHERE run_id = ? ORDER BY rowid"
        return await self._read(lambda conn: _rows(conn, UnitRow.from_sql, query, (run_id,)))

    async def steps(self, run_id: str, unit_id: str | None = None) -> list[StepRow]:
        """The run's steps (or one unit's) in the order their intents were written."""
        args: tuple[str, ...]
        if unit_id is None:
            query, args = f"SELECT {_STEP_COLUMNS} FROM steps WHERE run_id = ? ORDER BY id", (run_id,)
        else:
            query, args = (
                f"SELECT {_STEP_COLUMNS} FROM steps WHERE run_id = ? AND unit_id = ? ORDER BY id",
                (run_id, unit_id),
            )
        return await self._read(lambda conn: _rows(conn, StepRow.from_sql, query, args))

    # --- plumbing --------------------------------------------------------------------------------

    async def _write(self, operation: Operation[T], *, alone: bool = False) -> T:
        """``alone``: no transaction needed around the operation's statements (``JournalStorage.write``)."""
        self._check_open()
        return await self._storage.write(operation, alone=alone)

    async def _read(self, operation: Operation[T]) -> T:
        self._check_open()
        return await self._storage.read(operation)

    def _check_open(self) -> None:
        if self._closed:
            raise JournalError(f"journal {self.path} is closed")


async def _rows(conn: Connection, make: Callable[[Row], T], query: str, args: Sequence[object]) -> list[T]:
    return [make(row) for row in await conn.fetchall(query, args)]


async def _refuse_resume(conn: Connection, parent: str, now: str) -> JournalError | None:
    """Why ``parent`` may not be resumed now, or None: a run resumed it already, or it is under way."""
    child = await conn.fetchone(
        f"SELECT id FROM runs WHERE {conn.json_text('options', 'resumed_from')} = ? "
        "ORDER BY started_at, rowid LIMIT 1",
        (parent,),
    )
    if child is not None:
        return AlreadyResumed(parent, child[0])
    hold = await leases.live_hold(conn, parent, now)
    return None if hold is None else RunStillRunning(hold)


async def _bind_key(conn: Connection, *, source: KeySource, where: str) -> bytes:
    """The journal's HMAC key, checked to belong here: recorded (as ``key_id``) by the first opener.

    ``source`` is the key file beside a SQLite journal (created with the journal) or the key a
    secret reference gave. A journal whose key was lost or swapped would fingerprint every
    passphrase differently and make fleet believe no cluster has a known passphrase; better to stop
    and say so.
    """
    row = await conn.fetchone("SELECT value FROM meta WHERE name = 'key_id'")
    if row is None:
        key = source if isinstance(source, bytes) else load_or_create_key(source)
        await conn.execute(
            "INSERT INTO meta (name, value) VALUES ('key_id', ?) ON CONFLICT (name) DO NOTHING",
            (key_id(key),),
        )
        row = await conn.fetchone("SELECT value FROM meta WHERE name = 'key_id'")
        assert row is not None
    elif isinstance(source, bytes):
        key = source
    else:
        try:
            key = read_key(source)
        except FileNotFoundError:
            raise JournalError(
                f"{source}: the journal's key file is missing; restore it from backup"
            ) from None
    if key_id(key) != row[0]:
        if isinstance(source, bytes):
            raise JournalError(
                f"{where}: --journal-key is not this journal's key (it fingerprints every passphrase "
                "differently): give the key every runner of this journal uses"
            )
        raise JournalError(f"{source}: this key file does not belong to the journal beside it")
    return key


def _check_fingerprint(fp: str | None) -> None:
    """Refuse anything but a fingerprint where a fingerprint belongs: a passphrase must never land here."""
    if fp is not None and not _FINGERPRINT.fullmatch(fp):
        raise JournalError("expected a journal fingerprint (hmac-sha256:<32 hex>); use Journal.fingerprint()")


def _refuse_in_options(value: object) -> object:
    raise TypeError(
        f"run options must be plain JSON (secret references, never values), not {type(value).__name__}"
    )
