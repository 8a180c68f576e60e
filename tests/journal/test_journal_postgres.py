"""What only a PostgreSQL journal has: a shared key, a database of its own, clocks, a password, a network."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, datetime

import pytest
from journalkit import PG_KEY
from pgserver import PgServer

from fleet.journal import Journal, JournalError, PostgresUrl, journal_location
from fleet.journal import postgres as pg
from fleet.secrets import SCRUBBER
from fleet.secrets.secret import Secret

NEW = Secret("New-okm-passphrase-9876543210-zyxwvutsrqponmlkjihgfedcba-GFEDCBA")


async def test_runners_given_the_teams_key_fingerprint_alike_and_a_wrong_key_is_refused(pg_url: str) -> None:
    async with await Journal.open(pg_url, key=PG_KEY) as a, await Journal.open(pg_url, key=PG_KEY) as b:
        assert a.fingerprint(NEW) == b.fingerprint(NEW)
    with pytest.raises(JournalError, match="--journal-key is not this journal's key"):
        await Journal.open(pg_url, key=secrets.token_bytes(32))
    with pytest.raises(JournalError, match="give the same --journal-key"):
        await Journal.open(pg_url)


async def test_the_key_is_never_stored_only_its_id(pg_url: str, pg_server: PgServer) -> None:
    async with await Journal.open(pg_url, key=PG_KEY):
        pass
    dump = pg_server.psql("SELECT name, value FROM meta", pg_url.rsplit("/", 1)[1])
    assert dump.startswith("key_id|") and PG_KEY.hex() not in dump


async def test_two_runners_opening_a_fresh_database_at_once_create_the_tables_once(pg_url: str) -> None:
    opened = await asyncio.gather(*(Journal.open(pg_url, key=PG_KEY) for _ in range(4)))
    try:
        run = await opened[0].create_run(kind="rotate", options={}, inventory_path="i", inventory_digest="d")
        assert [r.id for r in await opened[3].runs()] == [run]
    finally:
        for journal in opened:
            await journal.close()


async def test_a_journal_from_a_newer_fleet_is_refused(pg_url: str, pg_server: PgServer) -> None:
    async with await Journal.open(pg_url, key=PG_KEY):
        pass
    pg_server.psql("UPDATE fleet_schema SET version = 99", pg_url.rsplit("/", 1)[1])
    with pytest.raises(JournalError, match="newer than this fleet"):
        await Journal.open(pg_url, key=PG_KEY)


async def test_a_database_with_someone_elses_tables_is_refused(pg_url: str, pg_server: PgServer) -> None:
    pg_server.psql("CREATE TABLE runs (id int)", pg_url.rsplit("/", 1)[1])
    with pytest.raises(JournalError, match="named runs that fleet did not create"):
        await Journal.open(pg_url, key=PG_KEY)


@pytest.mark.parametrize("offset", [-60.0, 60.0], ids=["behind", "ahead"])
async def test_a_runner_whose_clock_is_off_is_refused(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, offset: float
) -> None:
    """Leases and the ledger compare times written by different hosts."""
    monkeypatch.setattr(pg, "wall_clock", lambda: time.time() + offset)
    with pytest.raises(JournalError, match=f"clock is 60 s {'ahead of' if offset > 0 else 'behind'}"):
        await Journal.open(pg_url, key=PG_KEY)


async def test_the_password_never_shows(pg_server: PgServer, pg_url: str) -> None:
    """Not in the journal's name, nor in the error of a refused login or of an unreachable server."""
    url = PostgresUrl(pg_url)
    assert pg_server.password not in f"{url} {url!r}" and "fleet:***@" in str(url)
    async with await Journal.open(url, key=PG_KEY) as journal:
        assert pg_server.password not in f"{journal!r} {journal.path}"
    wrong = "Wr0ng-" + secrets.token_urlsafe(12)
    refused = pg_url.replace(pg_server.password, wrong)
    with pytest.raises(JournalError) as login:
        await Journal.open(refused, key=PG_KEY)
    unreachable = pg_url.replace(f":{pg_server.port}/", ":1/")
    with pytest.raises(JournalError) as nobody:
        await Journal.open(unreachable, key=PG_KEY)
    for error in (login.value, nobody.value):
        text = f"{error} {error!r} {error.__cause__!r} {error.__context__!r}"
        assert wrong not in text and pg_server.password not in text, text
        assert "fleet:***@127.0.0.1" in str(error)
    assert "password authentication failed" in str(login.value)
    assert SCRUBBER.scrub(f"a log line quoting {wrong}") == "a log line quoting ***"


def test_a_postgresql_url_names_a_postgresql_journal_whichever_way_it_is_given() -> None:
    env = {"FLEET_JOURNAL": "postgres://fleet@db.example:5432/fleet", "HOME": "/home/u"}
    assert str(journal_location(None, env=env)) == "postgres://fleet@db.example:5432/fleet"
    cli = journal_location("postgresql://ana:s3cret-pw@db/fleet?sslmode=require&password=other-pw", env=env)
    assert isinstance(cli, PostgresUrl)
    assert str(cli) == "postgresql://ana:***@db/fleet?sslmode=require&password=***"
    assert "s3cret-pw" not in SCRUBBER.scrub("login s3cret-pw failed")


async def test_a_lost_connection_fails_the_write_and_closes_the_journal(
    pg_url: str, pg_server: PgServer
) -> None:
    """The database restarting under a run: the next intent fails, naming the journal (password
    hidden), and every later call is refused; the run stops on it and ``fleet resume`` reconciles.
    (Pooled connections found dead while idle are replaced: nothing was in flight on them.)"""
    async with await Journal.open(pg_url, key=PG_KEY) as journal:
        run = await journal.create_run(kind="rotate", options={}, inventory_path="i", inventory_digest="d")
        await journal.add_units(run, [("u1", ["cl-1"], None)])
        pg_server.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = '{pg_url.rsplit('/', 1)[1]}' AND pid <> pg_backend_pid()"
        )
        with pytest.raises(JournalError) as lost:
            await journal.begin_step(run, "u1", "cl-1", "rotate")
        assert "connection to the database was lost" in str(lost.value)
        assert "fleet:***@" in str(lost.value) and pg_server.password not in str(lost.value)
        with pytest.raises(JournalError, match="closed"):
            await journal.finish_run(run, outcome="succeeded", exit_code=0, report_path=None)


async def test_a_version_1_database_gains_the_hold_verified_by_and_audit_columns(
    pg_url: str, pg_server: PgServer
) -> None:
    """A team database made by the first PostgreSQL journal (version 1: runs with operator and host)
    is migrated in place to version 2 (SQLite's v3 and v4), its runs and cluster state kept."""
    from fleet.journal.pg_schema import PG_MIGRATIONS, PG_SCHEMA_VERSION

    database = pg_url.rsplit("/", 1)[1]
    pg_server.psql(
        "CREATE TABLE fleet_schema (version integer NOT NULL); INSERT INTO fleet_schema VALUES (1);"
        + PG_MIGRATIONS[0]
        + "INSERT INTO runs (id, kind, started_at, options, operator, host)"
        " VALUES ('20261129-051500-3fa2', 'rotate', '2026-11-29T05:15:00.000Z', '{}', 'ana@ams-1', 'ams-1');"
        "INSERT INTO cluster_state (cluster, current_fp, verified_at, run_id, updated_at)"
        " VALUES ('cl-1', 'fp', '2026-11-29T05:16:00.000Z', '20261129-051500-3fa2',"
        " '2026-11-29T05:16:00.000Z');",
        database,
    )
    async with await Journal.open(pg_url, key=PG_KEY) as journal:
        (run,) = await journal.runs()
        assert (run.operator, run.host, run.change_id, run.fleet_version, run.pid) == (
            "ana@ams-1", "ams-1", None, None, None,
        )  # fmt: skip
        state = await journal.cluster_state("cl-1")
        assert state is not None and state.verified_by == "20261129-051500-3fa2"
        await journal.hold_run(run.id, 120)
        assert await journal.runs_under_way("rotate", since=datetime.now(UTC)) == {run.id}
        new = await journal.create_run(
            kind="rotate", options={}, inventory_path="i", inventory_digest="d",
            operator="bo@fra-1", host="fra-1", change_id="CHG-1", fleet_version="0.1.0",
        )  # fmt: skip
        assert [(r.id, r.change_id, r.fleet_version) for r in await journal.runs() if r.id == new] == [
            (new, "CHG-1", "0.1.0")
        ]
    assert pg_server.psql("SELECT version FROM fleet_schema", database).strip() == str(PG_SCHEMA_VERSION)
