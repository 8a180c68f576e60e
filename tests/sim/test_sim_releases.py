"""Per-release fields, filters, body fields and endpoints (``fleet.sim.releases``), over HTTPS."""

from __future__ import annotations

from typing import Any

import pytest
from simkit import NEW_PASSPHRASE, STD_PASSPHRASE, code_of

from fleet.errors import InputError
from fleet.sim.generate import generate_fleet
from fleet.sim.serve import ServeOptions, _load_or_generate
from fleet.sim.state import Fleet

KM = "/api/security/key-managers"


def invalid_fields(name: str) -> dict[str, Any]:
    return {
        "error": {
            "message": f'The value "{name}" is invalid for field "fields"',
            "code": "262197",
            "target": "fields",
        }
    }


@pytest.mark.parametrize("name", ["status.code", "onboard.key_backup", "status", "volume_encryption"])
async def test_a_9_7_field_asked_of_9_6_fails_the_whole_get_with_262197(tapi: Any, name: str) -> None:
    v96 = tapi("v96")
    status, body = await v96.get(KM, fields=f"uuid,{name}")
    assert (status, body) == (400, invalid_fields(name))
    status, body = await v96.get(f"{KM}/{v96.km_uuid}", fields=name)
    assert (status, body) == (400, invalid_fields(name))
    assert (await tapi("v97").get(KM, fields=f"uuid,{name}"))[0] == 200


async def test_a_name_no_release_has_is_262197(tapi: Any) -> None:
    status, body = await tapi("std").get(KM, fields="uuid,colour")
    assert (status, body) == (400, invalid_fields("colour"))
    status, body = await tapi("std").get("/api/cluster", fields="name,flavour")
    assert (status, body) == (400, invalid_fields("flavour"))


async def test_9_6_records_leave_out_the_9_7_fields_even_for_double_star(tapi: Any) -> None:
    _, body = await tapi("v96").get(KM, fields="**")
    record = body["records"][0]
    assert record["onboard"] == {"enabled": True}
    assert not {"status", "volume_encryption", "is_default_data_at_rest_encryption_disabled"} & set(record)
    _, body = await tapi("v97").get(KM, fields="**")
    assert "key_backup" in body["records"][0]["onboard"] and "status" in body["records"][0]


async def test_enabled_and_configuration_arrive_in_9_16(tapi: Any) -> None:
    for name in ("enabled", "configuration.name", "configuration"):
        status, body = await tapi("std").get(KM, fields=name)  # 9.14
        assert (status, body) == (400, invalid_fields(name))
    status, body = await tapi("ext").get(KM, fields="enabled,configuration.name")  # 9.16
    assert status == 200 and body["records"][0]["enabled"] is True


async def test_node_states_arrive_in_9_13_and_certificate_names_in_9_8(tapi: Any) -> None:
    ext = tapi("ext")
    path = f"{KM}/{ext.km_uuid}/key-servers"
    assert (await ext.get(path, fields="connectivity.node_states"))[0] == 200
    await ext.set(version=[9, 12, 1])
    status, body = await ext.get(path, fields="connectivity.node_states")
    assert (status, body) == (400, invalid_fields("connectivity.node_states"))
    _, body = await ext.get(path, fields="connectivity")
    assert set(body["records"][0]["connectivity"]) == {"cluster_availability"}
    await ext.set(version=[9, 7, 0])
    status, body = await ext.get(KM, fields="external.client_certificate.name")
    assert (status, body) == (400, invalid_fields("external.client_certificate.name"))
    _, body = await ext.get(KM, fields="external.client_certificate")
    assert set(body["records"][0]["external"]["client_certificate"]) == {"uuid", "_links"}


@pytest.mark.parametrize(
    ("cluster", "path"),
    [
        ("v97", "/api/cluster/metrocluster"),  # 9.8
        ("v97", "/api/security/key-stores"),  # 9.10
        ("older", "/api/security/key-stores"),  # 9.10.1 has it
    ],
)
async def test_endpoints_arrive_with_their_release(tapi: Any, cluster: str, path: str) -> None:
    status, body = await tapi(cluster).get(path)
    expected = 200 if cluster == "older" else 404
    assert status == expected
    if expected == 404:
        assert code_of(body) == "4"


async def test_key_ids_path_arrives_in_9_11_and_its_filters_in_9_12(tapi: Any) -> None:
    old, v97 = tapi("old"), tapi("v97")
    node = old.cluster.nodes[0]
    assert (await old.get(f"{KM}/{old.km_uuid}/keys/{node.uuid}/key-ids"))[0] == 200
    status, body = await old.get(f"{KM}/{old.km_uuid}/keys/{node.uuid}/key-ids", restored="false")
    assert (status, code_of(body), body["error"]["target"]) == (400, "262179", "restored")
    node = v97.cluster.nodes[0]
    assert (await v97.get(f"{KM}/{v97.km_uuid}/keys/{node.uuid}/key-ids"))[0] == 404


async def test_a_filter_of_a_later_release_is_refused_with_the_configured_code(
    tapi: Any, fleet: Fleet
) -> None:
    v96 = tapi("v96")
    status, body = await v96.get(KM, **{"status.code": "0"})
    assert (status, code_of(body), body["error"]["target"]) == (400, "262179", "status.code")
    fleet.settings.release_gap_code = 262197
    status, body = await v96.get(KM, **{"status.code": "0"})
    assert (status, code_of(body), body["error"]["target"]) == (400, "262197", "status.code")
    assert (await tapi("v97").get(KM, **{"status.code": "0"}))[1]["num_records"] == 1


async def test_a_body_field_of_a_later_release_is_refused_and_changes_nothing(tapi: Any) -> None:
    v96 = tapi("v96")
    status, body = await v96.sync(STD_PASSPHRASE)  # onboard.synchronize: 9.7
    assert (status, code_of(body), body["error"]["target"]) == (400, "262179", "onboard.synchronize")
    assert (await v96.truth())["syncs"] == 0
    assert (await v96.rotate(STD_PASSPHRASE, NEW_PASSPHRASE))[0] == 200  # 9.6 rotates all the same
    assert (await tapi("v97").sync(STD_PASSPHRASE))[0] == 200


async def test_create_inactive_arrives_in_9_16(tapi: Any) -> None:
    bare = tapi("bare")  # 9.12
    status, body = await bare.call(
        "POST", KM, params={"create_inactive": "true"}, json={"onboard": {"passphrase": STD_PASSPHRASE}}
    )
    assert (status, code_of(body), body["error"]["target"]) == (400, "262179", "create_inactive")


def test_oldest_widens_the_mix_to_9_6_and_keeps_metrocluster_on_9_8() -> None:
    default = generate_fleet(400, mcc_pairs=20, seed=4)
    assert min(c.version for c in default.clusters.values()) >= (9, 8, 0)
    wide = generate_fleet(400, mcc_pairs=20, seed=4, oldest=(9, 6))
    majors = {c.version[1] for c in wide.clusters.values()}
    assert majors == set(range(6, 17))
    assert all(c.version >= (9, 8, 0) for c in wide.clusters.values() if c.metrocluster)
    again = generate_fleet(400, mcc_pairs=20, seed=4, oldest=(9, 6))
    assert [c.version for c in again.clusters.values()] == [c.version for c in wide.clusters.values()]


def test_serve_takes_oldest(tmp_path: Any) -> None:
    options = ServeOptions(inventory_out=tmp_path / "inv.yml", clusters=200, oldest="9.6")
    assert {c.version[1] for c in _load_or_generate(options).clusters.values()} >= {6, 7}
    with pytest.raises(InputError, match=r"9\.5"):
        _load_or_generate(ServeOptions(inventory_out=tmp_path / "inv.yml", clusters=2, oldest="9.5"))
