"""Certificates with a key-pair identity over HTTPS: ``/api/security/certificates`` (valid against NetApp's
schema), the external key manager's client certificate among them, and 65536850 when a PATCH names a
client certificate whose key pair differs from the current one's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from simkit import check, code_of, spec_definitions

from fleet.sim.persist import load_fleet, save_fleet

CERTS = "/api/security/certificates"


@pytest.fixture(scope="module")
def definitions() -> dict[str, Any]:
    return spec_definitions("certificates-svms.swagger.yml")


@pytest.mark.parametrize("cluster", ["ext", "std", "v97"])
async def test_certificates_list_with_key_pair_identity_and_match_the_schema(
    tapi: Any, definitions: dict[str, Any], cluster: str
) -> None:
    site = tapi(cluster)
    status, listing = await site.get(CERTS, fields="*")
    assert status == 200, listing
    check(definitions, "security_certificate_response", listing)
    types = {record["type"] for record in listing["records"]}
    assert types == {"client", "server_ca"}
    for record in listing["records"]:
        assert {"uuid", "type", "svm", "expiry_time", "public_certificate"} <= set(record)
        assert ("subject_key_identifier" in record) is site.cluster.at_least(8)  # 9.8+
        status, single = await site.get(f"{CERTS}/{record['uuid']}", fields="*")
        assert status == 200 and single == record
        check(definitions, "security_certificate", single)
    if cluster == "v97":
        status, body = await site.get(CERTS, fields="subject_key_identifier")
        assert status == 400 and code_of(body) == "262197"


async def test_the_client_certificate_of_the_key_manager_is_an_installed_certificate(tapi: Any) -> None:
    ext = tapi("ext")
    _, km = await ext.get(f"/api/security/key-managers/{ext.km_uuid}", fields="external")
    client_uuid = km["external"]["client_certificate"]["uuid"]
    status, cert = await ext.get(f"{CERTS}/{client_uuid}", fields="type,name,subject_key_identifier")
    assert status == 200 and cert["type"] == "client" and cert["subject_key_identifier"]
    _, filtered = await ext.get(CERTS, type="server_ca", fields="name")
    assert [record["name"] for record in filtered["records"]] == ["ext-kmip-ca"]


async def test_a_client_certificate_with_another_key_pair_is_refused_with_65536850(
    tapi: Any, tmp_path: Path
) -> None:
    ext = tapi("ext")
    renewed = (await ext.set(install_certificate={"name": "renewed", "key_pair_of": "ext-kmip-client"}))[
        "certificate"
    ]
    newkey = (await ext.set(install_certificate={"name": "newkey"}))["certificate"]
    _, current = await ext.get(f"{CERTS}/{ext.cluster.key_manager.client_certificate.uuid}", fields="*")
    assert renewed["subject_key_identifier"] == current["subject_key_identifier"]
    assert newkey["subject_key_identifier"] != current["subject_key_identifier"]
    path = f"/api/security/key-managers/{ext.km_uuid}"

    status, body = await ext.call(
        "PATCH", path, json={"external": {"client_certificate": {"name": "newkey"}}}
    )
    assert (status, code_of(body)) == (400, "65536850")
    assert body["error"]["target"] == "external.client_certificate"
    assert ext.cluster.key_manager.client_certificate.name == "ext-kmip-client"  # unchanged

    status, _ = await ext.call(
        "PATCH", path, json={"external": {"client_certificate": {"uuid": renewed["uuid"]}}}
    )
    assert status == 200
    assert ext.cluster.key_manager.client_certificate.name == "renewed"
    save_fleet(ext.server.fleet, tmp_path / "state.json")
    loaded = load_fleet(tmp_path / "state.json").clusters["ext"]
    assert [cert.key_pair for cert in loaded.certificates] == [
        cert.key_pair for cert in ext.cluster.certificates
    ]


async def test_bad_certificate_installs_are_refused(tapi: Any) -> None:
    ext = tapi("ext")
    for change in (
        {"name": "ext-kmip-client"},
        {"name": "x", "type": "server"},
        {"name": "y", "key_pair_of": "missing"},
        {"type": "client"},
    ):
        status, _ = await ext.call("POST", "/_sim/clusters/ext", json={"install_certificate": change})
        assert status == 400, change
