"""Identity through ``/_sim`` over HTTPS: a cluster that answers another name (``answer_name``, the
``misnamed`` fault) and a rebuilt cluster (``rebuild``: new uuid, fresh OKM with a NEW passphrase, same
name and address, the inventory's secret files untouched)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simkit import NEW_PASSPHRASE, STD_PASSPHRASE, build_test_fleet, code_of

from fleet.sim.faults import apply_faults, parse_faults
from fleet.sim.inventory_out import write_inventory
from fleet.sim.persist import load_fleet, save_fleet


async def test_answer_name_changes_what_get_cluster_says_not_the_inventory(tapi: Any, tmp_path: Path) -> None:
    std = tapi("std")
    uuid_before = std.cluster.uuid
    truth = await std.set(answer_name="other-cluster")
    assert truth["name"] == "std" and truth["answer_name"] == "other-cluster"
    _, record = await std.get("/api/cluster", fields="name,uuid")
    assert (record["name"], record["uuid"]) == ("other-cluster", uuid_before)
    inventory = write_inventory(
        std.server.fleet,
        addresses=dict.fromkeys(std.server.fleet.clusters, truth["address"]),
        path=tmp_path / "inv.yml",
        secrets_dir=tmp_path / "secrets",
        ca_file=None,
    ).read_text()
    assert "other-cluster" not in inventory and "std" in inventory
    save_fleet(std.server.fleet, tmp_path / "state.json")
    assert load_fleet(tmp_path / "state.json").clusters["std"].answer_name == "other-cluster"
    await std.set(answer_name=None)
    assert (await std.get("/api/cluster", fields="name"))[1]["name"] == "std"


async def test_rebuild_gives_a_new_uuid_and_a_fresh_okm_with_a_new_passphrase(
    tapi: Any, tmp_path: Path
) -> None:
    std = tapi("std")
    fleet = std.server.fleet
    write_inventory(
        fleet,
        addresses=dict.fromkeys(fleet.clusters, "127.0.0.1:1"),
        path=tmp_path / "inv.yml",
        secrets_dir=tmp_path / "s",
        ca_file=None,
    )
    secret_files = {path.name: path.read_text() for path in (tmp_path / "s").iterdir()}
    before = await std.truth()
    old_km = std.km_uuid
    answer = await std.set(rebuild=True)
    passphrase = answer["passphrase"]
    assert passphrase not in (STD_PASSPHRASE, None) and len(passphrase) >= 32
    assert std.cluster.key_manager.passphrase == passphrase  # readable in-process
    assert answer["name"] == "std" and answer["address"] == before["address"]
    assert answer["uuid"] != before["uuid"] and answer["key_manager"] == "onboard"
    _, record = await std.get("/api/cluster", fields="name,uuid")
    assert (record["name"], record["uuid"]) == ("std", answer["uuid"])
    assert std.km_uuid != old_km
    # the old passphrase is wrong now; the new one works
    assert code_of((await std.rotate(STD_PASSPHRASE, NEW_PASSPHRASE))[1]) == "65536139"
    assert (await std.rotate(passphrase, NEW_PASSPHRASE))[0] == 200
    assert {path.name: path.read_text() for path in (tmp_path / "s").iterdir()} == secret_files
    # a second rebuild draws another passphrase
    assert (await std.set(rebuild=True))["passphrase"] not in (passphrase, NEW_PASSPHRASE)


async def test_bad_identity_updates_are_refused(tapi: Any) -> None:
    std = tapi("std")
    for change in ({"answer_name": 5}, {"rebuild": "yes"}):
        status, _ = await std.call("POST", "/_sim/clusters/std", json=change)
        assert status == 400


def test_misnamed_fault_answers_the_next_cluster_name(tmp_path: Path) -> None:
    fleet = build_test_fleet()
    apply_faults(fleet, parse_faults("misnamed=1"), 7)
    names = sorted(fleet.clusters)
    for index, name in enumerate(names):
        assert fleet.clusters[name].answer_name == names[(index + 1) % len(names)]
    spec = tmp_path / "faults.yml"
    spec.write_text("clusters:\n  std: {misnamed: imposter}\n  cc: {misnamed: true}\n")
    apply_faults(fleet, parse_faults(str(spec)), 7)
    assert fleet.clusters["std"].answer_name == "imposter"
    assert fleet.clusters["cc"].answer_name == names[names.index("cc") + 1]
    assert fleet.clusters["ext"].answer_name is None
