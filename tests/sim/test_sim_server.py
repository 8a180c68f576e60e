"""SimServer: one loopback port per cluster, chosen ports written back, clean lifecycle, scale."""

from __future__ import annotations

import socket
import time

import aiohttp
import pytest

from fleet.sim import SimServer, generate_fleet


async def fetch_name(session: aiohttp.ClientSession, server: SimServer, name: str) -> str:
    cluster = server.fleet.clusters[name]
    headers = {"Authorization": aiohttp.encode_basic_auth(cluster.username, cluster.password)}
    async with session.get(server.url(name) + "/api/cluster", headers=headers) as response:
        return (await response.json())["name"]


async def test_each_cluster_answers_on_its_own_port() -> None:
    fleet = generate_fleet(5, mcc_pairs=1, seed=1)
    async with SimServer(fleet) as server, aiohttp.ClientSession() as session:
        ports = {cluster.port for cluster in fleet.clusters.values()}
        assert len(ports) == 5 and 0 not in ports
        assert server.address("sim-0003") == f"127.0.0.1:{fleet.clusters['sim-0003'].port}"
        for name in fleet.clusters:
            assert await fetch_name(session, server, name) == name


async def test_a_fixed_port_is_kept_and_a_taken_port_fails_naming_the_cluster() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        probe.listen()
        taken = probe.getsockname()[1]
        fleet = generate_fleet(2, seed=1)
        fleet.clusters["sim-0002"].port = taken
        server = SimServer(fleet)
        with pytest.raises(OSError, match="sim-0002"):
            await server.start()
        await server.close()


async def test_close_is_idempotent_and_a_closed_server_cannot_restart() -> None:
    server = SimServer(generate_fleet(2, seed=1))
    await server.start()
    await server.close()
    await server.close()
    with pytest.raises(RuntimeError, match="closed"):
        await server.start()


async def test_two_thousand_clusters_start_quickly() -> None:
    fleet = generate_fleet(2000, mcc_pairs=50, seed=4)
    started = time.perf_counter()
    async with SimServer(fleet) as server, aiohttp.ClientSession() as session:
        assert time.perf_counter() - started < 10
        for name in ("sim-0001", "sim-1000", "sim-2000"):
            assert await fetch_name(session, server, name) == name
