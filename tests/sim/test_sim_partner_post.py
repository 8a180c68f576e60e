"""A MetroCluster partner that wants POST synchronize after its partner rotated (HTTPS)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from simkit import NEW_PASSPHRASE, OTHER_PASSPHRASE, code_of

from fleet.ontap import codes
from fleet.sim.faults import apply_faults, parse_faults
from fleet.sim.state import Fleet

KM = "/api/security/key-managers"


def old_passphrase(fleet: Fleet) -> str:
    return fleet.clusters["sim-0001"].key_manager.passphrase  # type: ignore[union-attr]


async def test_partner_post_refuses_patch_sync_and_completes_the_sync_by_post(
    tapi: Any, fleet: Fleet
) -> None:
    apply_faults(fleet, parse_faults("partner_post=1"), 0)
    a, b = tapi("sim-0001"), tapi("sim-0002")
    assert (await a.rotate(old_passphrase(fleet), NEW_PASSPHRASE))[0] == 200

    status, body = await b.sync(NEW_PASSPHRASE)
    assert (status, code_of(body)) == (400, "346758")
    assert body["error"]["message"] == codes.message_for(codes.MCC_SYNC_PENDING)
    assert "POST method" in body["error"]["message"]

    wrong = {"onboard": {"passphrase": OTHER_PASSPHRASE, "synchronize": True}}
    assert code_of((await b.call("POST", KM, json=wrong))[1]) == "65536139"
    assert (await b.truth())["pending_partner_sync"] is True

    status, _ = await b.call(
        "POST", KM, json={"onboard": {"passphrase": NEW_PASSPHRASE, "synchronize": True}}
    )
    assert status == 201
    truth = await b.truth()
    assert truth["pending_partner_sync"] is False and truth["syncs"] == 1
    assert truth["passphrase_fingerprint"] == hashlib.sha256(NEW_PASSPHRASE.encode()).hexdigest()
    assert truth["key_manager"] == "onboard" and (await b.get(KM))[1]["num_records"] == 1
    assert (await b.rotate(NEW_PASSPHRASE, OTHER_PASSPHRASE))[0] == 200  # no longer pending


async def test_partner_post_is_per_cluster_through_sim(tapi: Any, fleet: Fleet) -> None:
    a, b = tapi("sim-0001"), tapi("sim-0002")
    await b.set(faults={"partner_sync_method": "post"})
    await a.rotate(old_passphrase(fleet), NEW_PASSPHRASE)
    assert code_of((await b.sync(NEW_PASSPHRASE))[1]) == "346758"
    assert fleet.settings.partner_sync_method == "patch"  # the fleet-wide default is untouched
    status, body = await b.call(
        "POST", "/_sim/clusters/sim-0002", json={"faults": {"partner_sync_method": "x"}}
    )
    assert (status, body["error"]["target"]) == (400, "faults.partner_sync_method")


def test_partner_post_picks_whole_pairs_and_only_metrocluster_sites(tmp_path: Path, fleet: Fleet) -> None:
    apply_faults(fleet, parse_faults("partner_post=1"), 0)
    methods = {name: cluster.faults.partner_sync_method for name, cluster in fleet.clusters.items()}
    assert methods["sim-0001"] == methods["sim-0002"] == "post"
    assert all(method is None for name, method in methods.items() if name not in ("sim-0001", "sim-0002"))
    path = tmp_path / "faults.yml"
    path.write_text("clusters:\n  sim-0002:\n    partner_post: true\n")
    apply_faults(fleet, parse_faults(str(path)), 0)
    assert fleet.clusters["sim-0002"].faults.partner_sync_method == "post"
    assert fleet.clusters["sim-0001"].faults.partner_sync_method is None
