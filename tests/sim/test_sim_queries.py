"""The GET side: fields, expensive fields, filters, counts, version gates; 262179, 262202, 401."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from simkit import code_of

KM = "/api/security/key-managers"


async def test_collection_default_is_keys_and_links_only(api: Any) -> None:
    std = api("std")
    status, body = await std.get(KM)
    assert status == 200 and body["num_records"] == 1
    assert set(body["records"][0]) == {"uuid", "_links"}


async def test_star_never_includes_status_but_naming_it_does(api: Any) -> None:
    std = api("std")
    _, star = await std.get(KM, fields="*")
    record = star["records"][0]
    assert "status" not in record
    assert record["onboard"]["enabled"] is True and "BEGIN BACKUP" in record["onboard"]["key_backup"]
    _, named = await std.get(KM, fields="status.code,status.message")
    assert named["records"][0]["status"] == {"code": 0, "message": "No action needed at this time."}
    assert "onboard" not in named["records"][0]
    _, both = await std.get(KM, fields="**")
    assert "status" in both["records"][0] and "onboard" in both["records"][0]


async def test_instance_get_leaves_out_status_and_key_backup_unless_asked(api: Any) -> None:
    std = api("std")
    _, body = await std.get(f"{KM}/{std.km_uuid}")
    assert body["uuid"] == std.km_uuid and body["scope"] == "cluster"
    assert body["onboard"] == {"enabled": True}
    assert "status" not in body
    _, nested = await std.get(f"{KM}/{std.km_uuid}", fields="onboard.key_backup,status.code")
    assert set(nested) == {"uuid", "_links", "onboard", "status"}
    assert set(nested["onboard"]) == {"key_backup"} and set(nested["status"]) == {"code"}


@pytest.mark.parametrize(
    ("query", "hits"),
    [
        ({"scope": "cluster"}, 1),
        ({"scope": "svm"}, 0),
        ({"onboard.enabled": "true"}, 1),
        ({"onboard.enabled": "false"}, 0),
        ({"scope": "svm|cluster"}, 1),
        ({"scope": "!svm"}, 1),
        ({"status.code": "0"}, 1),
    ],
)
async def test_collection_filters(api: Any, query: dict[str, str], hits: int) -> None:
    _, body = await api("std").get(KM, **query)
    assert body["num_records"] == hits


async def test_uuid_filter_and_max_records(api: Any) -> None:
    std = api("std")
    assert (await std.get(KM, uuid=std.km_uuid))[1]["num_records"] == 1
    _, nodes = await std.get("/api/cluster/nodes", max_records="2")
    assert nodes["num_records"] == 2 and len(nodes["records"]) == 2


async def test_return_records_false_gives_only_the_count(api: Any) -> None:
    _, body = await api("std").get("/api/cluster/nodes", return_records="false")
    assert body["num_records"] == 4 and "records" not in body


async def test_external_key_manager_shows_servers_and_onboard_disabled(api: Any) -> None:
    ext = api("ext")
    _, body = await ext.get(KM, fields="onboard.enabled,external,enabled,configuration")
    record = body["records"][0]
    assert record["onboard"] == {"enabled": False}
    assert record["external"]["servers"][0]["server"].endswith(":5696")
    assert record["enabled"] is True and record["configuration"]["name"] == "default"  # 9.16+


async def test_cluster_and_nodes(api: Any) -> None:
    std = api("std")
    _, cluster = await std.get("/api/cluster", fields="version,name,uuid")
    assert cluster["name"] == "std"
    assert cluster["version"]["generation"] == 9 and cluster["version"]["major"] == 14
    assert cluster["version"]["minor"] == 1 and "9.14.1" in cluster["version"]["full"]
    _, nodes = await std.get("/api/cluster/nodes")
    assert [record["name"] for record in nodes["records"]] == [f"std-0{i}" for i in range(1, 5)]


async def test_key_ids_per_node_and_restored_filter(api: Any) -> None:
    std = api("std")
    node = std.cluster.nodes[0]
    path = f"{KM}/{std.km_uuid}/keys/{node.uuid}/key-ids"
    _, body = await std.get(path, fields="*")
    assert body["num_records"] == len(node.keys)
    record = body["records"][0]
    assert record["restored"] is True and record["key_store_type"] == "okm"
    assert record["node"] == {"name": node.name, "uuid": node.uuid}
    _, none_missing = await std.get(path, restored="false")
    assert none_missing["num_records"] == 0


async def test_key_ids_restored_filter_needs_9_12(api: Any) -> None:
    old = api("old")
    node = old.cluster.nodes[0]
    path = f"{KM}/{old.km_uuid}/keys/{node.uuid}/key-ids"
    assert (await old.get(path))[0] == 200
    status, body = await old.get(path, restored="false")
    assert (status, code_of(body), body["error"]["target"]) == (400, "262179", "restored")


async def test_key_ids_path_does_not_exist_before_9_11(api: Any) -> None:
    older = api("older")
    node = older.cluster.nodes[0]
    status, _ = await older.get(f"{KM}/{older.km_uuid}/keys/{node.uuid}/key-ids")
    assert status == 404


async def test_key_ids_of_an_unknown_key_manager_is_65537125(api: Any) -> None:
    std = api("std")
    node = std.cluster.nodes[0]
    status, body = await std.get(f"{KM}/00000000-0000-4000-8000-000000000000/keys/{node.uuid}/key-ids")
    assert (status, code_of(body)) == (400, "65537125")


async def test_unknown_query_parameter_is_262179_with_target(api: Any) -> None:
    status, body = await api("std").get(KM, colour="blue")
    assert status == 400
    assert body["error"] == {"message": 'Unexpected argument "colour".', "code": "262179", "target": "colour"}


@pytest.mark.parametrize("name", ["onboard.passphrase", "onboard.existing_passphrase", "password"])
async def test_secret_in_the_url_is_262202(api: Any, name: str) -> None:
    std = api("std")
    status, body = await std.call("PATCH", f"{KM}/{std.km_uuid}", params={name: "x" * 40}, json={})
    assert (status, code_of(body), body["error"]["target"]) == (400, "262202", name)


async def test_unknown_body_field_is_262179_with_target(api: Any) -> None:
    std = api("std")
    body = {"onboard": {"passphrase": "x" * 40, "existing_passphrase": "y" * 40, "colour": "blue"}}
    status, reply = await std.call("PATCH", f"{KM}/{std.km_uuid}", json=body)
    assert (status, code_of(reply), reply["error"]["target"]) == (400, "262179", "onboard.colour")


async def test_read_only_body_field_is_262196(api: Any) -> None:
    std = api("std")
    status, reply = await std.call("PATCH", f"{KM}/{std.km_uuid}", json={"onboard": {"key_backup": "x"}})
    assert (status, code_of(reply), reply["error"]["target"]) == (400, "262196", "onboard.key_backup")


async def test_invalid_json_is_262199(api: Any, session: Any, sim: Any) -> None:
    std = api("std")
    status, reply = await std.call("PATCH", f"{KM}/{std.km_uuid}", json="not an object")
    assert (status, code_of(reply)) == (400, "262199")


async def test_wrong_credentials_are_401(api: Any) -> None:
    std = api("std")
    std.authorized = False
    assert (await std.get("/api/cluster"))[0] == 401
    std.authorized = True
    await std.set(faults={"auth_fail": True})
    assert (await std.get("/api/cluster"))[0] == 401


async def test_credentials_of_another_cluster_are_refused(api: Any, sim: Any, session: Any) -> None:
    other = sim.fleet.clusters["cc"]
    headers = {"Authorization": aiohttp.encode_basic_auth(other.username, other.password)}
    async with session.get(sim.url("std") + "/api/cluster", headers=headers) as response:
        assert response.status == 401


async def test_unknown_path_and_method_answer_ontap_errors(api: Any) -> None:
    std = api("std")
    status, body = await std.get("/api/storage/volumes")
    assert (status, code_of(body)) == (404, "4")
    status, body = await std.call("PUT", KM)
    assert (status, code_of(body)) == (405, "3")
