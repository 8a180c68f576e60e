"""Fixtures shared by every test area."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from simfleet import SimFleet, start_sim_fleet


@pytest.fixture
async def sim_fleet(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[SimFleet]]]:
    """A factory: ``await sim_fleet(clusters=20, mcc_pairs=2, faults="partial=0.1")``; closed afterwards."""
    started: list[SimFleet] = []

    async def make(**kwargs: Any) -> SimFleet:
        workdir = tmp_path / f"sim{len(started)}"
        workdir.mkdir()
        sim = await start_sim_fleet(workdir, **kwargs)
        started.append(sim)
        return sim

    yield make
    for sim in started:
        await sim.server.close()
