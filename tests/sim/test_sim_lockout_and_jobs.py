"""Common Criteria lockout after repeated wrong passphrases; jobs (202/200 + job, failure, expiry)."""

from __future__ import annotations

from typing import Any

from simkit import CC_PASSPHRASE, NEW_PASSPHRASE, OTHER_PASSPHRASE, STD_PASSPHRASE, FakeClock, code_of

WRONG_CC = "w" * 70


async def test_cc_cluster_locks_after_five_consecutive_wrong_passphrases(api: Any) -> None:
    cc = api("cc")
    for _ in range(5):
        assert code_of((await cc.rotate(WRONG_CC, "n" * 70))[1]) == "65536139"
    truth = await cc.truth()
    assert truth["locked"] is True and truth["wrong_passphrase_attempts"] == 5
    # even the right passphrase is refused now, and so is every other key-manager mutation
    status, body = await cc.rotate(CC_PASSPHRASE, "n" * 70)
    assert (status, code_of(body)) == (400, "65536808")
    assert code_of((await cc.sync(CC_PASSPHRASE))[1]) == "65536808"
    _, listing = await cc.get("/api/security/key-managers", fields="status")
    assert listing["records"][0]["status"]["code"] == 65536808


async def test_a_right_passphrase_resets_the_streak(api: Any) -> None:
    cc = api("cc")
    for _ in range(4):
        await cc.rotate(WRONG_CC, "n" * 70)
    assert code_of((await cc.rotate(CC_PASSPHRASE, CC_PASSPHRASE))[1]) == "65536150"  # right, same
    for _ in range(4):
        await cc.rotate(WRONG_CC, "n" * 70)
    truth = await cc.truth()
    assert truth["locked"] is False and truth["wrong_passphrase_attempts"] == 8
    assert (await cc.rotate(CC_PASSPHRASE, "n" * 70))[0] == 200


async def test_non_cc_cluster_counts_but_never_locks(api: Any) -> None:
    std = api("std")
    for _ in range(6):
        await std.rotate(OTHER_PASSPHRASE, NEW_PASSPHRASE)
    truth = await std.truth()
    assert truth["locked"] is False and truth["wrong_passphrase_attempts"] == 6


async def test_lockout_threshold_is_settable_and_unlock_works(api: Any) -> None:
    cc = api("cc")
    await cc.set(lockout_threshold=2)
    await cc.rotate(WRONG_CC, "n" * 70)
    await cc.rotate(WRONG_CC, "n" * 70)
    assert (await cc.truth())["locked"] is True
    await cc.set(locked=False)
    assert (await cc.rotate(CC_PASSPHRASE, "n" * 70))[0] == 200


async def test_mutation_answers_202_and_job_applies_the_change_when_it_ends(
    api: Any, clock: FakeClock
) -> None:
    std = api("std")
    await std.set(faults={"jobs": True, "job_seconds": 2.0})
    status, body = await std.rotate(STD_PASSPHRASE, NEW_PASSPHRASE)
    assert status == 202
    job_uuid = body["job"]["uuid"]
    assert body["job"]["_links"]["self"]["href"] == f"/api/cluster/jobs/{job_uuid}"

    _, job = await std.get(f"/api/cluster/jobs/{job_uuid}")
    assert job["state"] == "running"
    assert (await std.truth())["rotations"] == 0  # not yet

    clock.advance(2.0)
    _, job = await std.get(f"/api/cluster/jobs/{job_uuid}")
    assert job["state"] == "success" and "end_time" in job
    assert (await std.truth())["rotations"] == 1
    assert (await std.rotate(NEW_PASSPHRASE, OTHER_PASSPHRASE))[0] == 202  # new passphrase is current


async def test_job_failure_carries_code_and_message_and_changes_nothing(api: Any, clock: FakeClock) -> None:
    std = api("std")
    await std.set(faults={"jobs": True, "job_seconds": 1.0, "job_fail": [65536406, "The change failed."]})
    _, body = await std.rotate(STD_PASSPHRASE, NEW_PASSPHRASE)
    clock.advance(1.0)
    _, job = await std.get(f"/api/cluster/jobs/{body['job']['uuid']}")
    assert job["state"] == "failure"
    assert (job["code"], job["message"]) == (65536406, "The change failed.")
    assert job["error"] == {"code": "65536406", "message": "The change failed."}
    assert (await std.truth())["rotations"] == 0
    # job_fail is for the next job only
    _, body = await std.rotate(STD_PASSPHRASE, NEW_PASSPHRASE)
    clock.advance(1.0)
    assert (await std.get(f"/api/cluster/jobs/{body['job']['uuid']}"))[1]["state"] == "success"


async def test_partial_failure_inside_a_job_ends_the_job_with_65536407(api: Any, clock: FakeClock) -> None:
    std = api("std")
    await std.set(faults={"jobs": True, "job_seconds": 0.5, "partial_nodes": [std.cluster.nodes[0].name]})
    _, body = await std.rotate(STD_PASSPHRASE, NEW_PASSPHRASE)
    clock.advance(1)
    _, job = await std.get(f"/api/cluster/jobs/{body['job']['uuid']}")
    assert (job["state"], job["code"]) == ("failure", 65536407)


async def test_jobs_disappear_after_the_retention_period(api: Any, clock: FakeClock) -> None:
    std = api("std")
    await std.set(faults={"jobs": True, "job_seconds": 1.0})
    _, body = await std.rotate(STD_PASSPHRASE, NEW_PASSPHRASE)
    path = f"/api/cluster/jobs/{body['job']['uuid']}"
    clock.advance(1.0 + 299.0)
    assert (await std.get(path))[0] == 200
    clock.advance(1.0)
    status, gone = await std.get(path)
    assert (status, code_of(gone)) == (404, "4")


async def test_200_with_a_job_is_a_setting(api: Any, clock: FakeClock) -> None:
    std = api("std")
    await std.set(faults={"jobs": True, "job_http_status": 200})
    status, body = await std.rotate(STD_PASSPHRASE, NEW_PASSPHRASE)
    assert status == 200 and "job" in body


async def test_create_with_a_job_creates_the_key_manager_when_it_ends(api: Any, clock: FakeClock) -> None:
    bare = api("bare")
    await bare.set(faults={"jobs": True})
    status, _ = await bare.call(
        "POST", "/api/security/key-managers", json={"onboard": {"passphrase": STD_PASSPHRASE}}
    )
    assert status == 202
    clock.advance(1)
    _, listing = await bare.get("/api/security/key-managers", fields="onboard.enabled")
    assert listing["records"][0]["onboard"]["enabled"] is True
