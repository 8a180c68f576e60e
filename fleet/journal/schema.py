"""The journal's tables and their migrations; the schema version lives in ``PRAGMA user_version``.

``MIGRATIONS[i]`` takes a journal from version ``i`` to ``i + 1``. Append, never edit: a journal on
disk may be at any earlier version and is migrated in order, each step in its own transaction.
A journal newer than this fleet is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3

from fleet.journal.errors import JournalError

_V1 = """
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE runs (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    started_at       TEXT NOT NULL,
    finished_at      TEXT,
    outcome          TEXT,
    exit_code        INTEGER,
    options          TEXT NOT NULL,          -- JSON; secret references only, never values
    inventory_path   TEXT,
    inventory_digest TEXT,
    report_path      TEXT,
    stop_reason      TEXT
);
CREATE TABLE units (
    run_id     TEXT NOT NULL REFERENCES runs(id),
    unit_id    TEXT NOT NULL,
    clusters   TEXT NOT NULL,                -- JSON list of cluster names, in step order
    wave       INTEGER,
    status     TEXT NOT NULL DEFAULT 'pending',
    reason     TEXT,
    started_at TEXT,
    ended_at   TEXT,
    PRIMARY KEY (run_id, unit_id)
);
CREATE TABLE steps (
    id         INTEGER PRIMARY KEY,
    run_id     TEXT NOT NULL,
    unit_id    TEXT NOT NULL,
    cluster    TEXT NOT NULL,
    name       TEXT NOT NULL,
    intent_at  TEXT NOT NULL,
    outcome_at TEXT,
    status     TEXT,                         -- NULL until the outcome is known
    from_fp    TEXT,
    to_fp      TEXT,
    error_code INTEGER,
    detail     TEXT,
    FOREIGN KEY (run_id, unit_id) REFERENCES units(run_id, unit_id)
);
CREATE INDEX steps_by_unit ON steps(run_id, unit_id);
CREATE INDEX steps_open ON steps(run_id) WHERE status IS NULL;
CREATE TABLE cluster_state (
    cluster     TEXT PRIMARY KEY,
    current_fp  TEXT,                        -- last passphrase proven on the cluster
    verified_at TEXT,
    run_id      TEXT,
    pending_fp  TEXT                         -- a change to this was sent but not yet verified
);
"""

# v2: cluster identity, leases, the passphrase ledger.
# cluster_state is rebuilt, not just given a uuid column: keyed by name it could hold one record per
# name, so a rebuilt cluster (same name, new uuid) would have to overwrite the old identity's record.
# Now each identity has its own row; old rows keep uuid NULL until the cluster is next written.
_V2 = """
CREATE TABLE cluster_state_v2 (
    id          INTEGER PRIMARY KEY,
    cluster     TEXT NOT NULL,               -- the name it was last written under
    uuid        TEXT,                        -- the cluster's identity; NULL: written before v2
    current_fp  TEXT,
    verified_at TEXT,
    run_id      TEXT,
    pending_fp  TEXT,
    updated_at  TEXT
);
INSERT INTO cluster_state_v2 (cluster, current_fp, verified_at, run_id, pending_fp, updated_at)
    SELECT cluster, current_fp, verified_at, run_id, pending_fp, verified_at FROM cluster_state
    ORDER BY rowid;
DROP TABLE cluster_state;
ALTER TABLE cluster_state_v2 RENAME TO cluster_state;
CREATE UNIQUE INDEX cluster_state_by_uuid ON cluster_state(uuid) WHERE uuid IS NOT NULL;
CREATE UNIQUE INDEX cluster_state_legacy ON cluster_state(cluster) WHERE uuid IS NULL;
CREATE INDEX cluster_state_by_name ON cluster_state(cluster, updated_at);
CREATE TABLE leases (
    cluster     TEXT PRIMARY KEY,
    uuid        TEXT,
    run_id      TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX leases_by_run ON leases(run_id);
CREATE TABLE ledger (
    id      INTEGER PRIMARY KEY,
    cluster TEXT NOT NULL,
    uuid    TEXT,
    fp      TEXT NOT NULL,                   -- the candidate's fingerprint, never the passphrase
    event   TEXT NOT NULL CHECK (event IN ('refused', 'probe_refused', 'wrong_attempt')),
    code    INTEGER,                         -- ONTAP's error code for a refusal
    at      TEXT NOT NULL,
    run_id  TEXT
);
CREATE INDEX ledger_by_name ON ledger(cluster, at);
CREATE INDEX ledger_by_uuid ON ledger(uuid, at) WHERE uuid IS NOT NULL;
"""

# v3 (issue 19, a journal for a team): who ran each run, and where. Kept to these two columns so the
# audit record's migration (operator, host, change id, fleet version) can absorb it when they meet.
_V3 = """
ALTER TABLE runs ADD COLUMN operator TEXT;       -- user@host: the effective OS user
ALTER TABLE runs ADD COLUMN host TEXT;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the journal to ``SCHEMA_VERSION``; return the version it was at before.

    ``conn`` must be in autocommit mode (``isolation_level=None``): each migration opens its own
    ``BEGIN IMMEDIATE`` so two processes opening a fresh journal do not both create the tables.
    """
    found = _user_version(conn)
    if found > SCHEMA_VERSION:
        raise JournalError(
            f"journal schema version {found} is newer than this fleet understands ({SCHEMA_VERSION}); "
            "upgrade fleet"
        )
    for version in range(found, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _user_version(conn) != version:  # another process migrated while we waited
                conn.execute("ROLLBACK")
                continue
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return found


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _statements(script: str) -> list[str]:
    """Split a script on ``;`` (executescript would COMMIT our transaction behind our back)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
