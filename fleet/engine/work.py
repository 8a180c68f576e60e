"""Run kind → unit work: the one registry the CLI and resume read.

``rotate_work`` also lives here: it picks a standalone cluster's step machine or a pair's sequence.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fleet.engine.rollout.units import Unit
from fleet.engine.spec import RunSpec
from fleet.engine.steps.context import RunContext, RunState, UnitWork
from fleet.engine.steps.pair import PairRotation, order_sites
from fleet.engine.steps.policy import ApplyWork, SweepWork
from fleet.engine.steps.rotate import rotate_single
from fleet.engine.steps.sync import sync_work
from fleet.errors import InputError
from fleet.outcomes import RunKind
from fleet.policy import Policy, load_policy
from fleet.report import Finding


async def rotate_work(ctx: RunContext, unit: Unit, state: RunState) -> None:
    """Run one unit and file its records in ``state`` (a record per cluster, a pair record)."""
    if unit.kind == "cluster":
        cluster = unit.clusters[0]
        record = await rotate_single(ctx, cluster, unit.id, state.recorder(cluster))
        state.records[cluster.name] = record
        return
    a, b = order_sites(unit.clusters[0], unit.clusters[1], ctx.spec.first_site)
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


def work_for(
    spec: RunSpec, *, policy: Policy | None = None, previous: list[Finding] | None = None
) -> UnitWork:
    """The unit work of ``spec.kind``; policy kinds load ``spec.policy`` unless given one already.

    ``previous`` (sweeps): an earlier sweep's findings, so the report carries the drift.
    """
    match spec.kind:
        case RunKind.ROTATE:
            return rotate_work
        case RunKind.SYNC:
            return sync_work
    if policy is None:
        if spec.policy is None:
            raise InputError(f"`fleet {spec.kind}` needs a policy file", field="--policy")
        policy = load_policy(spec.policy)
    now = datetime.now(UTC)
    if spec.kind == RunKind.APPLY:
        return ApplyWork(policy, now)
    return SweepWork(policy, now, plan=spec.kind == RunKind.PLAN, probe=spec.probe, previous=previous)
