"""/_sim/: the truth for tests (fingerprints, per-node keys, counters), run-time control, no auth."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from simkit import STD_PASSPHRASE


async def test_fleet_view_lists_every_cluster_with_its_truth(api: Any, sim: Any) -> None:
    status, body = await api("std").call("GET", "/_sim/fleet")
    assert status == 200
    by_name = {cluster["name"]: cluster for cluster in body["clusters"]}
    assert set(by_name) == set(sim.fleet.clusters)
    std = by_name["std"]
    assert std["address"] == sim.address("std")
    assert std["passphrase_fingerprint"] == hashlib.sha256(STD_PASSPHRASE.encode()).hexdigest()
    assert [node["keys"] > 0 and node["not_restored"] == 0 for node in std["nodes"]] == [True] * 4
    assert by_name["sim-0001"]["metrocluster"]["partner"] == "sim-0002"
    assert by_name["cc"]["cc_mode"] is True and by_name["ext"]["key_manager"] == "external"
    assert by_name["bare"]["passphrase_fingerprint"] is None


async def test_introspection_needs_no_auth_and_never_shows_a_passphrase(api: Any) -> None:
    std = api("std")
    std.authorized = False
    status, body = await std.call("GET", "/_sim/clusters/std")
    assert status == 200
    assert STD_PASSPHRASE not in str(body)


async def test_counters_by_method_inflight_and_reset(api: Any) -> None:
    std = api("std")
    await asyncio.gather(*(std.get("/api/cluster") for _ in range(5)))
    await std.call("PATCH", f"/api/security/key-managers/{std.km_uuid}", json={"onboard": {}})
    truth = await std.truth()
    assert truth["requests"] == 6 and truth["by_method"] == {"GET": 5, "PATCH": 1}
    assert truth["mutations"] == 1 and truth["max_mutations_inflight"] == 1
    assert 1 <= truth["max_inflight"] <= 5
    assert (await std.call("POST", "/_sim/reset-counters"))[0] == 200
    truth = await std.truth()
    assert truth["requests"] == 0 and truth["by_method"] == {}


async def test_run_time_control_refuses_unknown_settings(api: Any) -> None:
    std = api("std")
    status, body = await std.call("POST", "/_sim/clusters/std", json={"faults": {"colour": 1}})
    assert status == 400 and body["error"]["target"] == "faults.colour"
    status, _ = await std.call("POST", "/_sim/clusters/nope", json={})
    assert status == 404


async def test_node_key_state_can_be_set(api: Any) -> None:
    std = api("std")
    node = std.cluster.nodes[2]
    await std.set(nodes={node.name: {"restored": False}})
    truth = await std.truth()
    assert [n["not_restored"] for n in truth["nodes"]] == [0, 0, len(node.keys), 0]
