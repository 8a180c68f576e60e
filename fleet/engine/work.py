"""The rotation's unit work: a standalone cluster's step machine, or a pair's sequence."""

from __future__ import annotations

from fleet.engine.rollout.units import Unit
from fleet.engine.run import RunState
from fleet.engine.steps.context import RunContext
from fleet.engine.steps.pair import PairRotation, order_sites
from fleet.engine.steps.rotate import rotate_single


async def rotate_work(ctx: RunContext, unit: Unit, state: RunState) -> None:
    """Run one unit and file its records in ``state`` (a record per cluster, a pair record)."""
    if unit.kind == "cluster":
        cluster = unit.clusters[0]
        record = await rotate_single(ctx, cluster, unit.id, state.recorder(cluster))
        state.records[cluster.name] = record
        return
    a, b = order_sites(unit.clusters[0], unit.clusters[1], ctx.options.first_site)
    rotation = PairRotation(ctx, unit.id, a, b)
    state.recorders[a.name], state.recorders[b.name] = rotation.rec_a, rotation.rec_b
    result = await rotation.run()
    for site, rec in ((a, rotation.rec_a), (b, rotation.rec_b)):
        outcome = result.outcomes[site.name]
        state.records[site.name] = rec.finish(
            outcome.outcome,
            outcome.reason,
            partner=(b if site is a else a).name,
            requests=ctx.requests_sent(site.name),
        )
    state.pairs[unit.id] = result.pair
