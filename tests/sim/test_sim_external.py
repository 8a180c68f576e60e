"""External key managers: creation, key servers, certificates, TLS failures."""

from __future__ import annotations

from typing import Any

import pytest
from simkit import code_of

KM = "/api/security/key-managers"


def external_body(cluster: Any, servers: list[str]) -> dict[str, Any]:
    client, ca = cluster.certificates
    return {
        "external": {
            "client_certificate": {"name": client.name},
            "server_ca_certificates": [{"uuid": ca.uuid}],
            "servers": [{"server": server} for server in servers],
        }
    }


async def test_create_external_key_manager(api: Any) -> None:
    bare = api("bare")
    status, _ = await bare.call("POST", KM, json=external_body(bare.cluster, ["10.0.0.1:5696"]))
    assert status == 201
    _, body = await bare.get(KM, fields="external.servers.server")
    assert body["records"][0]["external"]["servers"] == [{"server": "10.0.0.1:5696"}]


@pytest.mark.parametrize(
    ("servers", "code"),
    [
        ([f"10.0.0.{i}:5696" for i in range(1, 6)], "65536038"),
        (["10.0.0.1:5696", "10.0.0.1:5696"], "65536871"),
        ([], "65536876"),
    ],
    ids=["five-primaries", "duplicates", "no-servers"],
)
async def test_external_create_refusals(api: Any, servers: list[str], code: str) -> None:
    bare = api("bare")
    status, body = await bare.call("POST", KM, json=external_body(bare.cluster, servers))
    assert (status, code_of(body)) == (400, code)


async def test_unknown_certificate_is_65536821(api: Any) -> None:
    bare = api("bare")
    body = external_body(bare.cluster, ["10.0.0.1:5696"])
    body["external"]["client_certificate"] = {"name": "not-installed"}
    status, reply = await bare.call("POST", KM, json=body)
    assert (status, code_of(reply)) == (400, "65536821")


async def test_key_manager_already_configured_is_65536823(api: Any) -> None:
    std = api("std")
    status, body = await std.call("POST", KM, json=external_body(std.cluster, ["10.0.0.1:5696"]))
    assert (status, code_of(body)) == (400, "65536823")


async def test_key_servers_add_list_modify_delete(api: Any) -> None:
    ext = api("ext")
    base = f"{KM}/{ext.km_uuid}/key-servers"
    existing = [server.server for server in ext.cluster.key_manager.servers]
    status, _ = await ext.call("POST", base, json={"server": "10.9.9.9:5696"})
    assert status == 201
    assert code_of((await ext.call("POST", base, json={"server": "10.9.9.9:5696"}))[1]) == "65536870"
    _, listing = await ext.get(base)
    assert [record["server"] for record in listing["records"]] == [*existing, "10.9.9.9:5696"]
    assert "connectivity" not in listing["records"][0]
    _, expensive = await ext.get(base, fields="connectivity")
    assert expensive["records"][0]["connectivity"]["cluster_availability"] is True

    status, _ = await ext.call("PATCH", f"{base}/10.9.9.9:5696", json={"timeout": 30})
    assert status == 200
    assert (await ext.get(f"{base}/10.9.9.9:5696"))[1]["timeout"] == 30
    assert code_of((await ext.call("PATCH", f"{base}/10.9.9.9:5696", json={}))[1]) == "65536880"
    assert code_of((await ext.call("PATCH", f"{base}/10.1.1.1:5696", json={"timeout": 5}))[1]) == "65536843"

    assert (await ext.call("DELETE", f"{base}/10.9.9.9:5696"))[0] == 200
    assert code_of((await ext.call("DELETE", f"{base}/10.9.9.9:5696"))[1]) == "65536843"


async def test_a_refused_key_server_patch_changes_nothing(api: Any) -> None:
    ext = api("ext")
    server = ext.cluster.key_manager.servers[0]
    path = f"{KM}/{ext.km_uuid}/key-servers/{server.server}"
    timeout = server.timeout
    status, body = await ext.call("PATCH", path, json={"timeout": timeout + 1, "username": 5})
    assert (status, code_of(body)) == (400, "262197")
    assert (await ext.get(path))[1]["timeout"] == timeout


async def test_more_than_four_primaries_through_key_servers_is_65536038(api: Any) -> None:
    ext = api("ext")
    base = f"{KM}/{ext.km_uuid}/key-servers"
    room = 4 - len(ext.cluster.key_manager.servers)
    records = [{"server": f"10.8.8.{i}:5696"} for i in range(room + 1)]
    status, body = await ext.call("POST", base, json={"records": records})
    assert (status, code_of(body)) == (400, "65536038")
    assert (await ext.call("POST", base, json={"records": records[:room]}))[0] == 201


async def test_external_operation_on_onboard_key_manager_is_65536828(api: Any) -> None:
    std = api("std")
    status, body = await std.call("POST", f"{KM}/{std.km_uuid}/key-servers", json={"server": "10.0.0.1:5696"})
    assert (status, code_of(body)) == (400, "65536828")
    patch = {"external": {"client_certificate": {"name": "x"}}}
    assert code_of((await std.call("PATCH", f"{KM}/{std.km_uuid}", json=patch))[1]) == "65536828"


@pytest.mark.parametrize("code", [66060338, 66060339, 66060340])
async def test_kmip_tls_failures_when_set(api: Any, code: int) -> None:
    ext = api("ext")
    await ext.set(faults={"kmip_tls_fail": code})
    status, body = await ext.call("POST", f"{KM}/{ext.km_uuid}/key-servers", json={"server": "10.7.7.7:5696"})
    assert (status, code_of(body)) == (400, str(code))


async def test_certificate_patch_on_external(api: Any) -> None:
    ext = api("ext")
    client = ext.cluster.certificates[0]
    patch = {"external": {"client_certificate": {"uuid": client.uuid}}}
    assert (await ext.call("PATCH", f"{KM}/{ext.km_uuid}", json=patch))[0] == 200
    bad = {"external": {"client_certificate": {"uuid": "00000000-0000-4000-8000-000000000000"}}}
    assert code_of((await ext.call("PATCH", f"{KM}/{ext.km_uuid}", json=bad))[1]) == "65536821"
