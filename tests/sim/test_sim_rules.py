"""The rules and effects called directly, without HTTP: rules decide and change nothing, effects apply."""

from __future__ import annotations

import copy

from simkit import NEW_PASSPHRASE, OTHER_PASSPHRASE, STD_PASSPHRASE, build_test_fleet

from fleet.sim import effects, rules
from fleet.sim.rules import Change, Refusal


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
        refusal = rules.change_passphrase(fleet, std, body)
        assert isinstance(refusal, Refusal) and refusal.code == code
    change = rules.change_passphrase(
        fleet, std, onboard(passphrase=NEW_PASSPHRASE, existing_passphrase=STD_PASSPHRASE)
    )
    assert isinstance(change, Change) and change.operation == "change_passphrase"
    reply = effects.enact(fleet, std, change, 0.0)
    assert reply.status == 200 and std.key_manager is not None
    assert std.key_manager.passphrase == NEW_PASSPHRASE and std.key_manager.key_generation == 2


def test_rules_change_nothing_even_for_a_wrong_passphrase() -> None:
    fleet = build_test_fleet()
    cc = fleet.clusters["cc"]
    before = copy.deepcopy(cc)
    wrong = onboard(passphrase="n" * 70, existing_passphrase="w" * 70)
    refusals = [rules.change_passphrase(fleet, cc, wrong) for _ in range(cc.lockout_threshold)]
    assert cc == before
    assert all(isinstance(r, Refusal) and r.passphrase_ok is False for r in refusals)
    for refusal in refusals:
        assert effects.enact(fleet, cc, refusal, 0.0).error_code == 65536139
    assert cc.wrong_passphrase_total == cc.lockout_threshold and cc.locked


def test_rotating_one_site_makes_the_partner_pending_with_the_new_passphrase() -> None:
    fleet = build_test_fleet()
    a, b = fleet.clusters["sim-0001"], fleet.clusters["sim-0002"]
    assert a.key_manager is not None
    old = a.key_manager.passphrase
    rotate = rules.change_passphrase(fleet, a, onboard(passphrase=NEW_PASSPHRASE, existing_passphrase=old))
    effects.enact(fleet, a, rotate, 0.0)
    assert b.pending_partner_sync == NEW_PASSPHRASE
    sync = onboard(synchronize=True, existing_passphrase=old)
    assert effects.enact(fleet, b, rules.synchronize(fleet, b, sync), 0.0).error_code == 65536139
    fleet.settings.pending_sync_accepts_old = True
    assert effects.enact(fleet, b, rules.synchronize(fleet, b, sync), 0.0).status == 200
    assert b.key_manager is not None and b.key_manager.passphrase == NEW_PASSPHRASE
    assert b.pending_partner_sync is None


def test_jobs_apply_their_change_only_when_due() -> None:
    fleet = build_test_fleet()
    std = fleet.clusters["std"]
    std.faults.jobs, std.faults.job_seconds = True, 5.0
    body = onboard(passphrase=NEW_PASSPHRASE, existing_passphrase=STD_PASSPHRASE)
    reply = effects.enact(fleet, std, rules.change_passphrase(fleet, std, body), 100.0)
    assert reply.status == 202
    effects.advance_jobs(fleet, std, 104.9)
    assert std.key_manager is not None and std.key_manager.passphrase == STD_PASSPHRASE
    effects.advance_jobs(fleet, std, 105.0)
    assert std.key_manager.passphrase == NEW_PASSPHRASE
    (job,) = std.jobs.values()
    assert job.state == "success" and job.end_time == 105.0
    effects.advance_jobs(fleet, std, 105.0 + fleet.settings.job_retention_seconds)
    assert std.jobs == {}


def test_job_uuids_are_deterministic() -> None:
    uuids = []
    for _ in range(2):
        fleet = build_test_fleet()
        std = fleet.clusters["std"]
        std.faults.jobs = True
        body = onboard(passphrase=NEW_PASSPHRASE, existing_passphrase=STD_PASSPHRASE)
        reply = effects.enact(fleet, std, rules.change_passphrase(fleet, std, body), 0.0)
        uuids.append(reply.body["job"]["uuid"])
    assert uuids[0] == uuids[1]


def test_error_body_code_is_a_string() -> None:
    assert rules.error_body(65536139) == {
        "error": {"message": "Cluster-wide passphrase is incorrect.", "code": "65536139"}
    }
