"""Run kind → unit work: the one registry the CLI and resume read.

``rotate_work`` also lives here: it picks a standalone cluster's step machine or a pair's sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from fleet.engine.rollout.units import Unit
from fleet.engine.spec import RunSpec
from fleet.engine.steps.context import RunContext, RunState, UnitWork
from fleet.engine.steps.pair import PairRotation, order_sites
from fleet.engine.steps.policy import ApplyWork, SweepWork
from fleet.engine.steps.rotate import rotate_single
from fleet.engine.steps.sync import sync_work
from fleet.errors import InputError
from fleet.ontap import WouldSend
from fleet.outcomes import ClusterOutcome, PairOutcome, RunKind
from fleet.policy import Policy, load_policy
from fleet.report import Finding, PairRecord


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


def dry_run(work: UnitWork) -> UnitWork:
    """``work`` up to its first mutation: every read and every check runs, nothing is sent.

    A unit that would send something ends ``planned`` with what it would send; one its checks
    refuse ends as the real run would (failed, refused, …), so the dry run's exit code says
    whether the real run would be clean.
    """

    async def planned(ctx: RunContext, unit: Unit, state: RunState) -> None:
        try:
            await work(ctx, unit, state)
        except WouldSend as would:
            ahead = await still_to_do(ctx, unit.names)
            for cluster in unit.clusters:
                if cluster.name in state.records:
                    continue
                reason = (
                    f"dry run: {would}"
                    if cluster.name == would.cluster
                    else f"dry run: would be synced with {would.cluster}'s new passphrase after it"
                )
                if cluster.name in ahead:
                    reason += f"; run {ahead[cluster.name]}, under way now, has yet to do this cluster"
                rec = state.recorders.get(cluster.name) or state.recorder(cluster)
                state.records[cluster.name] = rec.finish(
                    ClusterOutcome.PLANNED, reason, requests=ctx.requests_sent(cluster.name)
                )
            if unit.kind == "pair" and unit.id not in state.pairs:
                names = [cluster.name for cluster in unit.clusters]
                first = would.cluster if would.cluster in names else names[0]
                other = next(name for name in names if name != first)
                state.pairs[unit.id] = PairRecord(
                    name=unit.id, sites=(first, other), first=first, outcome=PairOutcome.PLANNED,
                    reason=f"dry run: {would}",
                )  # fmt: skip

    return planned


UNIT_NOT_STARTED = "pending"  # the journal's status of a unit its run has not started yet


async def still_to_do(ctx: RunContext, names: Sequence[str]) -> dict[str, str]:
    """Which of ``names`` a rotation under way alongside has not started yet: name → that run.

    A dry run's plan for such a cluster holds only if this run gets there first; the row says so.
    """
    found: dict[str, str] = {}
    for run in sorted(ctx.under_way):
        for row in await ctx.journal.units(run):
            if row.status == UNIT_NOT_STARTED:
                found |= {name: run for name in row.clusters if name in names and name not in found}
    return found


def recorded_policy(spec: RunSpec, run_id: str | None) -> Policy:
    """The policy a resumed ``fleet apply`` applies: the file's, if it still asks for what run
    ``run_id`` recorded (``Policy.digest``), else ``InputError`` naming the file.

    The run's units were planned, and its change ticket opened, against that policy: a file edited
    since is another change. Read again where the run is rebuilt, so an edit between the check
    and the run is caught too.
    """
    assert spec.policy is not None
    policy = load_policy(spec.policy)
    start = "start a new `fleet apply` (it reads every cluster first; nothing was started)"
    if spec.policy_digest is None:
        raise InputError(
            f"run {run_id} did not record what its policy asked for (an older fleet started it): {start}",
            file=str(spec.policy),
        )
    if policy.digest() != spec.policy_digest:
        raise InputError(
            f"the policy changed since run {run_id} started ({spec.policy_digest[:19]} then, "
            f"{policy.digest()[:19]} now): the run is not resumed; {start}",
            file=str(spec.policy),
        )
    return policy


def work_for(
    spec: RunSpec, *, policy: Policy | None = None, previous: list[Finding] | None = None
) -> UnitWork:
    """The unit work of ``spec.kind``; policy kinds load ``spec.policy`` unless given one already.

    ``previous`` (sweeps): an earlier sweep's findings, so the report carries the drift.
    """
    match spec.kind:
        case RunKind.ROTATE:
            return dry_run(rotate_work) if spec.dry_run else rotate_work
        case RunKind.SYNC:
            return dry_run(sync_work) if spec.dry_run else sync_work
    if policy is None:
        if spec.policy is None:
            raise InputError(f"`fleet {spec.kind}` needs a policy file", field="--policy")
        resumed = spec.resumed_from is not None and spec.kind == RunKind.APPLY
        policy = recorded_policy(spec, spec.resumed_from) if resumed else load_policy(spec.policy)
    now = datetime.now(UTC)
    if spec.kind == RunKind.APPLY:
        return ApplyWork(policy, now)
    return SweepWork(policy, now, plan=spec.kind == RunKind.PLAN, probe=spec.probe, previous=previous)
