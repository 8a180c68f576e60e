"""Passphrase change and synchronize over HTTP: ONTAP's codes, in ONTAP's order of checks."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from simkit import CC_PASSPHRASE, NEW_PASSPHRASE, OTHER_PASSPHRASE, STD_PASSPHRASE, code_of


def fingerprint(passphrase: str) -> str:
    return hashlib.sha256(passphrase.encode()).hexdigest()


async def test_rotation_changes_the_passphrase_and_the_key_backup(api: Any) -> None:
    std = api("std")
    _, before = await std.get(f"/api/security/key-managers/{std.km_uuid}", fields="onboard.key_backup")
    status, body = await std.rotate(STD_PASSPHRASE, NEW_PASSPHRASE)
    assert (status, body) == (200, {})
    truth = await std.truth()
    assert truth["passphrase_fingerprint"] == fingerprint(NEW_PASSPHRASE)
    assert truth["rotations"] == 1
    _, after = await std.get(f"/api/security/key-managers/{std.km_uuid}", fields="onboard.key_backup")
    assert "BEGIN BACKUP" in after["onboard"]["key_backup"]
    assert after["onboard"]["key_backup"] != before["onboard"]["key_backup"]


async def test_wrong_existing_passphrase_is_65536139(api: Any) -> None:
    status, body = await api("std").rotate(OTHER_PASSPHRASE, NEW_PASSPHRASE)
    assert status == 400
    assert body["error"] == {"message": "Cluster-wide passphrase is incorrect.", "code": "65536139"}


async def test_new_passphrase_same_as_current_is_65536150(api: Any) -> None:
    status, body = await api("std").rotate(STD_PASSPHRASE, STD_PASSPHRASE)
    assert (status, code_of(body)) == (400, "65536150")


async def test_probe_with_a_non_current_passphrase_is_incorrect_not_same(api: Any) -> None:
    """Ansible's probe (existing = new = X) tells current from not-current by 65536150 vs 65536139."""
    _, body = await api("std").rotate(NEW_PASSPHRASE, NEW_PASSPHRASE)
    assert code_of(body) == "65536139"


@pytest.mark.parametrize(
    "onboard",
    [{"passphrase": NEW_PASSPHRASE}, {"existing_passphrase": STD_PASSPHRASE}],
    ids=["no-existing", "no-new"],
)
async def test_change_needs_both_passphrases_65536917(api: Any, onboard: dict[str, str]) -> None:
    status, body = await api("std").patch_km(onboard)
    assert (status, code_of(body)) == (400, "65536917")


@pytest.mark.parametrize("new", ["x" * 31, "y" * 257], ids=["31-chars", "257-chars"])
async def test_passphrase_outside_32_to_256_is_65536404(api: Any, new: str) -> None:
    status, body = await api("std").rotate(STD_PASSPHRASE, new)
    assert (status, code_of(body)) == (400, "65536404")
    assert body["error"]["target"] == "onboard.passphrase"


async def test_length_is_checked_before_the_existing_passphrase(api: Any) -> None:
    _, body = await api("std").rotate(OTHER_PASSPHRASE, "short")
    assert code_of(body) == "65536404"


async def test_cc_mode_needs_64_characters_65536802(api: Any) -> None:
    status, body = await api("cc").rotate(CC_PASSPHRASE, "z" * 63)
    assert (status, code_of(body)) == (400, "65536802")
    status, _ = await api("cc").rotate(CC_PASSPHRASE, "z" * 64)
    assert status == 200


async def test_sync_needs_existing_passphrase_65537242(api: Any) -> None:
    status, body = await api("std").patch_km({"synchronize": True})
    assert (status, code_of(body)) == (400, "65537242")


async def test_sync_refuses_a_new_passphrase_65537243(api: Any) -> None:
    onboard = {"synchronize": True, "existing_passphrase": STD_PASSPHRASE, "passphrase": NEW_PASSPHRASE}
    status, body = await api("std").patch_km(onboard)
    assert (status, code_of(body)) == (400, "65537243")


async def test_sync_with_wrong_passphrase_is_65536139(api: Any) -> None:
    status, body = await api("std").sync(OTHER_PASSPHRASE)
    assert (status, code_of(body)) == (400, "65536139")


async def test_partial_change_is_65536407_and_stale_nodes_show_until_a_sync(api: Any) -> None:
    std = api("std")
    node = std.cluster.nodes[1]
    await std.set(faults={"partial_nodes": [node.name], "partial_once": True})
    status, body = await std.rotate(STD_PASSPHRASE, NEW_PASSPHRASE)
    assert (status, code_of(body)) == (400, "65536407")
    truth = await std.truth()
    assert truth["passphrase_fingerprint"] == fingerprint(NEW_PASSPHRASE)  # it did change
    stale = {n["name"]: n["not_restored"] for n in truth["nodes"]}
    assert stale[node.name] == len(node.keys) and sum(stale.values()) == len(node.keys)

    path = f"/api/security/key-managers/{std.km_uuid}/keys/{node.uuid}/key-ids"
    _, missing = await std.get(path, restored="false", return_records="false")
    assert missing == {"num_records": len(node.keys), "_links": missing["_links"]}

    status, _ = await std.sync(NEW_PASSPHRASE)  # partial_once: the fault already fired
    assert status == 200
    _, missing = await std.get(path, restored="false", return_records="false")
    assert missing["num_records"] == 0
    assert (await std.truth())["syncs"] == 1


async def test_partial_fault_without_once_fails_the_sync_too(api: Any) -> None:
    std = api("std")
    node = std.cluster.nodes[0]
    await std.set(faults={"partial_nodes": [node.name], "partial_once": False})
    assert code_of((await std.rotate(STD_PASSPHRASE, NEW_PASSPHRASE))[1]) == "65536407"
    assert code_of((await std.sync(NEW_PASSPHRASE))[1]) == "65536407"
    await std.set(faults={"partial_nodes": []})
    assert (await std.sync(NEW_PASSPHRASE))[0] == 200


async def test_onboard_change_on_an_external_key_manager_is_refused(api: Any) -> None:
    status, body = await api("ext").rotate(STD_PASSPHRASE, NEW_PASSPHRASE)
    assert (status, code_of(body)) == (400, "65537301")


async def test_unknown_key_manager_uuid_is_404(api: Any) -> None:
    path = "/api/security/key-managers/00000000-0000-4000-8000-000000000000"
    status, body = await api("std").call("PATCH", path, json={"onboard": {"synchronize": True}})
    assert (status, code_of(body)) == (404, "4")
