"""Data SVMs and their SVM-scope key managers: ``/api/svm/svms``, ``scope``/``svm.name`` filters, SVM
certificates with an expiry, and the POST/PATCH/DELETE rules of multitenant key management (65536916,
65536823, 65536824, 65538120, 65536821, 65536850), every body valid against NetApp's schema."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from simkit import STD_PASSPHRASE, build_test_fleet, check, code_of, spec_definitions

from fleet.sim.generate import generate_fleet
from fleet.sim.state import CertRef, Fleet, KeyManager, KeyServer, Svm

KM = "/api/security/key-managers"
CERTS = "/api/security/certificates"
TODAY = datetime(2026, 12, 1, tzinfo=UTC)


def _svm(cluster: Any, name: str, *, servers: list[str] | None = None) -> Svm:
    """A data SVM; with ``servers``, an external key manager and its two certificates on that SVM."""
    rng = random.Random(f"{cluster.name}/{name}")
    svm = Svm(name=name, uuid=f"{rng.getrandbits(32):08x}-0000-4000-8000-{rng.getrandbits(48):012x}")
    if servers is not None:
        client = CertRef(f"{name}-kmip-client", f"{rng.getrandbits(32):08x}-1111-4000-8000-000000000001",
                         expiry_time="2027-01-10T00:00:00+00:00", svm=name)  # fmt: skip
        ca = CertRef(f"{name}-kmip-ca", f"{rng.getrandbits(32):08x}-2222-4000-8000-000000000002",
                     type="server_ca", svm=name)  # fmt: skip
        cluster.certificates += [client, ca]
        svm.key_manager = KeyManager(
            uuid=f"{rng.getrandbits(32):08x}-3333-4000-8000-000000000003",
            kind="external",
            servers=[KeyServer(server) for server in servers],
            client_certificate=CertRef(client.name, client.uuid, svm=name),
            server_ca_certificates=[CertRef(ca.name, ca.uuid, type="server_ca", svm=name)],
        )
    cluster.svms.append(svm)
    return svm


@pytest.fixture
def fleet() -> Fleet:
    """The known fleet; std (9.14.1) has vs1 (external, one server) and vs2 (none); sim-0001 (a
    MetroCluster site) has vs9 (none); ext (external at cluster scope) has vs1 with a key manager."""
    known = build_test_fleet()
    _svm(known.clusters["std"], "vs1", servers=["10.1.1.1:5696"])
    _svm(known.clusters["std"], "vs2")
    _svm(known.clusters["sim-0001"], "vs9")
    _svm(known.clusters["ext"], "vs1", servers=["10.2.2.2:5696"])
    return known


@pytest.fixture(scope="module")
def km_spec() -> dict[str, Any]:
    return spec_definitions("key-managers.swagger.yml")


@pytest.fixture(scope="module")
def cert_spec() -> dict[str, Any]:
    return spec_definitions("certificates-svms.swagger.yml")


async def test_svms_list_and_read_and_match_the_schema(api: Any, cert_spec: dict[str, Any]) -> None:
    std = api("std")
    status, listing = await std.get("/api/svm/svms", fields="*")
    assert status == 200, listing
    check(cert_spec, "svm_response", listing)
    assert [record["name"] for record in listing["records"]] == ["vs1", "vs2"]
    status, single = await std.get(f"/api/svm/svms/{listing['records'][0]['uuid']}")
    assert status == 200 and single["name"] == "vs1"
    check(cert_spec, "svm", single)
    _, filtered = await std.get("/api/svm/svms", name="vs2")
    assert [record["name"] for record in filtered["records"]] == ["vs2"]
    status, missing = await std.get("/api/svm/svms/00000000-0000-4000-8000-000000000000")
    assert status == 404 and code_of(missing) == "4"


@pytest.mark.parametrize("fields", [None, "*", "**", "uuid,scope,svm,external,status"])
async def test_key_managers_filter_by_scope_and_svm_name_and_match_the_schema(
    api: Any, km_spec: dict[str, Any], fields: str | None
) -> None:
    std = api("std")
    query = {"fields": fields} if fields else {}
    _, every = await std.get(KM, **query)
    check(km_spec, "security_key_manager_response", every)
    assert every["num_records"] == 2
    _, cluster_scope = await std.get(KM, scope="cluster", fields="uuid,scope")
    assert [(r["uuid"], r["scope"]) for r in cluster_scope["records"]] == [(std.km_uuid, "cluster")]
    _, svm_scope = await std.get(KM, scope="svm", fields="uuid,scope,svm,external", **{"svm.name": "vs1"})
    check(km_spec, "security_key_manager_response", svm_scope)
    (record,) = svm_scope["records"]
    assert record["scope"] == "svm" and record["svm"]["name"] == "vs1"
    assert [s["server"] for s in record["external"]["servers"]] == ["10.1.1.1:5696"]
    assert record["external"]["client_certificate"]["name"] == "vs1-kmip-client"
    status, single = await std.get(f"{KM}/{record['uuid']}", **query)
    assert status == 200 and single["scope"] == "svm"
    check(km_spec, "security_key_manager", single)
    _, none = await std.get(KM, scope="svm", **{"svm.name": "vs2"})
    assert none["num_records"] == 0


async def test_svm_certificates_carry_their_svm_scope_and_expiry(api: Any, cert_spec: dict[str, Any]) -> None:
    std = api("std")
    _, listing = await std.get(CERTS, fields="*", **{"svm.name": "vs1"})
    check(cert_spec, "security_certificate_response", listing)
    assert {(r["name"], r["scope"], r["svm"]["name"]) for r in listing["records"]} == {
        ("vs1-kmip-client", "svm", "vs1"),
        ("vs1-kmip-ca", "svm", "vs1"),
    }
    client = next(r for r in listing["records"] if r["type"] == "client")
    assert client["expiry_time"] == "2027-01-10T00:00:00+00:00" and client["public_certificate"]
    _, admin = await std.get(CERTS, scope="cluster", fields="name")
    assert {r["name"] for r in admin["records"]} == {"std-kmip-client", "std-kmip-ca"}


def _external(svm: str, server: str = "10.5.5.5:5696") -> dict[str, Any]:
    return {
        "svm": {"name": svm},
        "external": {
            "servers": [{"server": server}],
            "client_certificate": {"name": f"{svm}-kmip-client"},
            "server_ca_certificates": [{"name": f"{svm}-kmip-ca"}],
        },
    }


async def test_post_rules_of_svm_scope_key_managers(api: Any, km_spec: dict[str, Any]) -> None:
    std, mcc = api("std"), api("sim-0001")
    okm = {"svm": {"name": "vs2"}, "onboard": {"passphrase": "p" * 40}}
    refusals = [
        (std, okm, "65536916"),  # onboard only on the admin SVM
        (std, _external("vs1"), "65536823"),  # vs1 has one already
        (std, _external("nope"), "13434920"),  # no such SVM
        (std, {"policy": "p1", "onboard": {"passphrase": "p" * 40}}, "65538120"),  # policy: not the admin SVM
        (std, {**_external("vs2"), "external": {**_external("vs2")["external"],
            "client_certificate": {"name": "vs1-kmip-client"}}}, "65536821"),  # another SVM's certificate
    ]  # fmt: skip
    mcc.cluster.version = (9, 10, 1)
    refusals.append((mcc, _external("vs9"), "65536824"))  # multitenant in a MetroCluster: from 9.11.1
    for site, body, code in refusals:
        status, error = await site.call("POST", KM, json=body)
        assert (status, code_of(error)) == (400, code), body
        check(km_spec, "error_response", error)
    std.cluster.certificates += [
        CertRef("vs2-kmip-client", "aaaaaaaa-1111-4000-8000-00000000000a", svm="vs2"),
        CertRef("vs2-kmip-ca", "aaaaaaaa-2222-4000-8000-00000000000b", type="server_ca", svm="vs2"),
    ]
    status, created = await std.call("POST", KM, json=_external("vs2"))
    assert status == 201, created
    _, listing = await std.get(KM, scope="svm", fields="svm.name,external.servers.server")
    assert sorted((r["svm"]["name"], r["external"]["servers"][0]["server"]) for r in listing["records"]) == [
        ("vs1", "10.1.1.1:5696"),
        ("vs2", "10.5.5.5:5696"),
    ]
    assert std.cluster.key_manager.kind == "onboard" and std.cluster.key_manager.passphrase == STD_PASSPHRASE


async def test_patch_renews_an_svm_client_certificate_only_with_the_same_key_pair(
    api: Any, km_spec: dict[str, Any]
) -> None:
    std = api("std")
    svm = std.cluster.svm_named("vs1")
    path = f"{KM}/{svm.key_manager.uuid}"
    await std.set(install_certificate={"name": "vs1-renewed", "svm": "vs1", "key_pair_of": "vs1-kmip-client",
                                       "expiry_time": "2029-01-01T00:00:00+00:00"})  # fmt: skip
    await std.set(install_certificate={"name": "vs1-newkey", "svm": "vs1"})
    await std.set(install_certificate={"name": "admin-renewed", "key_pair_of": "vs1-kmip-client"})
    for name, code in (("vs1-newkey", "65536850"), ("admin-renewed", "65536821")):
        status, error = await std.call(
            "PATCH", path, json={"external": {"client_certificate": {"name": name}}}
        )
        assert (status, code_of(error)) == (400, code), name
        check(km_spec, "error_response", error)
    status, error = await std.call("PATCH", path, json={"onboard": {"existing_passphrase": STD_PASSPHRASE,
                                                                     "synchronize": True}})  # fmt: skip
    assert (status, code_of(error)) == (400, "65536916")
    assert svm.key_manager.client_certificate.name == "vs1-kmip-client"
    status, _ = await std.call(
        "PATCH", path, json={"external": {"client_certificate": {"name": "vs1-renewed"}}}
    )
    assert status == 200
    _, record = await std.get(path, fields="external.client_certificate")
    assert record["external"]["client_certificate"]["name"] == "vs1-renewed"
    assert std.cluster.key_manager.kind == "onboard"  # the admin SVM's key manager is another one


async def test_svm_key_servers_change_and_the_key_manager_deletes_without_touching_the_cluster(
    api: Any, km_spec: dict[str, Any]
) -> None:
    ext = api("ext")
    svm = ext.cluster.svm_named("vs1")
    km = svm.key_manager.uuid
    status, _ = await ext.call("POST", f"{KM}/{km}/key-servers", json={"server": "10.2.2.3:5696"})
    assert status == 201
    status, _ = await ext.call("PATCH", f"{KM}/{km}/key-servers/10.2.2.3:5696", json={"timeout": 40})
    assert status == 200
    status, _ = await ext.call("DELETE", f"{KM}/{km}/key-servers/10.2.2.2:5696")
    assert status == 200
    _, servers = await ext.get(f"{KM}/{km}/key-servers", fields="server,timeout")
    check(km_spec, "key_server_response", servers)
    assert [(r["server"], r["timeout"]) for r in servers["records"]] == [("10.2.2.3:5696", 40)]
    assert "10.2.2.3:5696" not in [s.server for s in ext.cluster.key_manager.servers]
    status, _ = await ext.call("DELETE", f"{KM}/{km}")
    assert status == 200 and svm.key_manager is None and ext.cluster.key_manager is not None
    status, error = await ext.call(
        "PATCH", f"{KM}/{km}", json={"external": {"client_certificate": {"name": "x"}}}
    )
    assert (status, code_of(error)) == (404, "4")


def test_generated_svms_are_deterministic_leave_the_estate_alone_and_match_across_a_pair() -> None:
    plain = generate_fleet(12, mcc_pairs=2, seed=5, today=TODAY)
    with_svms = generate_fleet(12, mcc_pairs=2, seed=5, svms=3, today=TODAY)
    again = generate_fleet(12, mcc_pairs=2, seed=5, svms=3, today=TODAY)
    assert with_svms == again
    for name, cluster in plain.clusters.items():
        other = with_svms.clusters[name]
        assert (other.uuid, other.version, other.key_manager) == (
            cluster.uuid,
            cluster.version,
            cluster.key_manager,
        )
        assert other.certificates[:2] == cluster.certificates
        assert [svm.name for svm in other.svms] == ["vs1", "vs2", "vs3"]
    svm_kms = [svm.key_manager for c in with_svms.clusters.values() for svm in c.svms]
    assert any(km is None for km in svm_kms) and any(km is not None for km in svm_kms)
    for first, second in (("sim-0001", "sim-0002"), ("sim-0003", "sim-0004")):
        servers = [[[s.server for s in svm.key_manager.servers] if svm.key_manager else None
                    for svm in with_svms.clusters[site].svms] for site in (first, second)]  # fmt: skip
        assert servers[0] == servers[1]
    expiries = [
        datetime.fromisoformat(cert.expiry_time)
        for c in with_svms.clusters.values()
        for cert in c.certificates
        if cert.svm and cert.type == "client"
    ]
    assert expiries and all(when >= TODAY for when in expiries)
