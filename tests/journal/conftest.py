"""Fixtures for journal tests: a fresh journal on each backend, and a run in it.

Every test that asks for ``journal``, ``open_journal`` or ``where`` runs twice: on a SQLite file and
on a PostgreSQL database (``pg_server``). A test that also asks for ``journal_path`` is about the
SQLite file itself and runs on SQLite only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from journalkit import PG_KEY, OpenJournal, RawSql

from fleet.journal import Journal


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        sqlite_only = "journal_path" in metafunc.fixturenames
        metafunc.parametrize("backend", ["sqlite"] if sqlite_only else ["sqlite", "postgresql"])


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.db"


@pytest.fixture
def where(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """Where the test's journal lives: a SQLite file, or a fresh PostgreSQL database's URL."""
    if backend == "sqlite":
        return tmp_path / "state" / "journal.db"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def journal_key(backend: str) -> bytes | None:
    return PG_KEY if backend == "postgresql" else None


@pytest.fixture
def open_journal(where: Path | str, journal_key: bytes | None) -> OpenJournal:
    """``await open_journal(clock=...)``: the test's journal, opened once more (a second handle)."""

    async def open_it(**kwargs: Any) -> Journal:
        return await Journal.open(where, key=journal_key, **kwargs)

    return open_it


@pytest.fixture
async def journal(open_journal: OpenJournal) -> AsyncIterator[Journal]:
    async with await open_journal() as opened:
        yield opened


@pytest.fixture
async def run_id(journal: Journal) -> str:
    """A rotate run with ten single-cluster units ``u0``..``u9`` on clusters ``cl-0``..``cl-9``."""
    run = await journal.create_run(
        kind="rotate", options={"new": "generate"}, inventory_path="inv.yml", inventory_digest="sha256:ab"
    )
    await journal.add_units(run, [(f"u{i}", [f"cl-{i}"], 1) for i in range(10)])
    return run


@pytest.fixture
def raw_sql(backend: str, where: Path | str) -> RawSql:
    """``await raw_sql("SELECT ... WHERE id = ?", 3)``: the journal's database through a connection of
    its own, outside fleet (``?`` placeholders on both backends); a write is committed at once."""

    async def run(sql: str, *args: object) -> list[tuple[Any, ...]]:
        if backend == "sqlite":
            conn = sqlite3.connect(where)
            try:
                rows = conn.execute(sql, args).fetchall()
                conn.commit()
            finally:
                conn.close()
            return [tuple(row) for row in rows]
        import asyncpg

        from fleet.journal.postgres import numbered

        pg = await asyncpg.connect(str(where))
        try:
            return [tuple(row) for row in await pg.fetch(numbered(sql), *args)]
        finally:
            await pg.close()

    return run
