"""A change ONTAP applied whose answer was lost (reset, hang, a proxy's 502/503/504): fleet reads,
probes once, and ends on the truth, never re-sending the change and never reporting it refused."""

from __future__ import annotations

from dataclasses import replace

import pytest
from enginekit import FAST_HTTP, NEW_PASSPHRASE, by_name

from fleet.ontap import codes


def wrong_attempts(sim, name: str) -> int:
    return sim.cluster(name).wrong_passphrase_total


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


async def test_the_partner_sync_applied_then_lost_is_sent_once_more_and_the_pair_rotates(sim_fleet, runner):
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8)
    a, b = sim.pairs()[0]
    sim.cluster(b).faults.lose_next = ["reset"]
    report = await runner.rotate(sim.inventory, limit=a)
    assert report.pairs[0].outcome == "rotated", report.pairs[0].reason
    assert sim.passphrase(b) == NEW_PASSPHRASE and sim.cluster(b).pending_partner_sync is None
    assert wrong_attempts(sim, b) == 0


async def test_site_a_lost_twice_is_unconfirmed_never_not_rotated(sim_fleet, runner):
    """The change and its probe both lose their answers: nothing settles A, so the pair says so."""
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=8)
    a, b = sim.pairs()[0]
    sim.cluster(a).faults.lose_next = ["reset", "reset", "reset"]
    report = await runner.rotate(sim.inventory, limit=a)
    pair = report.pairs[0]
    assert pair.outcome == "unconfirmed", pair.reason
    assert "may hold the new passphrase" in pair.reason and "not rotated" not in pair.reason
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
