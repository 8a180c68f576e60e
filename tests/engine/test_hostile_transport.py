"""A cluster that answers with more than fleet will read: that unit fails with the reason, the rest go on."""

from __future__ import annotations

from aiohttp import web
from enginekit import NEW_PASSPHRASE, by_name

from fleet.sim.http import CLUSTER

HUGE = 6 * 1024 * 1024  # over the 4 MiB default limit


async def test_an_oversized_answer_fails_that_cluster_with_a_clear_reason(sim_fleet, runner):
    asked: list[str] = []

    @web.middleware
    async def flood(request, handler):
        cluster = request.get(CLUSTER)
        if cluster is not None and cluster.name == hostile and request.path == "/api/cluster":
            asked.append(request.path)
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            for _ in range(HUGE // 65536):
                await response.write(b" " * 65536)
            return response
        return await handler(request)

    sim = await sim_fleet(clusters=4, seed=3, middlewares=[flood])
    hostile, *others = sim.onboard_names()
    report = await runner.rotate(sim.inventory)
    rows = by_name(report)
    assert rows[hostile].outcome == "failed"
    assert rows[hostile].reason.startswith("the cluster's answer broke a response limit: GET /api/cluster")
    assert "4 MiB" in rows[hostile].reason and "--max-response-bytes" in rows[hostile].reason
    assert asked == ["/api/cluster"]  # refused once, never asked again
    assert sim.passphrase(hostile) != NEW_PASSPHRASE
    assert all(rows[name].outcome == "succeeded" for name in others), [rows[n].reason for n in others]
