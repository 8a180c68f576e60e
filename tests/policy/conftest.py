from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fleet.journal import Journal


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    opened = await Journal.open(tmp_path / "journal.db")
    try:
        yield opened
    finally:
        await opened.close()
