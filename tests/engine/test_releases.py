"""Old and new releases as they are: 9.6 and 9.7 lack fields fleet must not ask for; 9.16 lists
inactive configurations. A rotation reads each cluster as its release allows, end to end."""

from __future__ import annotations

from enginekit import NEW_PASSPHRASE, by_name


def release(sim, name: str) -> tuple[int, int]:
    return tuple(sim.cluster(name).version[:2])


async def test_9_6_and_9_7_clusters_rotate_end_to_end(sim_fleet, runner):
    sim = await sim_fleet(clusters=40, mcc_pairs=2, seed=4, oldest=(9, 6))
    old = [n for n in sim.onboard_names() if release(sim, n) < (9, 8)]
    assert {release(sim, n) for n in old} == {(9, 6), (9, 7)}, "the mix must hold both"
    report = await runner.rotate(sim.inventory)
    rows = by_name(report)
    assert "262197" not in report.failures.by_code
    for name in sim.onboard_names():
        assert rows[name].outcome == "succeeded", (name, rows[name].reason)
        assert sim.passphrase(name) == NEW_PASSPHRASE
    for name in old:
        notes = {step.name: step for step in rows[name].steps}
        if release(sim, name) == (9, 6):
            assert rows[name].key_backup_sha256 is None
            assert "no key backup was taken" in notes["key_backup"].detail
        else:
            assert rows[name].key_backup_sha256 is not None and "key_backup" not in notes


async def test_fleet_sync_on_9_6_says_it_cannot_sync_over_rest(sim_fleet, runner):
    sim = await sim_fleet(clusters=40, seed=4, oldest=(9, 6))
    name = next(n for n in sim.onboard_names() if release(sim, n) == (9, 6))
    report = await runner.sync(sim.inventory, passphrase_ref=None, limit=name)
    row = by_name(report)[name]
    assert row.outcome == "skipped" and "onboard.synchronize: 9.7+" in row.reason
    assert sim.cluster(name).counters.mutations == 0


async def test_a_lost_answer_on_9_6_is_settled_by_the_9_6_probe(sim_fleet, runner):
    """No onboard.synchronize on 9.6: the probe is a PATCH from the new passphrase to itself."""
    sim = await sim_fleet(clusters=40, seed=4, oldest=(9, 6))
    name = next(n for n in sim.onboard_names() if release(sim, n) == (9, 6))
    sim.cluster(name).faults.lose_next = ["reset"]
    report = await runner.rotate(sim.inventory, limit=name)
    row = by_name(report)[name]
    assert row.outcome == "succeeded", row.reason
    assert sim.passphrase(name) == NEW_PASSPHRASE and sim.cluster(name).counters.rotations == 1
    assert "probe_new_passphrase" in [step.name for step in row.steps]
