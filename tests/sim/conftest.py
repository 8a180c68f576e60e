"""Fixtures: the known fleet served over loopback HTTP with a hand-moved clock, and an ONTAP caller;
``tapi`` serves the same fleet over verified loopback HTTPS with the fault middleware, as fleet meets it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from simkit import Api, FakeClock, build_test_fleet

from fleet.sim import SimServer
from fleet.sim.faults import fault_middleware
from fleet.sim.state import Fleet
from fleet.sim.tls import client_ssl_context, ensure_tls_files, server_ssl_context


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fleet() -> Fleet:
    return build_test_fleet()


@pytest.fixture
async def sim(fleet: Fleet, clock: FakeClock) -> AsyncIterator[SimServer]:
    async with SimServer(fleet, clock=clock) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def api(sim: SimServer, session: aiohttp.ClientSession) -> Any:
    def for_cluster(name: str) -> Api:
        return Api(session, sim, name)

    return for_cluster


@pytest.fixture(scope="session")
def sim_tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sim-tls")
    ensure_tls_files(directory)
    return directory


@pytest.fixture
async def tls_sim(fleet: Fleet, clock: FakeClock, sim_tls_dir: Path) -> AsyncIterator[SimServer]:
    server = SimServer(
        fleet,
        clock=clock,
        ssl_context=server_ssl_context(sim_tls_dir),
        middlewares=[fault_middleware(fleet)],
    )
    async with server:
        yield server


@pytest.fixture
async def tls_session(sim_tls_dir: Path) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(ssl=client_ssl_context(sim_tls_dir / "ca.pem"))
    async with aiohttp.ClientSession(connector=connector) as client:
        yield client


@pytest.fixture
def tapi(tls_sim: SimServer, tls_session: aiohttp.ClientSession) -> Any:
    """``tapi(name)``: an ``Api`` for one cluster over HTTPS (CA-verified), faults active."""

    def for_cluster(name: str) -> Api:
        return Api(tls_session, tls_sim, name)

    return for_cluster
