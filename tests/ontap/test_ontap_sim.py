"""The client against the ONTAP simulator over real HTTPS with its CA (verified TLS)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from ontap_helpers import FAST, NEW, OLD

from fleet.errors import OntapError
from fleet.ontap import HttpPool, OntapClient, open_http
from fleet.secrets import Secret
from fleet.sim.state import Cluster, Fleet
from fleet.sim.tls import ensure_tls_files, server_ssl_context

server_module = pytest.importorskip("fleet.sim.server", reason="the simulator's server is not there yet")
generate = pytest.importorskip("fleet.sim.generate")
faults = pytest.importorskip("fleet.sim.faults")


@dataclass
class Sim:
    fleet: Fleet
    server: object
    ca: Path

    def cluster(self, name: str) -> Cluster:
        return self.fleet.clusters[name]

    def client(self, pool: HttpPool, name: str, *, password: str | None = None) -> OntapClient:
        cluster = self.cluster(name)
        return OntapClient(
            pool,
            name=name,
            base_url=f"https://{self.server.address(name)}",  # type: ignore[attr-defined]
            username=cluster.username,
            password=Secret(password or cluster.password),
            ca_file=self.ca,
        )


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sim-tls")
    ensure_tls_files(directory)
    return directory


@pytest.fixture
async def sim(tls_dir: Path) -> AsyncIterator[Sim]:
    rng = random.Random(3)
    fleet = Fleet()
    for name in ("cl-plain", "cl-jobs"):
        fleet.clusters[name] = generate.make_cluster(
            name, rng=rng, version=(9, 14, 1), nodes=2, passphrase=OLD
        )
    for name, key_manager in (("cl-ext", "external"), ("cl-none", "none")):
        fleet.clusters[name] = generate.make_cluster(
            name, rng=rng, version=(9, 14, 1), key_manager=key_manager
        )
    fleet.clusters["cl-jobs"].faults.jobs = True
    fleet.clusters["cl-jobs"].faults.job_seconds = 0.05
    middlewares = [faults.fault_middleware(fleet, seed=1)]  # request faults are switched on per test
    server = server_module.SimServer(fleet, ssl_context=server_ssl_context(tls_dir), middlewares=middlewares)
    await server.start()
    try:
        yield Sim(fleet, server, ensure_tls_files(tls_dir).ca)
    finally:
        await server.close()


async def test_reads_a_cluster_and_its_key_manager(sim: Sim, pool: HttpPool) -> None:
    client = sim.client(pool, "cl-plain")
    cluster = await client.cluster()
    assert cluster["name"] == "cl-plain" and cluster["version"]["major"] == 14
    nodes = await client.nodes()
    assert [n["name"] for n in nodes] == [n.name for n in sim.cluster("cl-plain").nodes]
    (record,) = await client.key_managers()
    assert record["onboard"]["enabled"] is True and "status" in record
    assert (await client.key_manager(record["uuid"]))["uuid"] == record["uuid"]
    assert "local" in await client.metrocluster()
    assert await client.missing_keys(record["uuid"], nodes[0]["uuid"]) == 0
    assert "BEGIN BACKUP" in await client.key_backup(record["uuid"])


async def test_a_passphrase_patch_rotates_the_cluster(sim: Sim, pool: HttpPool) -> None:
    client = sim.client(pool, "cl-plain")
    (record,) = await client.key_managers()
    reply = await client.change_passphrase(record["uuid"], existing=Secret(OLD), new=Secret(NEW))
    assert reply.status == 200 and reply.job is None
    key_manager = sim.cluster("cl-plain").key_manager
    assert key_manager is not None and key_manager.passphrase == NEW
    assert (await client.synchronize(record["uuid"], passphrase=Secret(NEW))).status == 200


async def test_a_wrong_existing_passphrase_is_65536139(sim: Sim, pool: HttpPool) -> None:
    client = sim.client(pool, "cl-plain")
    (record,) = await client.key_managers()
    with pytest.raises(OntapError) as caught:
        await client.change_passphrase(record["uuid"], existing=Secret(NEW), new=Secret(OLD))
    assert (caught.value.http_status, caught.value.code) == (400, 65536139)
    assert caught.value.message == "Cluster-wide passphrase is incorrect."
    assert sim.cluster("cl-plain").counters.by_method.get("PATCH") == 1


async def test_wrong_credentials_are_401(sim: Sim, pool: HttpPool) -> None:
    with pytest.raises(OntapError) as caught:
        await sim.client(pool, "cl-plain", password="not-the-password").cluster()
    assert caught.value.http_status == 401


async def test_a_job_that_ends_within_return_timeout_answers_200(sim: Sim, pool: HttpPool) -> None:
    client = sim.client(pool, "cl-jobs")  # fleet sends return_timeout = 1 s here; the job takes 0.5 s
    (record,) = await client.key_managers()
    reply = await client.change_passphrase(record["uuid"], existing=Secret(OLD), new=Secret(NEW))
    assert reply.status == 200
    key_manager = sim.cluster("cl-jobs").key_manager
    assert key_manager is not None and key_manager.passphrase == NEW


async def test_a_202_job_is_polled_to_success(sim: Sim, pool: HttpPool) -> None:
    client = sim.client(pool, "cl-jobs")
    sim.cluster("cl-jobs").faults.job_seconds = 1.5  # longer than return_timeout: 202 + job
    (record,) = await client.key_managers()
    reply = await client.change_passphrase(record["uuid"], existing=Secret(OLD), new=Secret(NEW))
    assert reply.status == 202 and reply.job is not None and reply.job["state"] == "success"
    key_manager = sim.cluster("cl-jobs").key_manager
    assert key_manager is not None and key_manager.passphrase == NEW
    assert client.by_method["PATCH"] == 1 and client.by_method["GET"] >= 2


async def test_the_simulator_never_sees_more_than_two_requests_at_once(sim: Sim, pool: HttpPool) -> None:
    client = sim.client(pool, "cl-plain")
    await asyncio.gather(*(client.cluster() for _ in range(20)))
    counters = sim.cluster("cl-plain").counters
    assert counters.requests >= 20 and counters.max_inflight <= 2


async def test_429_with_retry_after_is_honoured(sim: Sim) -> None:
    busy = sim.cluster("cl-plain")
    busy.faults.inflight_limit, busy.faults.latency_ms = 1, 20  # two in flight: the second is refused
    waits: list[float] = []

    async def quick_sleep(seconds: float) -> None:  # a twentieth of the wait: the order stays the same
        waits.append(seconds)
        await asyncio.sleep(seconds / 20)

    async with open_http(replace(FAST, backoff_base=0.01), sleep=quick_sleep) as pool:
        client = sim.client(pool, "cl-plain")
        names = await asyncio.gather(client.cluster(), client.cluster())
    assert [n["name"] for n in names] == ["cl-plain", "cl-plain"]
    assert client.requests_sent == 3  # one refused with 429, then sent again after Retry-After
    assert len(waits) == 1 and waits[0] >= sim.fleet.settings.retry_after_seconds


async def test_key_servers_of_an_external_manager(sim: Sim, pool: HttpPool) -> None:
    client = sim.client(pool, "cl-ext")
    (record,) = await client.key_managers()
    before = [s["server"] for s in await client.key_servers(record["uuid"])]
    assert (await client.add_key_servers(record["uuid"], ["10.9.9.9:5696"])).status == 201
    assert (await client.modify_key_server(record["uuid"], "10.9.9.9:5696", timeout=40)).status == 200
    servers = {s["server"]: s for s in await client.key_servers(record["uuid"])}
    assert servers["10.9.9.9:5696"]["timeout"] == 40
    await client.remove_key_server(record["uuid"], "10.9.9.9:5696")
    assert [s["server"] for s in await client.key_servers(record["uuid"])] == before


async def test_create_onboard_enables_okm(sim: Sim, pool: HttpPool) -> None:
    client = sim.client(pool, "cl-none")
    assert await client.key_managers() == []
    assert (await client.create_onboard(passphrase=Secret(NEW))).status == 201
    (record,) = await client.key_managers()
    assert record["onboard"]["enabled"] is True
    with pytest.raises(OntapError) as caught:  # not a MetroCluster site: the partner form is refused
        await sim.client(pool, "cl-plain").create_onboard(passphrase=Secret(OLD), synchronize=True)
    assert caught.value.code is not None
