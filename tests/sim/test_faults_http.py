"""Each fault kind, seen by a client over real loopback HTTPS verified against the simulator's CA."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest

from fleet.sim.faults import apply_faults, fault_middleware, parse_faults
from fleet.sim.generate import generate_fleet
from fleet.sim.server import SimServer
from fleet.sim.state import Cluster, Fleet
from fleet.sim.tls import client_ssl_context, ensure_tls_files, server_ssl_context

KM = "/api/security/key-managers"
NEW_PASSPHRASE = "a-brand-new-passphrase-of-forty-characters"


class Sim:
    """A running simulator plus a verifying client for it."""

    def __init__(self, fleet: Fleet, server: SimServer, session: aiohttp.ClientSession) -> None:
        self.fleet, self.server, self.session = fleet, server, session

    def url(self, name: str, path: str) -> str:
        return f"https://localhost:{self.fleet.clusters[name].port}{path}"

    def auth(self, name: str) -> dict[str, str]:
        cluster = self.fleet.clusters[name]
        return {"Authorization": aiohttp.encode_basic_auth(cluster.username, cluster.password)}

    async def get(self, name: str, path: str = KM, **kwargs: object) -> tuple[int, dict[str, str], dict]:
        async with self.session.get(self.url(name, path), headers=self.auth(name), **kwargs) as response:  # type: ignore[arg-type]
            return response.status, dict(response.headers), await response.json()

    def onboard(self, kind: str = "onboard") -> Cluster:
        return next(c for c in self.fleet.clusters.values() if c.key_manager and c.key_manager.kind == kind)


StartSim = Callable[..., Awaitable[Sim]]


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tls")
    ensure_tls_files(directory)
    return directory


@pytest.fixture
async def start_sim(tls_dir: Path) -> AsyncIterator[StartSim]:
    async with AsyncExitStack() as stack:

        async def start(faults: str, *, clusters: int = 3, mcc_pairs: int = 0, seed: int = 0) -> Sim:
            fleet = generate_fleet(clusters, mcc_pairs=mcc_pairs, seed=seed)
            apply_faults(fleet, parse_faults(faults), seed)
            server = SimServer(
                fleet, ssl_context=server_ssl_context(tls_dir), middlewares=[fault_middleware(fleet)]
            )
            await stack.enter_async_context(server)
            connector = aiohttp.TCPConnector(ssl=client_ssl_context(tls_dir / "ca.pem"))
            session = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
            return Sim(fleet, server, session)

        yield start


async def test_latency_delays_every_answer(start_sim: StartSim) -> None:
    sim = await start_sim("latency=150ms~50ms")
    started = time.perf_counter()
    status, _, _ = await sim.get("sim-0001")
    elapsed = time.perf_counter() - started
    assert status == 200
    assert 0.15 <= elapsed < 1.0


async def test_slow_answers_late_but_answers(start_sim: StartSim) -> None:
    sim = await start_sim("slow=1:300ms")
    started = time.perf_counter()
    status, _, body = await sim.get("sim-0002")
    assert status == 200 and "records" in body
    assert time.perf_counter() - started >= 0.3


async def test_hang_never_answers_and_does_not_hold_up_shutdown(start_sim: StartSim) -> None:
    sim = await start_sim("hang=1")
    with pytest.raises(asyncio.TimeoutError):
        await sim.get("sim-0001", timeout=aiohttp.ClientTimeout(total=0.3))
    closing = time.perf_counter()
    await sim.server.close()
    assert time.perf_counter() - closing < 2.0


async def test_hung_request_is_released_when_the_server_closes(start_sim: StartSim) -> None:
    sim = await start_sim("hang=1")
    pending = asyncio.ensure_future(sim.get("sim-0001", timeout=aiohttp.ClientTimeout(total=10)))
    await asyncio.sleep(0.2)
    assert not pending.done()
    await sim.server.close()
    with pytest.raises(aiohttp.ClientError):
        await asyncio.wait_for(pending, 3)


async def test_reset_drops_the_connection(start_sim: StartSim) -> None:
    sim = await start_sim("reset=1")
    with pytest.raises(aiohttp.ClientConnectionError):
        await sim.get("sim-0003")


@pytest.mark.parametrize(
    ("kind", "status", "code"), [("http500", 500, "262145"), ("http502", 502, "65552"), ("http503", 503, "7")]
)
async def test_http_errors_carry_an_ontap_error_body(
    start_sim: StartSim, kind: str, status: int, code: str
) -> None:
    sim = await start_sim(f"{kind}=1")
    got, _, body = await sim.get("sim-0001")
    assert got == status
    assert body["error"]["code"] == code
    assert body["error"]["message"]


async def test_too_many_in_flight_is_429_with_retry_after(start_sim: StartSim) -> None:
    sim = await start_sim("limit=1,latency=200ms")
    results = await asyncio.gather(*(sim.get("sim-0001") for _ in range(3)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses[0] == 200 and statuses[-1] == 429
    _, headers, body = next(result for result in results if result[0] == 429)
    assert headers["Retry-After"] == str(sim.fleet.settings.retry_after_seconds)
    assert body["error"]["code"] == "262160"
    # the limit is per cluster: another cluster answers meanwhile
    other = await asyncio.gather(sim.get("sim-0001"), sim.get("sim-0002"))
    assert [status for status, _, _ in other] == [200, 200]


async def test_http429_answers_ontaps_429_and_every_injected_answer_is_counted(start_sim: StartSim) -> None:
    sim = await start_sim("http429=1")
    status, headers, body = await sim.get("sim-0001")
    assert (status, body["error"]["code"]) == (429, "262160")
    assert headers["Retry-After"] == str(sim.fleet.settings.retry_after_seconds)
    busy = await start_sim("http503=0.5", clusters=1, seed=11)
    statuses = [(await busy.get("sim-0001"))[0] for _ in range(16)]
    assert sim.fleet.clusters["sim-0001"].counters.injected == {"429": 1}
    assert busy.fleet.clusters["sim-0001"].counters.injected == {"503": statuses.count(503)}
    assert 0 < statuses.count(503) < 16


async def test_sim_introspection_is_never_faulted(start_sim: StartSim) -> None:
    sim = await start_sim("http500=1,reset=0")
    async with sim.session.get(sim.url("sim-0001", "/_sim/fleet")) as response:
        assert response.status == 200
        assert len((await response.json())["clusters"]) == 3


async def _statuses(start_sim: StartSim, seed: int) -> list[int]:
    sim = await start_sim("http503=0.5", clusters=2, seed=seed)
    return [(await sim.get(name))[0] for name in ("sim-0001", "sim-0002") for _ in range(16)]


async def test_request_faults_repeat_exactly_for_the_same_seed(start_sim: StartSim) -> None:
    first = await _statuses(start_sim, seed=11)
    again = await _statuses(start_sim, seed=11)
    other = await _statuses(start_sim, seed=12)
    assert first == again
    assert first != other
    assert set(first) == {200, 503}


async def test_auth_fault_rejects_the_right_credentials(start_sim: StartSim) -> None:
    sim = await start_sim("auth=1")
    status, _, body = await sim.get("sim-0001")
    assert status == 401
    assert body["error"]["code"] == "6691623"


async def _change_passphrase(sim: Sim, cluster: Cluster) -> tuple[int, dict]:
    body = {"onboard": {"existing_passphrase": cluster.key_manager.passphrase, "passphrase": NEW_PASSPHRASE}}  # type: ignore[union-attr]
    url = sim.url(cluster.name, f"{KM}/{cluster.key_manager.uuid}")  # type: ignore[union-attr]
    async with sim.session.patch(url, json=body, headers=sim.auth(cluster.name)) as response:
        return response.status, await response.json()


async def test_jobs_fault_answers_mutations_with_a_job(start_sim: StartSim) -> None:
    sim = await start_sim("jobs=1")
    status, body = await _change_passphrase(sim, sim.onboard())
    assert status == 202
    assert body["job"]["_links"]["self"]["href"].startswith("/api/cluster/jobs/")


async def test_jobfail_fault_makes_the_job_fail_with_a_code(start_sim: StartSim) -> None:
    sim = await start_sim("jobfail=1")
    cluster = sim.onboard()
    cluster.faults.job_seconds = 0.0
    status, body = await _change_passphrase(sim, cluster)
    assert status == 202
    _, _, job = await sim.get(cluster.name, body["job"]["_links"]["self"]["href"])
    assert job["state"] == "failure"
    assert job["code"] != 0


async def test_partial_fault_fails_the_first_change_on_some_nodes(start_sim: StartSim) -> None:
    sim = await start_sim("partial=1")
    cluster = sim.onboard()
    status, body = await _change_passphrase(sim, cluster)
    assert (status, body["error"]["code"]) == (400, "65536407")
    stale = [node for node in cluster.nodes if not all(key.restored for key in node.keys)]
    assert 0 < len(stale) < len(cluster.nodes)


async def test_partner_down_shows_on_one_site_of_the_pair(start_sim: StartSim) -> None:
    sim = await start_sim("partner_down=1", clusters=2, mcc_pairs=1)
    reachable = []
    for name in ("sim-0001", "sim-0002"):
        status, _, body = await sim.get(name, "/api/cluster/metrocluster")
        assert status == 200
        reachable.append(body["local"]["partner_cluster_reachable"])
    assert sorted(reachable) == [False, True]
