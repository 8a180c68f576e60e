"""9.16 inactive configurations: two cluster-scope records, the inactive one first (HTTPS)."""

from __future__ import annotations

from typing import Any

from simkit import NEW_PASSPHRASE, STD_PASSPHRASE, code_of

from fleet.sim.faults import ClusterOverride, FaultSpec, apply_faults, parse_faults
from fleet.sim.generate import generate_fleet
from fleet.sim.state import Fleet

KM = "/api/security/key-managers"


async def with_inactive(site: Any, fleet: Fleet, version: list[int] | None = None) -> str:
    await site.set(version=version or [9, 16, 1])
    apply_faults(fleet, FaultSpec(clusters={"std": ClusterOverride(inactive=True)}), 0)
    return str(fleet.clusters["std"].inactive_key_manager.uuid)  # type: ignore[union-attr]


async def test_9_16_lists_an_inactive_external_configuration_first(tapi: Any, fleet: Fleet) -> None:
    std = tapi("std")
    inactive = await with_inactive(std, fleet)
    _, body = await std.get(KM, fields="uuid,enabled,onboard.enabled,external.servers.server,status")
    assert body["num_records"] == 2
    first, second = body["records"]
    assert (first["uuid"], first["enabled"], first["onboard"]["enabled"]) == (inactive, False, False)
    assert first["external"]["servers"][0]["server"].endswith(":5696") and "status" not in first
    assert (second["uuid"], second["enabled"], second["onboard"]["enabled"]) == (std.km_uuid, True, True)
    assert second["status"]["code"] == 0
    _, active = await std.get(KM, enabled="true")
    assert [record["uuid"] for record in active["records"]] == [std.km_uuid]
    _, one = await std.get(f"{KM}/{inactive}", fields="enabled,configuration")
    assert one["enabled"] is False and one["configuration"]["name"] != "default"


async def test_the_inactive_record_cannot_take_a_passphrase_change(tapi: Any, fleet: Fleet) -> None:
    std = tapi("std")
    inactive = await with_inactive(std, fleet)
    body = {"onboard": {"existing_passphrase": STD_PASSPHRASE, "passphrase": NEW_PASSPHRASE}}
    status, reply = await std.call("PATCH", f"{KM}/{inactive}", json=body)
    assert (status, code_of(reply)) == (400, "65539586")
    assert reply["error"]["message"] == "Cannot modify an inactive key manager configuration."
    assert (await std.truth())["rotations"] == 0
    assert (await std.rotate(STD_PASSPHRASE, NEW_PASSPHRASE))[0] == 200  # the enabled record can


async def test_before_9_16_there_is_one_record_and_no_enabled(tapi: Any, fleet: Fleet) -> None:
    std = tapi("std")
    await with_inactive(std, fleet, [9, 15, 1])
    _, body = await std.get(KM, fields="*")
    assert body["num_records"] == 1 and "enabled" not in body["records"][0]


async def test_key_stores_show_it_disabled_and_delete_removes_it(tapi: Any, fleet: Fleet) -> None:
    std = tapi("std")
    inactive = await with_inactive(std, fleet)
    _, stores = await std.get("/api/security/key-stores", fields="type,enabled,state")
    assert [(s["type"], s["enabled"], s.get("state")) for s in stores["records"]] == [
        ("kmip", False, None),
        ("okm", True, "active"),
    ]
    assert (await std.call("DELETE", f"{KM}/{inactive}"))[0] == 200
    assert (await std.get(KM))[1]["num_records"] == 1
    assert (await std.truth())["inactive_key_manager"] is None


def test_the_inactive_fault_picks_standalone_okm_clusters_on_9_16() -> None:
    fleet = generate_fleet(300, mcc_pairs=10, seed=8)
    apply_faults(fleet, parse_faults("inactive=1"), 8)
    picked = [c for c in fleet.clusters.values() if c.inactive_key_manager is not None]
    assert picked
    for cluster in fleet.clusters.values():
        eligible = (
            cluster.at_least(16)
            and cluster.metrocluster is None
            and cluster.key_manager is not None
            and cluster.key_manager.kind == "onboard"
        )
        assert (cluster.inactive_key_manager is not None) == eligible
    assert all(not c.inactive_key_manager.enabled for c in picked)  # type: ignore[union-attr]
