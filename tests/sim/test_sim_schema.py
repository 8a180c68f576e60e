"""Simulator bodies validate against NetApp's published schema (skipped where the spec is absent)."""

from __future__ import annotations

from typing import Any

import pytest
from simkit import OTHER_PASSPHRASE, STD_PASSPHRASE, FakeClock, check, spec_definitions

from fleet.sim.faults import ClusterOverride, FaultSpec, apply_faults

KM = "/api/security/key-managers"


@pytest.fixture(scope="module")
def definitions() -> dict[str, Any]:
    return spec_definitions("key-managers.swagger.yml")


@pytest.mark.parametrize("cluster", ["std", "ext", "sim-0002", "v96", "v97"])
@pytest.mark.parametrize("fields", [None, "*", "**", "status.code,status.message,onboard.key_backup"])
async def test_key_manager_collection_and_instance_match_the_schema(
    api: Any, definitions: dict[str, Any], cluster: str, fields: str | None
) -> None:
    site = api(cluster)
    if cluster == "v96" and fields and "status" in fields:
        fields = "onboard.enabled"  # 9.6 has no status or key_backup (test_sim_releases)
    query = {"fields": fields} if fields else {}
    status, collection = await site.get(KM, **query)
    assert status == 200, collection
    check(definitions, "security_key_manager_response", collection)
    status, record = await site.get(f"{KM}/{site.km_uuid}", **query)
    assert status == 200, record
    check(definitions, "security_key_manager", record)


async def test_key_servers_key_ids_jobs_and_errors_match_the_schema(
    api: Any, definitions: dict[str, Any], clock: FakeClock
) -> None:
    ext, std = api("ext"), api("std")
    _, servers = await ext.get(f"{KM}/{ext.km_uuid}/key-servers", fields="**")
    check(definitions, "key_server_response", servers)
    node = std.cluster.nodes[0]
    _, keys = await std.get(f"{KM}/{std.km_uuid}/keys/{node.uuid}/key-ids", fields="*")
    check(definitions, "key_manager_keys_response", keys)
    _, metrocluster = await api("sim-0001").get("/api/cluster/metrocluster")
    check(definitions, "metrocluster", metrocluster)

    await std.set(faults={"jobs": True})
    _, link = await std.rotate(STD_PASSPHRASE, OTHER_PASSPHRASE)
    check(definitions, "job_link_response", link)
    clock.advance(5)
    _, job = await std.get(f"/api/cluster/jobs/{link['job']['uuid']}")
    check(definitions, "job", job)
    _, error = await std.rotate("w" * 40, OTHER_PASSPHRASE)
    check(definitions, "error_response", error)


async def test_two_records_with_an_inactive_configuration_match_the_schema(
    api: Any, definitions: dict[str, Any], fleet: Any
) -> None:
    std = api("std")
    await std.set(version=[9, 16, 1])
    apply_faults(fleet, FaultSpec(clusters={"std": ClusterOverride(inactive=True)}), 0)
    for fields in (None, "*", "**"):
        _, collection = await std.get(KM, **({"fields": fields} if fields else {}))
        assert collection["num_records"] == 2
        check(definitions, "security_key_manager_response", collection)
