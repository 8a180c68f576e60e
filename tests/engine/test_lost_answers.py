"""A change ONTAP applied whose answer was lost (reset, hang, a proxy's 502/503/504): fleet reads,
probes once, and ends on the truth, never re-sending the change and never reporting it refused."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aiohttp import web
from breakdown import Breakdown, SyncRefusal
from enginekit import FAST_HTTP, NEW_PASSPHRASE, by_name

from fleet.engine.resume import ResumeRequest, resume_plan
from fleet.engine.run import execute
from fleet.engine.work import rotate_work
from fleet.errors import InputError
from fleet.ontap import codes
from fleet.secrets import Secret
from fleet.sim import records
from fleet.sim.http import CLUSTER


def wrong_attempts(sim, name: str) -> int:
    return sim.cluster(name).wrong_passphrase_total


def hide_pending_sync_status(monkeypatch, *names: str) -> None:
    """These clusters report healthy status always, as a release that never shows the MetroCluster
    "sync the partner" status would (whether every release shows it is not documented)."""
    shown = records.key_manager_status
    monkeypatch.setattr(
        records,
        "key_manager_status",
        lambda fleet, cluster: (
            {"code": 0, "message": records.HEALTHY_MESSAGE}
            if cluster.name in names
            else shown(fleet, cluster)
        ),
    )


@pytest.mark.parametrize("mode", ["reset", "502", "503", "504", "hang"])
async def test_a_rotation_applied_then_lost_ends_succeeded_with_one_rotation(sim_fleet, runner, mode):
    sim = await sim_fleet(clusters=6, seed=8)
    name = sim.onboard_names()[-1]
    sim.cluster(name).faults.lose_next = [mode]
    http = replace(FAST_HTTP, request_timeout=1.5) if mode == "hang" else FAST_HTTP
    report = await runner.rotate(sim.inventory, limit=name, http=http)
    row = by_name(report)[name]
    assert row.outcome == "succeeded", row.reason
    assert sim.passphrase(name) == NEW_PASSPHRASE
    assert sim.cluster(name).counters.rotations == 1, "the change was re-sent"
    assert sim.cluster(name).counters.lost_answers == 1
    assert wrong_attempts(sim, name) == 0
    steps = [step.name for step in row.steps]
    assert steps.count("change_passphrase") == 1 and steps.count("probe_new_passphrase") <= 1
    journal_steps = await runner.journal.steps(report.run.id)
    assert [s.status for s in journal_steps if s.name == "change_passphrase"] == ["unknown"]


async def test_site_a_applied_then_lost_is_proven_and_the_pair_rotates(sim_fleet, runner):
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8)
    a, b = sim.pairs()[0]
    sim.cluster(a).faults.lose_next = ["503"]
    report = await runner.rotate(sim.inventory, limit=a)
    assert report.pairs[0].outcome == "rotated", report.pairs[0].reason
    assert sim.passphrase(a) == sim.passphrase(b) == NEW_PASSPHRASE
    assert sim.cluster(a).counters.rotations == 1 and wrong_attempts(sim, a) == 0
    assert sim.cluster(b).pending_partner_sync is None


async def test_the_partner_sync_applied_then_lost_is_read_then_proven_by_a_second_answer(sim_fleet, runner):
    """B took the sync and its answer was lost. A read cannot prove the sync (ONTAP may not show the
    pending-sync status at all), so B, read and the same cluster, gets the sync once more with the
    passphrase A proved; that answer is what records B on the new passphrase."""
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8)
    a, b = sim.pairs()[0]
    sim.cluster(b).faults.lose_next = ["reset"]
    report = await runner.rotate(sim.inventory, limit=a)
    assert report.pairs[0].outcome == "rotated", report.pairs[0].reason
    assert sim.passphrase(b) == NEW_PASSPHRASE and sim.cluster(b).pending_partner_sync is None
    assert wrong_attempts(sim, b) == 0
    row = by_name(report)[b]
    assert row.outcome == "succeeded", row.reason
    assert any(s.name == "reread" and "no longer showing" in (s.detail or "") for s in row.steps)
    new_fp = runner.journal.fingerprint(Secret(NEW_PASSPHRASE))
    assert (await runner.journal.cluster_state(b)).current_fp == new_fp


async def test_a_pair_that_never_shows_the_pending_status_is_not_taken_for_synced(
    sim_fleet, runner, monkeypatch
):
    """A release that shows no "sync the partner" status: its absence proves nothing, so a sync lost
    before B saw it is sent again and the pair ends rotated with B really on the new passphrase."""
    breakdown = Breakdown(cluster="", drop_first_change=True)
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8, middlewares=[breakdown.middleware()])
    a, b = sim.pairs()[0]
    breakdown.cluster = b
    hide_pending_sync_status(monkeypatch, a, b)
    report = await runner.rotate(sim.inventory, limit=a)
    assert report.pairs[0].outcome == "rotated", report.pairs[0].reason
    assert sim.passphrase(b) == NEW_PASSPHRASE and sim.cluster(b).pending_partner_sync is None
    assert len(breakdown.changes) == 2 and sim.cluster(b).counters.syncs == 1


async def test_a_partner_sync_applied_twice_and_lost_twice_is_unconfirmed_never_split(sim_fleet, runner):
    """Both answers lost, B holds the new passphrase: "B does not have it" would be a guess."""
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8)
    a, b = sim.pairs()[0]
    sim.cluster(b).faults.lose_next = ["reset", "503"]
    report = await runner.rotate(sim.inventory, limit=a)
    pair = report.pairs[0]
    assert sim.passphrase(b) == NEW_PASSPHRASE
    assert pair.outcome == "unconfirmed", pair.reason
    assert f"whether {b} does is unknown" in pair.reason
    assert pair.remediation == f"fleet resume {report.run.id} --retry-failed"
    assert sim.cluster(b).counters.syncs == 2 and wrong_attempts(sim, b) == 0
    assert report.run.exit_code == 1


async def test_a_partner_sync_lost_before_b_saw_it_is_sent_once_more_because_b_still_waits(sim_fleet, runner):
    breakdown = Breakdown(cluster="", drop_first_change=True)
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8, middlewares=[breakdown.middleware()])
    a, b = sim.pairs()[0]
    breakdown.cluster = b
    report = await runner.rotate(sim.inventory, limit=a)
    assert report.pairs[0].outcome == "rotated", report.pairs[0].reason
    assert len(breakdown.changes) == 2 and sim.cluster(b).counters.syncs == 1
    assert sim.passphrase(b) == NEW_PASSPHRASE and wrong_attempts(sim, b) == 0
    assert any("still waiting for the partner sync" in (s.detail or "") for s in by_name(report)[b].steps)


async def test_a_partner_sync_lost_twice_that_b_never_saw_is_split_on_a_read_not_a_guess(sim_fleet, runner):
    breakdown = Breakdown(cluster="", drop_changes=2)
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8, middlewares=[breakdown.middleware()])
    a, b = sim.pairs()[0]
    breakdown.cluster = b
    report = await runner.rotate(sim.inventory, limit=a)
    pair = report.pairs[0]
    assert pair.outcome == "split", pair.reason
    assert "still waiting for the partner sync" in pair.reason
    assert pair.remediation and pair.remediation.startswith("fleet sync ")
    assert len(breakdown.changes) == 2 and sim.cluster(b).counters.syncs == 0


async def test_a_partner_sync_lost_and_b_unreadable_is_an_unconfirmed_pair_naming_its_resume(
    sim_fleet, runner
):
    """B took the sync, its answer was lost and B stopped answering: fleet cannot know, so it says so."""
    breakdown = Breakdown(cluster="", down_after=1)
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8, middlewares=[breakdown.middleware()])
    a, b = sim.pairs()[0]
    breakdown.cluster = b
    sim.cluster(b).faults.lose_next = ["reset"]
    report = await runner.rotate(sim.inventory, limit=a)
    pair = report.pairs[0]
    assert pair.outcome == "unconfirmed", pair.reason
    assert f"whether {b} does is unknown" in pair.reason
    assert pair.remediation == f"fleet resume {report.run.id} --retry-failed"
    assert by_name(report)[b].outcome == "unconfirmed" and by_name(report)[a].outcome == "succeeded"
    assert sim.cluster(b).counters.syncs == 1 and len(breakdown.changes) == 1
    assert report.run.exit_code == 1


async def test_site_a_lost_twice_is_unconfirmed_never_not_rotated(sim_fleet, runner):
    """The change and its probe both lose their answers: nothing settles A, so the pair says so."""
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8)
    a, b = sim.pairs()[0]
    sim.cluster(a).faults.lose_next = ["reset", "reset", "reset"]
    report = await runner.rotate(sim.inventory, limit=a)
    pair = report.pairs[0]
    assert pair.outcome == "unconfirmed", pair.reason
    assert "may hold the new passphrase" in pair.reason and "not rotated" not in pair.reason
    assert f"`fleet resume {report.run.id} --retry-failed` settles it" in pair.reason
    assert "`fleet resume` settles" not in pair.reason + by_name(report)[a].reason  # plain resume skips it
    assert by_name(report)[a].outcome == "unconfirmed"
    assert sim.cluster(a).counters.rotations == 1 and sim.cluster(b).counters.mutations == 0
    assert report.run.exit_code == 1


@pytest.mark.parametrize("site", ["a", "b"])
async def test_65536408_on_a_pair_is_a_partial_change_never_a_refusal(sim_fleet, runner, site):
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8)
    a, b = sim.pairs()[0]
    target = sim.cluster(a if site == "a" else b)
    target.faults.partial_code = codes.PASSPHRASE_FAILED_SOME_NODES_2
    target.faults.partial_nodes = [target.nodes[-1].name]
    report = await runner.rotate(sim.inventory, limit=a)
    pair = report.pairs[0]
    assert pair.outcome == "rotated", pair.reason
    assert "not rotated" not in (pair.reason or "")
    assert sim.passphrase(a) == sim.passphrase(b) == NEW_PASSPHRASE
    row = by_name(report)[target.name]
    assert row.outcome in ("succeeded", "partial") and row.remediated


def a_cluster_missing_keys(sim, *, newer: bool = True) -> str:
    """An onboard cluster whose first node misses its keys (9.12+ lists them; before, it cannot)."""
    name = next(n for n in sim.onboard_names() if (sim.cluster(n).version[1] >= 12) == newer)
    for key in sim.cluster(name).nodes[0].keys:
        key.restored = False
    return name


@pytest.mark.parametrize("mode", ["reset", "503", "504"])
async def test_fleet_sync_applied_then_lost_is_settled_by_reading_the_nodes_not_by_a_second_sync(
    sim_fleet, runner, mode
):
    """Before, the sync ONTAP had applied was reported failed. A second sync is a second attempt
    with the passphrase: if the first had been refused, a second wrong one toward lockout."""
    sim = await sim_fleet(clusters=6, seed=8)
    name = a_cluster_missing_keys(sim)
    sim.cluster(name).faults.lose_next = [mode]
    report = await runner.sync(sim.inventory, passphrase_ref=None, limit=name)
    row = by_name(report)[name]
    assert row.outcome == "succeeded", row.reason
    assert "a re-read shows every node with its keys" in row.reason and "not recorded as proven" in row.reason
    assert row.remediated and sim.cluster(name).counters.syncs == 1 and wrong_attempts(sim, name) == 0
    assert all(key.restored for node in sim.cluster(name).nodes for key in node.keys)
    journal_steps = await runner.journal.steps(report.run.id)
    assert [s.status for s in journal_steps if s.name == "sync"] == ["unknown"]
    state = await runner.journal.cluster_state(name)
    assert state is None or state.verified_by != report.run.id  # a guess is not recorded as proof


async def test_fleet_sync_lost_before_ontap_saw_it_is_unconfirmed_and_not_sent_again(sim_fleet, runner):
    breakdown = Breakdown(cluster="sim-0002", drop_first_change=True)
    sim = await sim_fleet(clusters=6, seed=8, middlewares=[breakdown.middleware()])
    name = a_cluster_missing_keys(sim)
    assert name == breakdown.cluster
    report = await runner.sync(sim.inventory, passphrase_ref=None, limit=name)
    row = by_name(report)[name]
    assert row.outcome == "unconfirmed", row.reason
    assert "a re-read shows nodes still missing keys" in row.reason and "not sent again" in row.reason
    assert len(breakdown.changes) == 1 and sim.cluster(name).counters.syncs == 0
    assert report.run.exit_code == 1


async def test_fleet_sync_lost_on_a_release_that_cannot_list_missing_keys_is_unconfirmed(sim_fleet, runner):
    sim = await sim_fleet(clusters=12, seed=8)
    name = a_cluster_missing_keys(sim, newer=False)
    sim.cluster(name).faults.lose_next = ["503"]
    report = await runner.sync(sim.inventory, passphrase_ref=None, limit=name)
    row = by_name(report)[name]
    assert row.outcome == "unconfirmed", row.reason
    assert "cannot show which nodes miss keys (9.12+)" in row.reason
    assert sim.cluster(name).counters.syncs == 1


async def test_a_partner_sites_creation_applied_then_lost_is_read_back_not_posted_again(sim_fleet, runner):
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8)
    a, b = sim.pairs()[0]
    sim.cluster(b).key_manager = None  # a MetroCluster site without OKM: fleet sync creates it
    sim.cluster(b).faults.lose_next = ["503"]
    report = await runner.sync(sim.inventory, passphrase_ref=None, limit=b)
    row = by_name(report)[b]
    assert row.outcome == "succeeded", row.reason
    assert "a re-read shows the onboard key manager (the passphrase is not recorded as proven)" in row.reason
    assert sim.cluster(b).counters.by_method.get("POST") == 1 and wrong_attempts(sim, b) == 0
    assert sim.cluster(b).key_manager is not None and sim.passphrase(b) == sim.passphrase(a)


async def test_a_remediation_sync_applied_then_lost_is_read_back_and_the_rotation_goes_on(sim_fleet, runner):
    """Nodes missing keys are synced before a rotation. That sync's answer lost, fleet reported
    "could not be synced, nothing was changed" although the nodes had their keys."""
    sim = await sim_fleet(clusters=6, seed=8)
    name = a_cluster_missing_keys(sim)
    sim.cluster(name).faults.lose_next = ["503"]
    report = await runner.rotate(sim.inventory, limit=name)
    row = by_name(report)[name]
    assert row.outcome == "succeeded", row.reason
    assert sim.passphrase(name) == NEW_PASSPHRASE and wrong_attempts(sim, name) == 0
    assert (sim.cluster(name).counters.syncs, sim.cluster(name).counters.rotations) == (1, 1)
    assert any(s.name == "reread" and "the sync's answer was lost" in s.detail for s in row.steps)


async def test_a_rotated_cluster_whose_remediation_answer_and_reread_are_lost_is_partial_not_failed(
    sim_fleet, runner
):
    """The passphrase changed (65536407: a node kept stale keys); then the cluster stopped answering."""
    breakdown = Breakdown(cluster="sim-0002", down_after=1)
    sim = await sim_fleet(clusters=6, seed=8, middlewares=[breakdown.middleware()])
    target = sim.cluster(breakdown.cluster)
    assert target.version[1] >= 12 and target.name in sim.onboard_names()
    target.faults.partial_code = codes.PASSPHRASE_FAILED_SOME_NODES
    target.faults.partial_nodes = [target.nodes[-1].name]
    report = await runner.rotate(sim.inventory, limit=target.name)
    row = by_name(report)[target.name]
    assert sim.passphrase(target.name) == NEW_PASSPHRASE
    assert row.outcome == "partial", row.reason
    assert "its nodes could not be checked" in row.reason and "run `fleet sync`" in row.reason


async def test_a_remediation_before_the_rotation_lost_and_unreadable_stops_before_any_change(
    sim_fleet, runner
):
    breakdown = Breakdown(cluster="sim-0002", down_after=1)
    sim = await sim_fleet(clusters=6, seed=8, middlewares=[breakdown.middleware()])
    name = a_cluster_missing_keys(sim)
    assert name == breakdown.cluster
    sim.cluster(name).faults.lose_next = ["503"]
    report = await runner.rotate(sim.inventory, limit=name)
    row = by_name(report)[name]
    assert row.outcome == "failed", row.reason
    assert (
        "the passphrase was not changed" in row.reason
        and "answer was lost and the re-read failed" in row.reason
    )
    counters = sim.cluster(name).counters
    assert (counters.syncs, counters.rotations, len(breakdown.changes)) == (1, 0, 1)


async def test_a_pair_sync_whose_first_sites_answer_is_lost_ends_with_both_sites_verified(sim_fleet, runner):
    """While its partner waits for a sync the first site reports the pending sync, never "healthy":
    the re-read must take that for the partner's business, as the answered sync does."""
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8)
    a, b = sim.pairs()[0]
    sim.cluster(b).pending_partner_sync = sim.passphrase(a)
    sim.cluster(a).faults.lose_next = ["503"]
    report = await runner.sync(sim.inventory, passphrase_ref=None, limit=a)
    rows = by_name(report)
    assert (rows[a].outcome, rows[b].outcome) == ("succeeded", "succeeded"), (rows[a].reason, rows[b].reason)
    assert sim.cluster(a).counters.syncs == 1 and sim.cluster(b).pending_partner_sync is None
    assert report.run.exit_code == 0


async def test_a_rotated_cluster_whose_node_check_after_remediation_fails_is_partial_not_failed(
    sim_fleet, runner
):
    """65536407, the nodes synced, then the read of their keys failed: the change stands."""
    breakdown = Breakdown(cluster="sim-0002", down_after=2)  # the rotation, then the remediation sync
    sim = await sim_fleet(clusters=6, seed=8, middlewares=[breakdown.middleware()])
    target = sim.cluster(breakdown.cluster)
    target.faults.partial_code = codes.PASSPHRASE_FAILED_SOME_NODES
    target.faults.partial_nodes = [target.nodes[-1].name]
    row = by_name(await runner.rotate(sim.inventory, limit=target.name))[target.name]
    assert sim.passphrase(target.name) == NEW_PASSPHRASE and len(breakdown.changes) == 2
    assert row.outcome == "partial", row.reason
    assert "its nodes could not be checked" in row.reason


async def test_a_rotated_cluster_whose_final_status_read_fails_is_partial_not_failed(sim_fleet, runner):
    """The change answered and proven, then the status read of the final check failed."""
    changed = []

    @web.middleware
    async def status_gone_after_change(request, handler):
        cluster = request.get(CLUSTER)
        if cluster is not None and cluster.name == "sim-0002":
            if request.method == "PATCH":
                changed.append(request.path)
            elif changed and request.path.rstrip("/").count("/") == 4 and "key-managers" in request.path:
                request.transport.abort()
                return web.Response(status=500)
        return await handler(request)

    sim = await sim_fleet(clusters=6, seed=8, middlewares=[status_gone_after_change])
    row = by_name(await runner.rotate(sim.inventory, limit="sim-0002"))["sim-0002"]
    assert sim.passphrase("sim-0002") == NEW_PASSPHRASE and len(changed) == 1
    assert row.outcome == "partial", row.reason
    assert "on the new passphrase (verified), but a read after the change failed" in row.reason


async def test_a_partner_site_that_stops_answering_after_taking_the_passphrase_is_partial_pair_rotated(
    sim_fleet, runner
):
    """Site B answered 65536407 to its sync (it has the new passphrase), then stopped answering:
    both sites were reported failed, with no pair record."""
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8)
    a, b = sim.pairs()[0]
    breakdown = Breakdown(cluster=b, down_after=1)
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8, middlewares=[breakdown.middleware()])
    site_b = sim.cluster(b)
    site_b.faults.partial_code = codes.PASSPHRASE_FAILED_SOME_NODES
    site_b.faults.partial_nodes = [site_b.nodes[-1].name]
    report = await runner.rotate(sim.inventory, limit=a)
    rows = by_name(report)
    assert sim.passphrase(a) == sim.passphrase(b) == NEW_PASSPHRASE
    assert report.pairs[0].outcome == "rotated", report.pairs[0].reason
    assert (rows[a].outcome, rows[b].outcome) == ("succeeded", "partial"), (rows[a].reason, rows[b].reason)


async def test_a_rerun_finishes_a_pair_whose_partner_sync_was_unconfirmed(sim_fleet, runner):
    """The same rotation run again, B answering now: A is not changed again and B is synced and verified."""
    breakdown = Breakdown(cluster="", down_after=1)
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8, middlewares=[breakdown.middleware()])
    a, b = sim.pairs()[0]
    breakdown.cluster = b
    sim.cluster(b).faults.lose_next = ["reset"]
    first = await runner.rotate(sim.inventory, limit=a)
    assert first.pairs[0].outcome == "unconfirmed", first.pairs[0].reason
    breakdown.cluster = "nobody"
    again = await runner.rotate(sim.inventory, limit=a)
    assert again.pairs[0].outcome == "rotated", again.pairs[0].reason
    assert sim.cluster(a).counters.rotations == 1
    assert sim.passphrase(a) == sim.passphrase(b) == NEW_PASSPHRASE
    assert wrong_attempts(sim, a) == wrong_attempts(sim, b) == 0
    new_fp = runner.journal.fingerprint(Secret(NEW_PASSPHRASE))
    assert (await runner.journal.cluster_state(b)).current_fp == new_fp


async def test_a_partner_whose_key_manager_changed_after_a_lost_sync_gets_nothing_more(sim_fleet, runner):
    """The sync's answer is lost and B's key manager is a different one when read back: the second
    sync is not sent to a key manager it was never meant for, and the pair says it is unsure."""
    b_name: list[str] = []
    changes: list[str] = []

    @web.middleware
    async def replace_key_manager_after_first_change(request, handler):
        response = await handler(request)
        cluster = request.get(CLUSTER)
        if cluster is not None and b_name and cluster.name == b_name[0] and request.method == "PATCH":
            changes.append(request.path)
            cluster.key_manager.uuid = "00000000-0000-4000-8000-00000000beef"
        return response

    sim = await sim_fleet(
        clusters=4, mcc_pairs=1, seed=8, middlewares=[replace_key_manager_after_first_change]
    )
    a, b = sim.pairs()[0]
    b_name.append(b)
    sim.cluster(b).faults.lose_next = ["reset"]
    report = await runner.rotate(sim.inventory, limit=a)
    pair = report.pairs[0]
    assert pair.outcome == "unconfirmed", pair.reason
    assert "not the one the sync was for" in by_name(report)[b].reason
    assert len(changes) == 1 and sim.cluster(b).counters.syncs == 1


async def test_a_second_sync_refused_after_the_first_lost_its_answer_is_judged_on_b_not_called_split(
    sim_fleet, runner
):
    """The first sync is applied and its answer lost; the second gets a definite ONTAP error. B holds
    the new passphrase, so "split: B does not have it" would be a guess: B shows no pending sync."""
    refusal = SyncRefusal(cluster="", refuse_nth=2)
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8, middlewares=[refusal.middleware()])
    a, b = sim.pairs()[0]
    refusal.cluster = b
    sim.cluster(b).faults.lose_next = ["reset"]
    report = await runner.rotate(sim.inventory, limit=a)
    pair = report.pairs[0]
    assert sim.passphrase(b) == NEW_PASSPHRASE and len(refusal.patches) == 2
    assert pair.outcome == "unconfirmed", pair.reason
    assert "second partner sync was refused" in pair.reason


async def test_resume_retry_failed_finishes_an_unconfirmed_pair_even_where_b_shows_no_pending_status(
    sim_fleet, runner, monkeypatch
):
    """The remediation an unconfirmed pair names works where `fleet sync` would see nothing to do:
    B never got the sync, stopped answering, and its release shows no pending-sync status."""
    breakdown = Breakdown(cluster="", drop_first_change=True, down_after=1)
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8, middlewares=[breakdown.middleware()])
    a, b = sim.pairs()[0]
    breakdown.cluster = b
    hide_pending_sync_status(monkeypatch, a, b)
    first = await runner.rotate(sim.inventory, limit=a)
    assert first.pairs[0].outcome == "unconfirmed", first.pairs[0].reason
    assert sim.passphrase(b) != NEW_PASSPHRASE
    with pytest.raises(InputError, match="nothing left to do"):  # a plain resume leaves it alone
        await resume_plan(runner.journal, ResumeRequest(first.run.id), http=FAST_HTTP)
    breakdown.cluster = "nobody"
    plan = await resume_plan(runner.journal, ResumeRequest(first.run.id, retry_failed=True), http=FAST_HTTP)
    again = (await execute(plan, rotate_work)).report
    assert again.pairs[0].outcome == "rotated", again.pairs[0].reason
    assert sim.passphrase(a) == sim.passphrase(b) == NEW_PASSPHRASE
    assert sim.cluster(a).counters.rotations == 1 and wrong_attempts(sim, b) == 0
    new_fp = runner.journal.fingerprint(Secret(NEW_PASSPHRASE))
    assert (await runner.journal.cluster_state(b)).current_fp == new_fp


async def test_the_heal_command_of_a_split_pair_syncs_b_even_where_b_looks_healthy(
    sim_fleet, runner, monkeypatch
):
    """ONTAP refused B's partner sync (a split pair) and B's release shows no pending-sync status:
    B looks healthy with every key. The pasted `fleet sync` must still sync it, because the journal
    knows B was sent the new passphrase and never proved it; "nothing to sync" would leave it behind."""
    refusal = SyncRefusal(cluster="")
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8, middlewares=[refusal.middleware()])
    a, b = sim.pairs()[0]
    refusal.cluster = b
    hide_pending_sync_status(monkeypatch, a, b)
    split = await runner.rotate(sim.inventory, limit=a)
    assert split.pairs[0].outcome == "split", split.pairs[0].reason
    assert sim.passphrase(b) != NEW_PASSPHRASE
    healed = await runner.sync(
        sim.inventory, passphrase_ref=runner.secret_file("new.okm", NEW_PASSPHRASE), limit=f"{a},{b}"
    )
    assert sim.passphrase(b) == NEW_PASSPHRASE
    rows = by_name(healed)
    assert rows[b].outcome == "succeeded", rows[b].reason
    assert rows[a].outcome == "already_current", rows[a].reason
    assert wrong_attempts(sim, a) == wrong_attempts(sim, b) == 0
    new_fp = runner.journal.fingerprint(Secret(NEW_PASSPHRASE))
    assert (await runner.journal.cluster_state(b)).current_fp == new_fp


async def test_the_heal_command_of_a_pair_split_on_its_second_rotation_is_not_a_stale_reference(
    sim_fleet, runner
):
    """B was verified on the first rotation's passphrase; the second rotation split the pair. The heal
    sends B the passphrase A proved, as the partner sync would: not refused as "stale reference"."""
    refusal = SyncRefusal(cluster="")  # armed for the second rotation only
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8, middlewares=[refusal.middleware()])
    a, b = sim.pairs()[0]
    first = await runner.rotate(sim.inventory, limit=a)
    assert first.pairs[0].outcome == "rotated", first.pairs[0].reason
    second_passphrase = "Second-rotation/" + "y8" * 20
    refusal.cluster = b
    split = await runner.rotate(
        sim.inventory,
        limit=a,
        current_ref=runner.secret_file("first.okm", NEW_PASSPHRASE),
        new_ref=runner.secret_file("second.okm", second_passphrase),
    )
    assert split.pairs[0].outcome == "split", split.pairs[0].reason
    healed = await runner.sync(
        sim.inventory, passphrase_ref=runner.secret_file("second.okm", second_passphrase), limit=f"{a},{b}"
    )
    rows = by_name(healed)
    assert rows[b].outcome == "succeeded", rows[b].reason
    assert sim.passphrase(a) == sim.passphrase(b) == second_passphrase
    assert wrong_attempts(sim, a) == wrong_attempts(sim, b) == 0
    assert healed.run.exit_code == 0
