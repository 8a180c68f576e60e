"""MetroCluster: the partner's pending sync after a rotation, partner POST synchronize, site state."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from simkit import NEW_PASSPHRASE, OTHER_PASSPHRASE, STD_PASSPHRASE, code_of

from fleet.sim.state import Fleet

PENDING_MESSAGE = (
    "This cluster is part of a MetroCluster configuration. Use the REST API POST method "
    "security/key_managers/ with the synchronize option and the same passphrase on the partner cluster "
    "before proceeding with any key manager operations. Failure to do so could lead to switchover or "
    "switchback failure."
)


def pair_passphrase(fleet: Fleet) -> str:
    passphrase = fleet.clusters["sim-0001"].key_manager.passphrase  # type: ignore[union-attr]
    assert passphrase == fleet.clusters["sim-0002"].key_manager.passphrase  # type: ignore[union-attr]
    return passphrase


async def status_of(site: Any) -> dict[str, Any]:
    _, body = await site.get("/api/security/key-managers", fields="status")
    return body["records"][0]["status"]


async def test_rotation_leaves_the_partner_pending_until_synced_with_the_new_passphrase(
    api: Any, fleet: Fleet
) -> None:
    a, b = api("sim-0001"), api("sim-0002")
    old = pair_passphrase(fleet)
    assert (await status_of(b))["code"] == 0

    assert (await a.rotate(old, NEW_PASSPHRASE))[0] == 200
    truth = await b.truth()
    assert truth["pending_partner_sync"] is True
    status = await status_of(b)
    assert status["code"] != 0 and status["message"] == PENDING_MESSAGE

    # other key-manager operations on the pending site are refused
    status_code, body = await b.rotate(old, OTHER_PASSPHRASE)
    assert (status_code, code_of(body)) == (400, "346758")
    assert body["error"]["message"] == PENDING_MESSAGE

    # syncing with the OLD passphrase is a wrong passphrase
    assert code_of((await b.sync(old))[1]) == "65536139"

    assert (await b.sync(NEW_PASSPHRASE))[0] == 200
    truth = await b.truth()
    assert truth["pending_partner_sync"] is False
    assert truth["passphrase_fingerprint"] == hashlib.sha256(NEW_PASSPHRASE.encode()).hexdigest()
    assert truth["syncs"] == 1
    assert (await status_of(a))["code"] == 0
    assert (await status_of(b))["message"] == "No action needed at this time."


async def test_rotated_site_shows_the_pending_status_too(api: Any, fleet: Fleet) -> None:
    a = api("sim-0001")
    await a.rotate(pair_passphrase(fleet), NEW_PASSPHRASE)
    assert (await status_of(a))["message"] == PENDING_MESSAGE
    fleet.settings.pending_status_on_both_sites = False
    assert (await status_of(a))["code"] == 0


async def test_post_synchronize_can_be_the_partner_step_when_configured(api: Any, fleet: Fleet) -> None:
    a, b = api("sim-0001"), api("sim-0002")
    await a.rotate(pair_passphrase(fleet), NEW_PASSPHRASE)
    body = {"onboard": {"passphrase": NEW_PASSPHRASE, "synchronize": True}}
    status, reply = await b.call("POST", "/api/security/key-managers", json=body)
    assert code_of(reply) == "346758"  # default: the partner step is a PATCH
    fleet.settings.partner_sync_method = "either"
    status, reply = await b.call("POST", "/api/security/key-managers", json=body)
    assert status == 201, reply
    assert (await b.truth())["pending_partner_sync"] is False


async def test_partner_post_synchronize_creates_okm_with_the_same_passphrase(api: Any, fleet: Fleet) -> None:
    a, b = api("sim-0001"), api("sim-0002")
    passphrase = pair_passphrase(fleet)
    await b.call("DELETE", f"/api/security/key-managers/{b.km_uuid}")
    status, body = await b.call(
        "POST", "/api/security/key-managers", json={"onboard": {"passphrase": OTHER_PASSPHRASE}}
    )
    assert (status, code_of(body)) == (400, "65536906")  # partner has OKM: use sync

    wrong = {"onboard": {"passphrase": OTHER_PASSPHRASE, "synchronize": True}}
    assert code_of((await b.call("POST", "/api/security/key-managers", json=wrong))[1]) == "65536139"

    right = {"onboard": {"passphrase": passphrase, "synchronize": True}}
    status, reply = await b.call("POST", "/api/security/key-managers", json=right)
    assert status == 201
    _, listing = await b.get("/api/security/key-managers")
    assert listing["records"][0]["uuid"] in reply.get("Location", "") or listing["num_records"] == 1
    truth = await b.truth()
    assert truth["key_manager"] == "onboard" and truth["syncs"] == 1
    assert truth["passphrase_fingerprint"] == (await a.truth())["passphrase_fingerprint"]

    status, body = await b.call("POST", "/api/security/key-managers", json=right)
    assert code_of(body) == "65539706"  # already configured: use the PATCH


@pytest.mark.parametrize(
    ("onboard", "code"),
    [
        ({"synchronize": True}, "65537240"),
        (
            {"synchronize": True, "passphrase": STD_PASSPHRASE, "existing_passphrase": STD_PASSPHRASE},
            "65537241",
        ),
    ],
    ids=["no-passphrase", "with-existing"],
)
async def test_post_synchronize_field_rules(api: Any, onboard: dict[str, Any], code: str) -> None:
    b = api("sim-0002")
    status, body = await b.call("POST", "/api/security/key-managers", json={"onboard": onboard})
    assert (status, code_of(body)) == (400, code)


async def test_post_synchronize_on_a_standalone_cluster_is_65537246(api: Any) -> None:
    bare = api("bare")
    body = {"onboard": {"passphrase": STD_PASSPHRASE, "synchronize": True}}
    assert code_of((await bare.call("POST", "/api/security/key-managers", json=body))[1]) == "65537246"


async def test_post_synchronize_with_okm_already_local_is_65537244(api: Any, fleet: Fleet) -> None:
    body = {"onboard": {"passphrase": OTHER_PASSPHRASE, "synchronize": True}}
    _, reply = await api("sim-0002").call("POST", "/api/security/key-managers", json=body)
    assert code_of(reply) == "65537244"


async def test_post_synchronize_without_okm_on_the_partner_is_65537245(api: Any, fleet: Fleet) -> None:
    a, b = api("sim-0001"), api("sim-0002")
    passphrase = pair_passphrase(fleet)
    await a.call("DELETE", f"/api/security/key-managers/{a.km_uuid}")
    await b.call("DELETE", f"/api/security/key-managers/{b.km_uuid}")
    body = {"onboard": {"passphrase": passphrase, "synchronize": True}}
    assert code_of((await b.call("POST", "/api/security/key-managers", json=body))[1]) == "65537245"


async def test_unreachable_partner_refuses_okm_setup_with_65539221(api: Any, fleet: Fleet) -> None:
    b = api("sim-0002")
    passphrase = pair_passphrase(fleet)
    await b.call("DELETE", f"/api/security/key-managers/{b.km_uuid}")
    await b.set(metrocluster={"partner_reachable": False})
    body = {"onboard": {"passphrase": passphrase, "synchronize": True}}
    assert code_of((await b.call("POST", "/api/security/key-managers", json=body))[1]) == "65539221"


async def test_metrocluster_endpoint_shows_both_sites_and_settable_state(api: Any) -> None:
    a, b = api("sim-0001"), api("sim-0002")
    _, body = await a.get("/api/cluster/metrocluster")
    assert body["local"]["cluster"]["name"] == "sim-0001"
    assert body["remote"]["cluster"]["name"] == "sim-0002"
    assert body["local"]["configuration_state"] == "configured" and body["local"]["mode"] == "normal"
    assert body["local"]["partner_cluster_reachable"] is True

    await b.set(metrocluster={"mode": "switchover"})
    _, body = await a.get("/api/cluster/metrocluster", fields="remote.mode")
    assert body == {"remote": {"mode": "switchover"}, "_links": body["_links"]}

    await a.set(metrocluster={"partner_reachable": False})
    _, body = await a.get("/api/cluster/metrocluster")
    assert body["local"]["partner_cluster_reachable"] is False
    assert body["remote"]["mode"] == "not_reachable"


async def test_standalone_metrocluster_is_not_configured(api: Any) -> None:
    _, body = await api("std").get("/api/cluster/metrocluster")
    assert body["local"]["configuration_state"] == "not_configured"
    assert "remote" not in body
