"""NetApp's own client (netapp-ontap, synchronous, in a thread) works against the simulator unmodified."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from simkit import NEW_PASSPHRASE, OTHER_PASSPHRASE, STD_PASSPHRASE, build_test_fleet

from fleet.sim import SimServer
from fleet.sim.state import Cluster

netapp_ontap = pytest.importorskip("netapp_ontap")
from netapp_ontap import HostConnection  # noqa: E402
from netapp_ontap.error import NetAppRestError  # noqa: E402
from netapp_ontap.resources import SecurityKeyManager  # noqa: E402


@pytest.fixture
async def live() -> AsyncIterator[SimServer]:
    """Real time here: the client polls jobs with sleeps of its own."""
    async with SimServer(build_test_fleet()) as server:
        yield server


def connect(server: SimServer, cluster: Cluster) -> HostConnection:
    return HostConnection(
        "127.0.0.1",
        port=cluster.port,
        username=cluster.username,
        password=cluster.password,
        verify=False,
        scheme="http",
        poll_interval=0.1,
        poll_timeout=10,
    )


async def test_collection_get_rotation_sync_and_wrong_passphrase(
    live: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    std = live.fleet.clusters["std"]

    def scenario() -> tuple[str, bool, int]:
        with connect(live, std):
            (km,) = list(SecurityKeyManager.get_collection(fields="uuid,onboard.enabled"))
            km.get(fields="onboard,status.code")
            enabled = km.onboard.enabled
            km.onboard = {"existing_passphrase": STD_PASSPHRASE, "passphrase": NEW_PASSPHRASE}
            km.patch()
            sync = SecurityKeyManager(uuid=km.uuid)
            sync.onboard = {"existing_passphrase": NEW_PASSPHRASE, "synchronize": True}
            sync.patch()
            wrong = SecurityKeyManager(uuid=km.uuid)
            wrong.onboard = {"existing_passphrase": OTHER_PASSPHRASE, "passphrase": STD_PASSPHRASE}
            try:
                wrong.patch()
            except NetAppRestError as error:
                code = int(error.response_body["error"]["code"])
            else:
                code = 0
            return km.uuid, enabled, code

    km_uuid, enabled, code = await asyncio.to_thread(scenario)
    assert km_uuid == std.key_manager.uuid and enabled is True
    assert code == 65536139
    assert std.key_manager.passphrase == NEW_PASSPHRASE
    assert std.counters.rotations == 1 and std.counters.syncs == 1


async def test_metrocluster_partner_post_with_synchronize(live: SimServer) -> None:
    site_a, site_b = live.fleet.clusters["sim-0001"], live.fleet.clusters["sim-0002"]
    passphrase = site_a.key_manager.passphrase
    site_b.key_manager = None

    def scenario() -> None:
        with connect(live, site_b):
            partner_step = SecurityKeyManager()
            partner_step.onboard = {"passphrase": passphrase, "synchronize": True}
            partner_step.post()

    await asyncio.to_thread(scenario)
    assert site_b.key_manager is not None and site_b.key_manager.passphrase == passphrase
    assert site_b.counters.syncs == 1


async def test_a_202_job_is_polled_to_success(live: SimServer) -> None:
    std = live.fleet.clusters["std"]
    std.faults.jobs, std.faults.job_seconds = True, 0.3

    def scenario() -> str:
        with connect(live, std):
            km = SecurityKeyManager(uuid=std.key_manager.uuid)
            km.onboard = {"existing_passphrase": STD_PASSPHRASE, "passphrase": NEW_PASSPHRASE}
            response = km.patch(poll=True, poll_interval=0.1, poll_timeout=10)
            return response.http_response.json()["state"]  # the polled job, as the client saw it

    assert await asyncio.to_thread(scenario) == "success"
    (job,) = std.jobs.values()
    assert job.state == "success"
    assert std.counters.by_method["GET"] >= 1  # the client polled the job until it ended
    assert std.key_manager.passphrase == NEW_PASSPHRASE
