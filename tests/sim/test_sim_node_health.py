"""Nodes down and mixed versions mid-upgrade, over HTTPS: ``/api/cluster/nodes`` shows ``state`` and each
node's ``version``; a passphrase change or sync with a node down is a partial change (65536407) that
leaves that node's keys stale; the ``node_down`` and ``upgrading`` faults (rates and YAML overrides)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from simkit import NEW_PASSPHRASE, STD_PASSPHRASE, build_test_fleet, code_of

from fleet.errors import InputError
from fleet.sim.faults import apply_faults, parse_faults
from fleet.sim.persist import load_fleet, save_fleet

KM = "/api/security/key-managers"


async def _restored(api: Any, node_uuid: str) -> set[bool]:
    _, keys = await api.get(f"{KM}/{api.km_uuid}/keys/{node_uuid}/key-ids", fields="restored")
    return {record["restored"] for record in keys["records"]}


async def test_nodes_show_state_and_their_own_version(tapi: Any) -> None:
    std = tapi("std")
    last = std.cluster.nodes[-1].name
    await std.set(nodes={last: {"state": "down", "version": "9.15.0"}})
    _, listing = await std.get("/api/cluster/nodes", fields="name,state,version")
    by_name = {record["name"]: record for record in listing["records"]}
    assert by_name[last]["state"] == "down"
    assert (by_name[last]["version"]["major"], by_name[last]["version"]["minor"]) == (15, 0)
    first = by_name[std.cluster.nodes[0].name]
    assert first["state"] == "up" and first["version"]["full"].startswith("NetApp Release 9.14.1")
    truth = await std.truth()
    assert [node["state"] for node in truth["nodes"]][-1] == "down"
    assert truth["nodes"][-1]["version"] == "9.15.0" and truth["nodes"][0]["version"] == "9.14.1"


async def test_a_rotation_with_a_node_down_is_partial_and_leaves_its_keys_stale(tapi: Any) -> None:
    std = tapi("std")
    down = std.cluster.nodes[-1]
    await std.set(nodes={down.name: {"state": "down"}})
    status, body = await std.rotate(STD_PASSPHRASE, NEW_PASSPHRASE)
    assert code_of(body) == "65536407" and status >= 400
    assert std.cluster.key_manager.passphrase == NEW_PASSPHRASE  # the change applied
    assert await _restored(std, down.uuid) == {False}
    assert await _restored(std, std.cluster.nodes[0].uuid) == {True}
    # still down: a sync is partial too, every time (the down node is not consumed like partial_nodes)
    assert code_of((await std.sync(NEW_PASSPHRASE))[1]) == "65536407"
    assert code_of((await std.sync(NEW_PASSPHRASE))[1]) == "65536407"
    # back up: a sync restores its keys
    await std.set(nodes={down.name: {"state": "up"}})
    assert (await std.sync(NEW_PASSPHRASE))[0] == 200
    assert await _restored(std, down.uuid) == {True}


async def test_sim_refuses_bad_node_updates(tapi: Any) -> None:
    std = tapi("std")
    for change in ({"nope": {"state": "down"}}, {std.cluster.nodes[0].name: {"state": "sideways"}}):
        status, _ = await std.call("POST", "/_sim/clusters/std", json={"nodes": change})
        assert status == 400


def test_node_down_and_upgrading_faults_pick_the_last_node() -> None:
    fleet = build_test_fleet()
    apply_faults(fleet, parse_faults("node_down=1,upgrading=1"), 7)
    for cluster in fleet.clusters.values():
        if len(cluster.nodes) < 2:
            continue
        assert [node.state for node in cluster.nodes] == ["up"] * (len(cluster.nodes) - 1) + ["down"]
        generation, major, _ = cluster.version
        assert cluster.nodes[-1].version == (generation, major + 1, 0)
        assert all(node.version is None for node in cluster.nodes[:-1])
    apply_faults(fleet, parse_faults("none"), 7)  # a new spec replaces the old one
    nodes = [node for cluster in fleet.clusters.values() for node in cluster.nodes]
    assert all(node.state == "up" and node.version is None for node in nodes)


def test_yaml_overrides_name_the_node_and_survive_a_restart(tmp_path: Path) -> None:
    fleet = build_test_fleet()
    std = fleet.clusters["std"]
    spec = tmp_path / "faults.yml"
    spec.write_text(f"clusters:\n  std: {{node_down: {std.nodes[1].name}, upgrading: true}}\n")
    apply_faults(fleet, parse_faults(str(spec)), 7)
    assert [node.state for node in std.nodes] == ["up", "down", "up", "up"]
    assert std.nodes[-1].version == (9, 15, 0)
    assert all(node.state == "up" for node in fleet.clusters["cc"].nodes)
    save_fleet(fleet, tmp_path / "state.json")
    loaded = load_fleet(tmp_path / "state.json").clusters["std"]
    assert loaded.nodes[1].state == "down" and loaded.nodes[-1].version == (9, 15, 0)
    spec.write_text("clusters:\n  std: {node_down: no-such-node}\n")
    with pytest.raises(InputError):
        apply_faults(fleet, parse_faults(str(spec)), 7)
