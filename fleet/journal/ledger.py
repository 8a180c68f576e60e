"""The passphrase ledger: which candidates a cluster refused, and every wrong attempt, across runs.

Common Criteria clusters lock out after repeated wrong passphrases, and a rerun must not guess
again where an earlier run already guessed wrong. A refusal is recorded with ONTAP's code and also
counts as a wrong attempt; rows are matched to a cluster by identity (see ``identity``), so a
rebuilt cluster's history does not count against it. Fingerprints only.

A ``probe_refused`` is fleet's own reconciliation (one probe with a candidate whose change may have
been lost) proving the change is NOT in place: the candidate is never probed again, but it is not
a guess at the cluster's passphrase, so it does not count toward the one-wrong-attempt-a-day rule.
"""

from __future__ import annotations

from typing import Literal

from fleet.journal.identity import owner_clause
from fleet.journal.storage import Connection

Event = Literal["refused", "probe_refused", "wrong_attempt"]


async def record(
    conn: Connection,
    cluster: str,
    uuid: str | None,
    fp: str,
    event: Event,
    code: int | None,
    run_id: str,
    at: str,
) -> None:
    await conn.execute(
        "INSERT INTO ledger (cluster, uuid, fp, event, code, at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (cluster, uuid, fp, event, code, at, run_id),
    )


async def names(conn: Connection) -> frozenset[str]:
    """Every cluster name with a ledger row: a run asks the ledger only about these (and its own)."""
    return frozenset(row[0] for row in await conn.fetchall("SELECT DISTINCT cluster FROM ledger"))


async def was_refused(conn: Connection, cluster: str, uuid: str | None, fp: str) -> bool:
    owner, args = owner_clause(cluster, uuid)
    row = await conn.fetchone(
        f"SELECT 1 FROM ledger WHERE {owner} AND fp = ? AND event IN ('refused', 'probe_refused') LIMIT 1",
        (*args, fp),
    )
    return row is not None


async def wrong_attempts(conn: Connection, cluster: str, uuid: str | None, since: str) -> int:
    """Refusals and wrong attempts at or after ``since`` (a reconciliation probe's refusal is not one)."""
    owner, args = owner_clause(cluster, uuid)
    row = await conn.fetchone(
        f"SELECT count(*) FROM ledger WHERE {owner} AND at >= ? AND event != 'probe_refused'", (*args, since)
    )
    return 0 if row is None else int(row[0])
