"""Overlapping runs never rotate one cluster twice, never both give one up, never lose a passphrase.

The runs here overlap by construction, not by luck: a ``Gate`` holds one run on one cluster (its
lease held, the run under way) while the other is planned and run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from enginekit import FAST_HTTP, NEW_PASSPHRASE, Gate, by_name

from fleet.engine.leases import take_unit
from fleet.journal import Journal
from fleet.secrets.store import FileStore

PATIENT_HTTP = dataclasses.replace(FAST_HTTP, request_timeout=60.0)  # a gated request waits for the test
OTHER_PASSPHRASE = "M4x-fleet-passphrase/" + "q9" * 25 + "!Y"  # a second operator's new value


class Interleaved:
    """The journal as two runs see it when they reach one pair at the same moment.

    Run x takes the pair's first site; run y then tries, and whatever y takes it gives back only once
    x has tried every site; x tries the second site only once y has finished trying.
    """

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.x_has_first, self.y_tried, self.x_done = asyncio.Event(), asyncio.Event(), asyncio.Event()

    def as_run(self, run: str) -> SimpleNamespace:
        async def take_lease(name: str, **kwargs):
            if run == "run-x" and name == "cl-b":
                await self.y_tried.wait()
            lease = await self.journal.take_lease(name, **kwargs)
            if run == "run-x" and name == "cl-a":
                self.x_has_first.set()
            return lease

        async def release_lease(name: str, run_id: str) -> bool:
            if run == "run-y":
                self.y_tried.set()
                await self.x_done.wait()
            return await self.journal.release_lease(name, run_id)

        return SimpleNamespace(take_lease=take_lease, release_lease=release_lease)


async def test_two_runs_reaching_one_pair_together_leave_it_to_exactly_one(runner):
    """The run that has the first site gets the pair; the other takes nothing and reports busy."""
    pair = SimpleNamespace(names=("cl-a", "cl-b"))
    journal = Interleaved(runner.journal)

    async def run_x():
        try:
            return await take_unit(journal.as_run("run-x"), "run-x", pair)
        finally:
            journal.x_done.set()

    async def run_y():
        await journal.x_has_first.wait()
        try:
            return await take_unit(journal.as_run("run-y"), "run-y", pair)
        finally:
            journal.y_tried.set()

    x, y = await asyncio.wait_for(asyncio.gather(run_x(), run_y()), timeout=10)
    assert x == {}, f"run-x has the first site, so the pair is its: {x}"
    assert list(y) == ["cl-a"] and y["cl-a"].run_id == "run-x"
    for name in ("cl-a", "cl-b"):
        assert (await runner.journal.take_lease(name, run_id="run-z", ttl=60)).run_id == "run-x"


@pytest.mark.parametrize("new", ["generate", "another file"])
async def test_a_rotation_planned_while_another_is_under_way_rotates_none_of_its_clusters_again(
    sim_fleet, runner, tmp_path, new
):
    """Run B starts after run A rotated most of the fleet and while A still works on its last cluster.

    With ``--new generate`` B reads the store after A promoted its passphrases, so "verified after B
    planned" never fired and B rotated every one of them a second time.
    """
    gate = Gate("sim-0008")
    sim = await sim_fleet(clusters=8, mcc_pairs=1, seed=9, middlewares=[gate.middleware()])
    onboard = sim.onboard_names()
    assert onboard[-1] == gate.cluster and ("sim-0001", "sim-0002") in sim.pairs()
    store = str(tmp_path / "store") if new == "generate" else None
    new_a = "generate" if store else runner.secret_file("a.okm", NEW_PASSPHRASE)
    new_b = "generate" if store else runner.secret_file("b.okm", OTHER_PASSPHRASE)

    run_a = asyncio.create_task(
        runner.rotate(sim.inventory, new_ref=new_a, store=store, concurrency=1, http=PATIENT_HTTP)
    )
    await asyncio.wait_for(gate.reached.wait(), timeout=60)  # A did every other unit, holds the last
    assert all(
        sim.cluster(name).counters.rotations == 1
        for name in onboard
        if name not in ("sim-0002", gate.cluster)
    )
    report_b = await runner.rotate(
        sim.inventory, new_ref=new_b, store=store, concurrency=4, http=PATIENT_HTTP
    )
    gate.opened.set()
    report_a = await asyncio.wait_for(run_a, timeout=60)

    rows_a, rows_b = by_name(report_a), by_name(report_b)
    assert all(rows_a[name].outcome == "succeeded" for name in onboard), {
        n: rows_a[n].reason for n in onboard
    }
    assert rows_b[gate.cluster].outcome == "busy" and report_a.run.id in rows_b[gate.cluster].reason
    for name in onboard[:-1]:
        row = rows_b[name]
        assert row.outcome == "skipped", (name, row.outcome, row.reason)
        assert report_a.run.id in row.reason, (name, row.reason)
    assert "under way alongside this one" in rows_b["sim-0003"].reason
    for name in onboard:
        counters = sim.cluster(name).counters
        assert (counters.rotations, counters.syncs) == ((0, 1) if name == "sim-0002" else (1, 0)), name
        assert sim.cluster(name).wrong_passphrase_total == 0, name
    if store is not None:
        slots = FileStore(tmp_path / "store")
        for name in onboard:
            current = await slots.get(name, "current")
            assert current is not None and current.reveal() == sim.passphrase(name), name
            assert await slots.get(name, "pending") is None, name
    else:
        assert all(sim.passphrase(name) == NEW_PASSPHRASE for name in onboard)


async def test_a_sync_verifying_a_cluster_meanwhile_does_not_stop_its_rotation(sim_fleet, runner):
    """A sync re-proves the passphrase it was given and changes none: it is not "another rotation"."""
    gate = Gate("sim-0003")
    sim = await sim_fleet(clusters=8, mcc_pairs=1, seed=9, middlewares=[gate.middleware()])
    synced = "sim-0006"
    node = sim.cluster(synced).nodes[0]
    for key in node.keys:
        key.restored = False  # a node that misses its keys: fleet sync has work to do

    rotation = asyncio.create_task(runner.rotate(sim.inventory, concurrency=1, http=PATIENT_HTTP))
    await asyncio.wait_for(gate.reached.wait(), timeout=60)
    sync = await runner.sync(sim.inventory, passphrase_ref=None, limit=synced)
    assert by_name(sync)[synced].outcome == "succeeded", by_name(sync)[synced].reason
    gate.opened.set()
    report = await asyncio.wait_for(rotation, timeout=60)

    row = by_name(report)[synced]
    assert row.outcome == "succeeded", row.reason
    assert sim.passphrase(synced) == NEW_PASSPHRASE and sim.cluster(synced).counters.rotations == 1


async def test_a_rerun_planned_in_the_millisecond_the_last_run_finished_is_not_an_overlap(
    sim_fleet, runner, monkeypatch
):
    """The journal keeps milliseconds: a rerun that began planning after the last run finished, but
    within its millisecond, was told that run was "under way alongside" and skipped the cluster it
    had rotated, instead of refusing the stale reference it was given. The clock is held there."""
    sim = await sim_fleet(clusters=4, seed=6)
    name = sim.onboard_names()[0]
    first = await runner.rotate(sim.inventory, limit=name, new_ref=runner.secret_file("f.okm", "F" * 40))
    finished = (await runner.journal.run(first.run.id)).finished_at
    began, held = time.monotonic(), datetime.fromisoformat(finished) + timedelta(microseconds=300)
    readings = []

    class SameMillisecond(datetime):
        @classmethod
        def now(cls, tz=None):  # 0.3 ms after the last run finished when planning begins
            readings.append(held + timedelta(seconds=time.monotonic() - began))
            return readings[-1]

    monkeypatch.setattr("fleet.engine.plans.datetime", SameMillisecond)
    row = by_name(await runner.rotate(sim.inventory, limit=name))[name]  # the old value, now stale
    assert row.outcome == "failed" and row.reason.startswith("stale reference"), row.reason
    planned = readings[1]  # the first reading is when planning began
    assert planned.replace(microsecond=planned.microsecond // 1000 * 1000) > datetime.fromisoformat(finished)
