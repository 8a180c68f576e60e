"""Fixtures: the known fleet served over loopback HTTP with a hand-moved clock, and an ONTAP caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from simkit import Api, FakeClock, build_test_fleet

from fleet.sim import SimServer
from fleet.sim.state import Fleet


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
