"""Per-cluster leases: two runs never work on one cluster at once.

A lease is one ``leases`` row per cluster name: which run holds it, from which process on which
host, until when. Taking one is a single ``INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING``
statement, so between two processes on one journal exactly one wins; the loser gets the row that
beat it. A lease may be taken over only when it expired, when it is the same run's (a resumed run
picks its clusters back up), or when its holder was a process on this host that no longer exists
(a killed run need not wait out its TTL). Liveness is probed before the statement and the dead pid
is then a condition *inside* it, so a lease that changed hands in between is never stolen.

A changing run also holds its own ``runs`` row the same way while it works (pid, host,
``alive_until``, renewed with its leases), so another run can ask which runs are under way: a run
that finished, whose hold expired, or whose process on this host is gone is not.
"""

from __future__ import annotations

import os
import socket

from fleet.journal.rows import Lease, LeaseHolder
from fleet.journal.storage import Connection

_TAKE = """
INSERT INTO leases (cluster, uuid, run_id, pid, host, acquired_at, expires_at)
VALUES (:cluster, :uuid, :run_id, :pid, :host, :now, :expires_at)
ON CONFLICT (cluster) DO UPDATE SET
    uuid = COALESCE(excluded.uuid, leases.uuid),
    acquired_at = CASE WHEN leases.run_id = excluded.run_id THEN leases.acquired_at
                       ELSE excluded.acquired_at END,
    run_id = excluded.run_id, pid = excluded.pid, host = excluded.host,
    expires_at = excluded.expires_at
WHERE leases.expires_at <= excluded.acquired_at
   OR leases.run_id = excluded.run_id
   OR (leases.host = excluded.host AND leases.pid = :dead_pid)
RETURNING cluster, run_id, expires_at
"""


def here() -> tuple[int, str]:
    """This process, as a lease records it."""
    return os.getpid(), socket.gethostname()


def take(
    conn: Connection, cluster: str, uuid: str | None, run_id: str, now: str, expires_at: str
) -> Lease | LeaseHolder:
    pid, host = here()
    params = {
        "cluster": cluster,
        "uuid": uuid,
        "run_id": run_id,
        "pid": pid,
        "host": host,
        "now": now,
        "expires_at": expires_at,
        "dead_pid": _dead_holder(conn, cluster, host),
    }
    taken = conn.execute(_TAKE, params).fetchall()
    if taken:
        return Lease(**dict(taken[0]))
    row = conn.execute(
        "SELECT cluster, run_id, pid, host, expires_at FROM leases WHERE cluster = ?", (cluster,)
    ).fetchone()
    return LeaseHolder(**dict(row))


def renew(conn: Connection, run_id: str, expires_at: str) -> frozenset[str]:
    rows = conn.execute(
        "UPDATE leases SET expires_at = ? WHERE run_id = ? RETURNING cluster", (expires_at, run_id)
    ).fetchall()
    return frozenset(row[0] for row in rows)


def release(conn: Connection, cluster: str, run_id: str) -> bool:
    cursor = conn.execute("DELETE FROM leases WHERE cluster = ? AND run_id = ?", (cluster, run_id))
    return cursor.rowcount > 0


def release_run(conn: Connection, run_id: str) -> int:
    return conn.execute("DELETE FROM leases WHERE run_id = ?", (run_id,)).rowcount


def hold_run(conn: Connection, run_id: str, alive_until: str) -> bool:
    """``run_id`` is under way in this process until ``alive_until``; False if there is no such run."""
    pid, host = here()
    cursor = conn.execute(
        "UPDATE runs SET pid = ?, host = ?, alive_until = ? WHERE id = ?", (pid, host, alive_until, run_id)
    )
    return cursor.rowcount > 0


def end_run_hold(conn: Connection, run_id: str) -> None:
    conn.execute("UPDATE runs SET alive_until = NULL WHERE id = ?", (run_id,))


def runs_under_way(conn: Connection, kind: str, now: str, since: str) -> frozenset[str]:
    """Runs of ``kind`` under way now (not finished, hold not expired, process alive if on this host),
    or that finished at or after ``since``."""
    _, host = here()
    rows = conn.execute(
        "SELECT id, pid, host, finished_at FROM runs WHERE kind = ? AND (finished_at >= ?"
        " OR (finished_at IS NULL AND alive_until IS NOT NULL AND alive_until > ?))",
        (kind, since, now),
    ).fetchall()
    return frozenset(
        row["id"]
        for row in rows
        if row["finished_at"] is not None
        or row["host"] != host
        or row["pid"] is None
        or pid_alive(int(row["pid"]))
    )


def _dead_holder(conn: Connection, cluster: str, host: str) -> int | None:
    """The pid holding ``cluster``'s lease if it is a process on this host that no longer exists."""
    row = conn.execute("SELECT pid FROM leases WHERE cluster = ? AND host = ?", (cluster, host)).fetchone()
    if row is None or row[0] is None:
        return None
    pid = int(row[0])
    return None if pid_alive(pid) else pid


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
