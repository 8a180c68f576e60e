from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from enginekit import Runner

from fleet.journal import Journal


@pytest.fixture
async def runner(tmp_path: Path) -> AsyncIterator[Runner]:
    journal = await Journal.open(tmp_path / "journal.db")
    try:
        yield Runner(tmp_path, journal)
    finally:
        await journal.close()
