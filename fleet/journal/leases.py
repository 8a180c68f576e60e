"""Per-cluster leases: two runs never work on one cluster at once.

A lease is one ``leases`` row per cluster name: which run holds it, from which process on which
host, until when. Taking one is a single ``INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING``
statement, so between two processes on one journal, or two hosts on one PostgreSQL journal, exactly
one wins (PostgreSQL locks the conflicting row and evaluates the WHERE on its latest version); the
loser gets the row that beat it. A lease may be taken over only when it expired, when it is the
same run's (a run takes its clusters again), or when its holder was a process on this host that no
longer exists (a killed run need not wait out its TTL). Liveness is probed after a refusal and the
dead pid is then a condition *inside* a second statement, so a lease that changed hands in between
is never stolen. A holder on another host is never probed: its pids mean nothing here, so its lease
is taken over only once it expired (its runner stopped renewing it).

A changing run also holds its own ``runs`` row the same way while it works (pid, host,
``alive_until``, renewed with its leases), so another run can ask which runs are under way: a run
that finished, whose hold expired, or whose process on this host is gone is not (a run on another
host is under way until its hold expires). ``live_hold`` asks the same of one run: ``fleet resume``
refuses a run still under way, in the transaction that records the resume.
"""

from __future__ import annotations

import os
import socket

from fleet.journal.errors import JournalError
from fleet.journal.rows import Lease, LeaseHolder, RunHold
from fleet.journal.storage import Connection, row_dict

_TAKE = """
INSERT INTO leases (cluster, uuid, run_id, pid, host, acquired_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (cluster) DO UPDATE SET
    uuid = COALESCE(excluded.uuid, leases.uuid),
    acquired_at = CASE WHEN leases.run_id = excluded.run_id THEN leases.acquired_at
                       ELSE excluded.acquired_at END,
    run_id = excluded.run_id, pid = excluded.pid, host = excluded.host,
    expires_at = excluded.expires_at
WHERE leases.expires_at <= excluded.acquired_at
   OR leases.run_id = excluded.run_id
   OR (leases.host = excluded.host AND leases.pid = ?)
RETURNING cluster, run_id, expires_at
"""
_HOLDER = "SELECT cluster, run_id, pid, host, expires_at FROM leases WHERE cluster = ?"
_ATTEMPTS = 3


def here() -> tuple[int, str]:
    """This process, as a lease records it."""
    return os.getpid(), socket.gethostname()


async def take(
    conn: Connection, cluster: str, uuid: str | None, run_id: str, now: str, expires_at: str
) -> Lease | LeaseHolder:
    """One statement takes a free, expired or our own run's lease (the usual case: one round trip).

    Refused, the holder is read; only if it is a process of this host that no longer exists is the
    statement sent again, with that pid as a condition inside it. Each statement decides alone, so
    this may run outside a transaction (``JournalStorage.write(alone=True)``): a holder that gave
    the lease back in between is simply asked for again.
    """
    pid, host = here()
    params: list[object] = [cluster, uuid, run_id, pid, host, now, expires_at, None]
    holder: LeaseHolder | None = None
    for _attempt in range(_ATTEMPTS):
        taken = await conn.fetchone(_TAKE, params)
        if taken is not None:
            return Lease(**row_dict(taken))
        row = await conn.fetchone(_HOLDER, (cluster,))
        if row is None:  # given back between the two statements
            continue
        holder = LeaseHolder(**row_dict(row))
        if holder.host != host or pid_alive(holder.pid) or params[-1] == holder.pid:
            return holder
        params[-1] = holder.pid  # a dead process of this host: take it over, if it still holds it
    if holder is None:
        raise JournalError(f"the lease of {cluster} changed hands {_ATTEMPTS} times while it was asked for")
    return holder


async def holder(conn: Connection, cluster: str, now: str) -> LeaseHolder | None:
    """Who holds ``cluster`` now, without taking it: None if nobody, or if the holder's lease expired or
    its process on this host is gone (``take`` would take it over)."""
    row = await conn.fetchone(_HOLDER + " AND expires_at > ?", (cluster, now))
    if row is None:
        return None
    found = LeaseHolder(**row_dict(row))
    return found if holder_alive(found.pid, found.host) else None


async def renew(conn: Connection, run_id: str, expires_at: str) -> frozenset[str]:
    rows = await conn.fetchall(
        "UPDATE leases SET expires_at = ? WHERE run_id = ? RETURNING cluster", (expires_at, run_id)
    )
    return frozenset(row[0] for row in rows)


async def release(conn: Connection, cluster: str, run_id: str) -> bool:
    return await conn.execute("DELETE FROM leases WHERE cluster = ? AND run_id = ?", (cluster, run_id)) > 0


async def release_run(conn: Connection, run_id: str) -> int:
    return await conn.execute("DELETE FROM leases WHERE run_id = ?", (run_id,))


async def hold_run(conn: Connection, run_id: str, alive_until: str) -> bool:
    """``run_id`` is under way in this process until ``alive_until``; False if there is no such run."""
    pid, host = here()
    changed = await conn.execute(
        "UPDATE runs SET pid = ?, host = ?, alive_until = ? WHERE id = ?", (pid, host, alive_until, run_id)
    )
    return changed > 0


async def end_run_hold(conn: Connection, run_id: str) -> None:
    await conn.execute("UPDATE runs SET alive_until = NULL WHERE id = ?", (run_id,))


async def runs_under_way(conn: Connection, kind: str, now: str, since: str) -> frozenset[str]:
    """Runs of ``kind`` under way now (not finished, hold not expired, process alive if on this host),
    or that finished at or after ``since``."""
    rows = await conn.fetchall(
        "SELECT id, pid, host, finished_at FROM runs WHERE kind = ? AND (finished_at >= ?"
        " OR (finished_at IS NULL AND alive_until IS NOT NULL AND alive_until > ?))",
        (kind, since, now),
    )
    return frozenset(
        row["id"] for row in rows if row["finished_at"] is not None or holder_alive(row["pid"], row["host"])
    )


async def live_hold(conn: Connection, run_id: str, now: str) -> RunHold | None:
    """``run_id``'s hold if it is under way now: not finished, its hold not expired, and its process
    alive if on this host. A finished run keeps ``alive_until`` until it lapses: finishing ends it."""
    row = await conn.fetchone(
        "SELECT id AS run_id, pid, host, alive_until FROM runs"
        " WHERE id = ? AND finished_at IS NULL AND alive_until IS NOT NULL AND alive_until > ?",
        (run_id, now),
    )
    if row is None:
        return None
    hold = RunHold(**row_dict(row))
    return hold if holder_alive(hold.pid, hold.host) else None


def holder_alive(pid: int | None, host: str | None) -> bool:
    """Is the process holding a run alive? One of this host is probed (SIGKILLed a moment ago: not);
    one elsewhere is trusted until its hold expires, as its pid means nothing here."""
    return host != here()[1] or pid is None or pid_alive(int(pid))


def pid_alive(pid: int) -> bool:
    """Does a process ``pid`` exist on this host? (One of another user's counts as alive.)"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
