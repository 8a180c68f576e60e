"""Fixtures for journal tests: a fresh journal in a temporary state directory, and a run in it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fleet.journal import Journal


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.db"


@pytest.fixture
async def journal(journal_path: Path) -> AsyncIterator[Journal]:
    async with await Journal.open(journal_path) as opened:
        yield opened


@pytest.fixture
async def run_id(journal: Journal) -> str:
    """A rotate run with ten single-cluster units ``u0``..``u9`` on clusters ``cl-0``..``cl-9``."""
    run = await journal.create_run(
        kind="rotate", options={"new": "generate"}, inventory_path="inv.yml", inventory_digest="sha256:ab"
    )
    await journal.add_units(run, [(f"u{i}", [f"cl-{i}"], 1) for i in range(10)])
    return run
