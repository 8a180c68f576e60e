"""The rules called directly, without HTTP: pure functions over state with the clock passed in."""

from __future__ import annotations

from simkit import NEW_PASSPHRASE, OTHER_PASSPHRASE, STD_PASSPHRASE, build_test_fleet

from fleet.sim import rules


def onboard(**fields: object) -> dict[str, object]:
    return {"onboard": fields}


def test_change_passphrase_checks_in_ontap_order() -> None:
    fleet = build_test_fleet()
    std = fleet.clusters["std"]
    cases = [
        (onboard(passphrase="short"), 65536917),  # both fields first
        (onboard(passphrase="short", existing_passphrase=OTHER_PASSPHRASE), 65536404),  # then length
        (onboard(passphrase=NEW_PASSPHRASE, existing_passphrase=OTHER_PASSPHRASE), 65536139),  # then existing
        (onboard(passphrase=STD_PASSPHRASE, existing_passphrase=STD_PASSPHRASE), 65536150),  # then same
    ]
    for body, code in cases:
        assert rules.change_passphrase(fleet, std, body, 0.0).error_code == code
    reply = rules.change_passphrase(
        fleet, std, onboard(passphrase=NEW_PASSPHRASE, existing_passphrase=STD_PASSPHRASE), 0.0
    )
    assert reply.status == 200 and std.key_manager is not None
    assert std.key_manager.passphrase == NEW_PASSPHRASE and std.key_manager.key_generation == 2


def test_rotating_one_site_makes_the_partner_pending_with_the_new_passphrase() -> None:
    fleet = build_test_fleet()
    a, b = fleet.clusters["sim-0001"], fleet.clusters["sim-0002"]
    assert a.key_manager is not None
    old = a.key_manager.passphrase
    rules.change_passphrase(fleet, a, onboard(passphrase=NEW_PASSPHRASE, existing_passphrase=old), 0.0)
    assert b.pending_partner_sync == NEW_PASSPHRASE
    assert (
        rules.synchronize(fleet, b, onboard(synchronize=True, existing_passphrase=old), 0.0).error_code
        == 65536139
    )
    fleet.settings.pending_sync_accepts_old = True
    assert rules.synchronize(fleet, b, onboard(synchronize=True, existing_passphrase=old), 0.0).status == 200
    assert b.key_manager is not None and b.key_manager.passphrase == NEW_PASSPHRASE
    assert b.pending_partner_sync is None


def test_jobs_apply_their_change_only_when_due() -> None:
    fleet = build_test_fleet()
    std = fleet.clusters["std"]
    std.faults.jobs, std.faults.job_seconds = True, 5.0
    body = onboard(passphrase=NEW_PASSPHRASE, existing_passphrase=STD_PASSPHRASE)
    reply = rules.change_passphrase(fleet, std, body, 100.0)
    assert reply.status == 202
    rules.advance_jobs(fleet, std, 104.9)
    assert std.key_manager is not None and std.key_manager.passphrase == STD_PASSPHRASE
    rules.advance_jobs(fleet, std, 105.0)
    assert std.key_manager.passphrase == NEW_PASSPHRASE
    (job,) = std.jobs.values()
    assert job.state == "success" and job.end_time == 105.0
    rules.advance_jobs(fleet, std, 105.0 + fleet.settings.job_retention_seconds)
    assert std.jobs == {}


def test_job_uuids_are_deterministic() -> None:
    uuids = []
    for _ in range(2):
        fleet = build_test_fleet()
        std = fleet.clusters["std"]
        std.faults.jobs = True
        reply = rules.change_passphrase(
            fleet, std, onboard(passphrase=NEW_PASSPHRASE, existing_passphrase=STD_PASSPHRASE), 0.0
        )
        uuids.append(reply.body["job"]["uuid"])
    assert uuids[0] == uuids[1]


def test_error_body_code_is_a_string() -> None:
    assert rules.error_body(65536139) == {
        "error": {"message": "Cluster-wide passphrase is incorrect.", "code": "65536139"}
    }
