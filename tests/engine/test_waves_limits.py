"""``--limit-per LABEL=N``: never more than N units in flight per label value, pairs on both sites."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from rolloutkit import cluster, crash, rotate

from fleet.engine.rollout.limits import parse_label_limits
from fleet.engine.rollout.runner import run_waves
from fleet.engine.rollout.settings import parse_rollout
from fleet.engine.rollout.units import Unit
from fleet.errors import InputError
from fleet.inventory import load_any
from fleet.sim.http import CLUSTER


def site_watch(busy: dict[str, int], peaks: list[dict[str, int]]):
    """A middleware recording, at every request, how many clusters have a request in flight."""

    @web.middleware
    async def watch(request, handler):
        sim_cluster = request.get(CLUSTER)
        if sim_cluster is None:
            return await handler(request)
        busy[sim_cluster.name] = busy.get(sim_cluster.name, 0) + 1
        peaks.append({name: count for name, count in busy.items() if count})
        try:
            await asyncio.sleep(0.002)  # widen the window a second unit on the same site would hit
            return await handler(request)
        finally:
            busy[sim_cluster.name] -= 1

    return watch


@pytest.mark.parametrize(("limit", "expect_at_most"), [("site=1", 1), (None, None)])
async def test_limit_per_site_holds_on_the_wire(sim_fleet, runner, limit, expect_at_most):
    busy: dict[str, int] = {}
    peaks: list[dict[str, int]] = []
    sim = await sim_fleet(clusters=8, mcc_pairs=1, seed=61, middlewares=[site_watch(busy, peaks)])
    site = {c.name: c.labels["site"] for c in load_any(sim.inventory).clusters.values()}
    pair = {"sim-0001", "sim-0002"}
    assert {site[name] for name in pair} == {"east", "west"}
    report = await rotate(runner, sim.inventory, concurrency=8, limit_per=[limit] if limit else [])
    assert report.run.exit_code == 0
    per_site = [max(sum(1 for name in seen if site[name] == s) for s in ("east", "west")) for seen in peaks]
    pair_with_others = [seen for seen in peaks if set(seen) & pair and set(seen) - pair]
    if expect_at_most is None:
        assert max(per_site) > 1  # the watch does see concurrency when nothing limits it
    else:
        assert max(per_site) <= expect_at_most
        assert pair_with_others == []  # the pair holds the east AND the west slot while it runs
        assert report.run.options["limit_per"] == ["site=1"]


async def test_a_unit_that_is_blocked_does_not_hold_back_units_on_other_sites():
    order: list[str] = []
    gate = asyncio.Event()

    async def run_unit(unit: Unit) -> str:
        order.append(unit.id)
        if unit.id == "e1":
            await gate.wait()
        elif unit.id == "w1":
            gate.set()
        return "succeeded"

    units = [
        Unit("e1", "cluster", (cluster("e1", site="east"),)),
        Unit("e2", "cluster", (cluster("e2", site="east"),)),
        Unit("w1", "cluster", (cluster("w1", site="west"),)),
        Unit("x1", "cluster", (cluster("x1"),)),  # no site label: not limited by it
    ]
    result = await run_waves(
        units, run_unit, concurrency=4, on_error=crash, rollout=parse_rollout(limit_per=["site=1"])
    )
    assert order[:3] == ["e1", "w1", "x1"]  # e2 waits for e1; w1 and x1 go past it
    assert len(result.outcomes) == 4


@pytest.mark.parametrize("given", [["site"], ["site=0"], ["=1"], ["site=1", "site=2"]])
def test_bad_limit_per_is_an_input_error(given):
    with pytest.raises(InputError, match="--limit-per"):
        parse_label_limits(given)
