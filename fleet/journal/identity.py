"""Which ``cluster_state`` row (and which ledger rows) belong to a cluster: by uuid, the name beside it.

A cluster restored or rebuilt under the same name is a new cluster with a new uuid; it must never
inherit the old one's passphrase record, or fleet would send the old passphrase to it (and lock a
Common Criteria cluster out). So, given a uuid:

- the row with that uuid is the cluster's, whatever name it carried (a renamed cluster keeps it);
- a row for the same name with a *different* uuid belongs to someone else and is ignored;
- a legacy row for the name with no uuid (written before fleet knew uuids) is adopted: it is
  returned, and the next write fills in the uuid.

Without a uuid (a caller that does not know it yet), the name's most recently written row answers,
as the journal did before it knew uuids. These functions run inside a journal operation.
"""

from __future__ import annotations

from typing import Any

from fleet.journal.rows import ClusterFp
from fleet.journal.storage import Connection

_COLUMNS = "cluster, current_fp, pending_fp, verified_at, run_id, uuid, verified_by"


async def find_state(conn: Connection, cluster: str, uuid: str | None) -> ClusterFp | None:
    """The row that holds what fleet knows about this cluster, or None (one statement)."""
    where, args = _this_row(cluster, uuid)
    row = await conn.fetchone(f"SELECT {_COLUMNS} FROM cluster_state WHERE {where}", args)
    return None if row is None else ClusterFp.from_sql(row)


async def state_row_id(conn: Connection, cluster: str, uuid: str | None) -> int | None:
    """The id of the row that holds what fleet knows about this cluster, or None."""
    where, args = _this_row(cluster, uuid)
    row = await conn.fetchone(f"SELECT id FROM cluster_state WHERE {where}", args)
    return None if row is None else int(row[0])


def _this_row(cluster: str, uuid: str | None) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause (with its ORDER BY and LIMIT) picking the cluster's own ``cluster_state`` row."""
    if uuid is None:
        return "cluster = ? ORDER BY updated_at DESC, id DESC LIMIT 1", (cluster,)
    return "uuid = ? OR (cluster = ? AND uuid IS NULL) ORDER BY uuid IS NULL LIMIT 1", (uuid, cluster)


async def write_state(conn: Connection, cluster: str, uuid: str | None, now: str, **fields: Any) -> None:
    """Set ``fields`` on the cluster's row (created if it has none); name and uuid follow the caller.

    One statement when the row exists (an UPDATE of the row the lookup picks), two when it does not.
    Runs inside the storage's write transaction. On SQLite that makes the lookup and the write one
    atomic step for every other process; on PostgreSQL two runs never write one cluster's row at
    once because only the run holding the cluster's lease changes it.
    """
    names = list(fields)
    where, args = _this_row(cluster, uuid)
    assignments = "".join(f", {name} = ?" for name in names)
    changed = await conn.execute(
        f"UPDATE cluster_state SET cluster = ?, uuid = COALESCE(?, uuid), updated_at = ?{assignments}"
        f" WHERE id = (SELECT id FROM cluster_state WHERE {where})",
        (cluster, uuid, now, *fields.values(), *args),
    )
    if changed == 0:
        await conn.execute(
            f"INSERT INTO cluster_state (cluster, uuid, updated_at, {', '.join(names)})"
            f" VALUES (?, ?, ?{', ?' * len(names)})",
            (cluster, uuid, now, *fields.values()),
        )


async def clear_pending(conn: Connection, cluster: str, uuid: str | None, fp: str, now: str) -> bool:
    """Forget a pending mark equal to ``fp``; True if there was one."""
    row_id = await state_row_id(conn, cluster, uuid)
    if row_id is None:
        return False
    changed = await conn.execute(
        "UPDATE cluster_state SET pending_fp = NULL, cluster = ?, uuid = COALESCE(?, uuid), updated_at = ?"
        " WHERE id = ? AND pending_fp = ?",
        (cluster, uuid, now, row_id, fp),
    )
    return changed > 0


def owner_clause(cluster: str, uuid: str | None) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause and its arguments picking the rows of another table that belong to a cluster.

    With a uuid: its own rows, and legacy rows of the name without a uuid. Without one: every row
    of the name, whoever it was; for "never guess twice" counting too much is the safe side.
    """
    if uuid is None:
        return "cluster = ?", (cluster,)
    return "(uuid = ? OR (cluster = ? AND uuid IS NULL))", (uuid, cluster)
