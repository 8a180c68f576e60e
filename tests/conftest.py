"""Fixtures shared by every test area."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pgserver import PgServer, start_server
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


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A throwaway PostgreSQL server for the session. Without its binaries the tests that need it
    skip, naming the package; in CI (``CI`` set) they fail instead: CI never skips them."""
    try:
        import asyncpg  # noqa: F401 - the driver is the `postgresql` extra
    except ImportError:
        _unavailable("the asyncpg driver is not installed: pip install -e '.[postgresql]'")
    try:
        server = start_server()
    except FileNotFoundError as exc:
        _unavailable(str(exc))
    yield server
    server.stop()


_databases = itertools.count()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh, empty database on the session's server (its URL has the password in it)."""
    return pg_server.create_database(f"test_{os.getpid()}_{next(_databases)}")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)
