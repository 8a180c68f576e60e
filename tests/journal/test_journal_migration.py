"""A journal written by an older fleet is migrated in place, its records kept and usable."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fleet.journal import SCHEMA_VERSION, Journal, Lease
from fleet.journal.schema import MIGRATIONS, _statements

FP_A = "hmac-sha256:" + "a" * 32
FP_B = "hmac-sha256:" + "b" * 32
RUN = "20261101-000000-abcd"
UUID = "9f0a77b1-0c4e-11f0-8d2a-000000000002"


def _write_v1_journal(path: Path) -> None:
    """A version-1 journal with a run, a unit, an open intent and two clusters' state, as fleet wrote it."""
    path.parent.mkdir(parents=True, mode=0o700)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN")
        for statement in _statements(MIGRATIONS[0]):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO runs (id, kind, started_at, options) VALUES"
            " ('20261101-000000-abcd', 'rotate', '2026-11-01T00:00:00.000Z', '{\"new\": \"generate\"}')"
        )
        conn.execute("INSERT INTO units (run_id, unit_id, clusters) VALUES (?, 'u1', '[\"cl-1\"]')", (RUN,))
        conn.execute(
            "INSERT INTO steps (run_id, unit_id, cluster, name, intent_at, from_fp, to_fp) VALUES"
            " ('20261101-000000-abcd', 'u1', 'cl-1', 'change_passphrase', '2026-11-01T00:00:01.000Z', ?, ?)",
            (FP_A, FP_B),
        )
        conn.executemany(
            "INSERT INTO cluster_state (cluster, current_fp, verified_at, run_id, pending_fp)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                ("cl-1", FP_A, "2026-11-01T00:00:00.500Z", "20261101-000000-abcd", FP_B),
                ("cl-2", FP_B, "2026-10-01T00:00:00.000Z", "20261001-000000-0000", None),
            ],
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def _user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


async def test_a_v1_journal_with_data_is_migrated_in_place(journal_path: Path) -> None:
    _write_v1_journal(journal_path)
    async with await Journal.open(journal_path) as journal:
        assert _user_version(journal_path) == SCHEMA_VERSION
        run = await journal.run("20261101-000000-abcd")
        assert run is not None and run.options == {"new": "generate"}
        assert [(s.cluster, s.to_fp) for s in await journal.open_intents(run.id)] == [("cl-1", FP_B)]

        legacy = await journal.cluster_state("cl-1")
        assert legacy is not None
        assert (legacy.current_fp, legacy.pending_fp, legacy.uuid) == (FP_A, FP_B, None)
        assert legacy.verified_by == RUN, "an old record's writer is the best guess at who verified it"
        assert (run.pid, run.alive_until) == (None, None)
        assert await journal.runs_under_way("rotate", since=datetime(2026, 1, 1, tzinfo=UTC)) == frozenset()
        adopted = await journal.cluster_state("cl-1", uuid=UUID)
        assert adopted == legacy, "a legacy record is the cluster's until a uuid says otherwise"
        await journal.mark_verified("cl-1", FP_B, "20261102-000000-0001", uuid=UUID)
        state = await journal.cluster_state("cl-1", uuid=UUID)
        assert state is not None and (state.current_fp, state.pending_fp, state.uuid) == (FP_B, None, UUID)
        assert state.verified_by == "20261102-000000-0001"

        other = await journal.cluster_state("cl-2")
        assert other is not None
        assert (other.current_fp, other.verified_at) == (FP_B, "2026-10-01T00:00:00.000Z")

        # the new tables work on the migrated journal
        assert isinstance(await journal.take_lease("cl-1", run_id=run.id, ttl=60), Lease)
        await journal.record_refusal("cl-2", FP_A, code=65536139, run_id=run.id)
        assert await journal.was_refused("cl-2", FP_A, uuid=UUID)
        assert await journal.wrong_attempts("cl-2", since=datetime.now(UTC) - timedelta(minutes=1)) == 1


async def test_a_migrated_journal_opens_again_unchanged(journal_path: Path) -> None:
    _write_v1_journal(journal_path)
    async with await Journal.open(journal_path):
        pass
    async with await Journal.open(journal_path) as journal:
        assert _user_version(journal_path) == SCHEMA_VERSION
        state = await journal.cluster_state("cl-1")
        assert state is not None and state.current_fp == FP_A


def _write_v2_journal(path: Path) -> None:
    """A version-2 journal (before the audit columns) with one finished run."""
    path.parent.mkdir(parents=True, mode=0o700)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN")
        for script in MIGRATIONS[:2]:
            for statement in _statements(script):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 2")
        conn.execute(
            "INSERT INTO runs (id, kind, started_at, finished_at, outcome, exit_code, options) VALUES"
            " (?, 'sweep', '2026-11-01T00:00:00.000Z', '2026-11-01T00:01:00.000Z', 'compliant', 0, '{}')",
            (RUN,),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


async def test_a_v2_journal_gains_the_audit_columns_and_keeps_its_runs(journal_path: Path) -> None:
    _write_v2_journal(journal_path)
    async with await Journal.open(journal_path) as journal:
        assert _user_version(journal_path) == SCHEMA_VERSION
        old = await journal.run(RUN)
        assert old is not None and (old.outcome, old.exit_code) == ("compliant", 0)
        assert (old.operator, old.host, old.change_id, old.fleet_version) == (None, None, None, None)
        new = await journal.create_run(
            kind="rotate",
            options={"change_id": "CHG-1"},
            inventory_path="i",
            inventory_digest="d",
            operator="ops@bastion",
            host="bastion",
            change_id="CHG-1",
            fleet_version="0.1.0",
        )
        row = await journal.run(new)
        assert row is not None
        assert (row.operator, row.host, row.change_id, row.fleet_version) == (
            "ops@bastion",
            "bastion",
            "CHG-1",
            "0.1.0",
        )
