"""Paging (``max_records`` + ``_links.next``) and ``return_timeout`` on mutations that run as jobs (HTTPS)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from simkit import NEW_PASSPHRASE, STD_PASSPHRASE, code_of

from fleet.sim.faults import ClusterOverride, FaultSpec, apply_faults
from fleet.sim.state import Fleet

KM = "/api/security/key-managers"


async def test_max_records_pages_with_a_next_link_keeping_the_query(tapi: Any) -> None:
    std = tapi("std")
    status, page = await std.get("/api/cluster/nodes", fields="name", max_records="3", name="std-*")
    assert status == 200 and page["num_records"] == 3 and len(page["records"]) == 3
    href = page["_links"]["next"]["href"]
    assert href.startswith("/api/cluster/nodes?") and "fields=name" in href and "max_records=3" in href
    assert "name=std-%2A" in href and "start.uuid=" in href
    status, rest = await std.call("GET", href)
    assert status == 200 and rest["num_records"] == 1 and "next" not in rest["_links"]
    names = [r["name"] for r in page["records"] + rest["records"]]
    assert names == [node.name for node in std.cluster.nodes]
    assert set(rest["records"][0]) == {"uuid", "name", "_links"}


async def test_a_page_that_holds_the_rest_has_no_next(tapi: Any) -> None:
    _, body = await tapi("std").get("/api/cluster/nodes", max_records="4")
    assert body["num_records"] == 4 and set(body["_links"]) == {"self"}


async def test_key_managers_page_one_record_at_a_time(tapi: Any, fleet: Fleet) -> None:
    std = tapi("std")
    await std.set(version=[9, 16, 1])
    apply_faults(fleet, FaultSpec(clusters={"std": ClusterOverride(inactive=True)}), 0)
    _, first = await std.get(KM, max_records="1", fields="enabled", scope="cluster")
    _, second = await std.call("GET", first["_links"]["next"]["href"])
    assert [first["records"][0]["enabled"], second["records"][0]["enabled"]] == [False, True]
    assert second["num_records"] == 1 and "next" not in second["_links"]


async def test_return_timeout_waits_for_the_job_and_answers_200(tapi: Any, fleet: Fleet) -> None:
    fleet.settings.honour_return_timeout = True
    std = tapi("std")
    await std.set(faults={"jobs": True, "job_seconds": 0.0})
    body = {"onboard": {"existing_passphrase": STD_PASSPHRASE, "passphrase": NEW_PASSPHRASE}}
    status, reply = await std.call("PATCH", f"{KM}/{std.km_uuid}", json=body, params={"return_timeout": "30"})
    assert status == 200 and "job" in reply
    _, job = await std.get(reply["job"]["_links"]["self"]["href"])
    assert job["state"] == "success" and (await std.truth())["rotations"] == 1


async def test_a_job_longer_than_return_timeout_answers_202_after_waiting(tapi: Any, fleet: Fleet) -> None:
    fleet.settings.honour_return_timeout = True
    std = tapi("std")
    await std.set(faults={"jobs": True, "job_seconds": 30.0})
    started = time.perf_counter()
    status, reply = await std.call("DELETE", f"{KM}/{std.km_uuid}", params={"return_timeout": "1"})
    assert (status, "job" in reply) == (202, True)
    assert time.perf_counter() - started >= 1.0
    assert (await std.truth())["key_manager"] == "onboard"  # not yet deleted


async def test_a_job_that_fails_in_time_answers_its_error(tapi: Any, fleet: Fleet) -> None:
    fleet.settings.honour_return_timeout = True
    std = tapi("std")
    await std.set(faults={"jobs": True, "job_seconds": 0.0, "job_fail": [65536406, "The change failed."]})
    status, reply = await std.call(
        "PATCH",
        f"{KM}/{std.km_uuid}",
        json={"onboard": {"existing_passphrase": STD_PASSPHRASE, "passphrase": NEW_PASSPHRASE}},
        params={"return_timeout": "5"},
    )
    assert (status, code_of(reply), reply["error"]["message"]) == (400, "65536406", "The change failed.")


async def test_without_return_timeout_or_the_setting_a_job_answers_202_at_once(
    tapi: Any, fleet: Fleet
) -> None:
    std = tapi("std")
    await std.set(faults={"jobs": True, "job_seconds": 0.0})
    path = f"{KM}/{std.km_uuid}"
    sync = {"onboard": {"existing_passphrase": STD_PASSPHRASE, "synchronize": True}}
    fleet.settings.honour_return_timeout = False  # the switch off: ONTAP's waiting is not modelled
    assert (await std.call("PATCH", path, json=sync, params={"return_timeout": "30"}))[0] == 202
    fleet.settings.honour_return_timeout = True  # the default
    assert (await std.rotate(STD_PASSPHRASE, NEW_PASSPHRASE))[0] == 202  # no return_timeout


@pytest.mark.parametrize("value", ["121", "-1", "soon", "1.5"])
async def test_bad_return_timeout_is_262197(tapi: Any, value: str) -> None:
    std = tapi("std")
    for method, path in (("GET", KM), ("PATCH", f"{KM}/{std.km_uuid}")):
        status, body = await std.call(
            method, path, json={} if method == "PATCH" else None, params={"return_timeout": value}
        )
        assert (status, code_of(body), body["error"]["target"]) == (400, "262197", "return_timeout")
