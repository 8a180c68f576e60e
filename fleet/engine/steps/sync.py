"""``fleet sync``: push OKM keys to nodes that miss them, and set up a MetroCluster partner site.

Two flows, as ONTAP defines them (ontap-notes §1.4, §4.1): a PATCH synchronize on a cluster whose
nodes miss keys (or whose partner changed the passphrase), and the partner POST with
``synchronize`` on a MetroCluster site that has no onboard key manager yet. A sync changes no
passphrase, but a wrong one still counts toward Common Criteria lockout: one attempt per cluster.
"""

from __future__ import annotations

from fleet.engine.rollout.units import Unit
from fleet.engine.steps.checks import missing_keys_by_node, verify_and_backup
from fleet.engine.steps.context import NO_PASSPHRASE, Outcome, RunContext, RunState
from fleet.engine.steps.journaled import journaled, mark_verified
from fleet.engine.steps.observe import Observed, observe
from fleet.engine.steps.recorder import ClusterRecorder, error_info, failure_reason
from fleet.errors import OntapError
from fleet.inventory import Cluster
from fleet.ontap import codes as C
from fleet.outcomes import ClusterOutcome, StepStatus
from fleet.report import NodeRecord


async def sync_work(ctx: RunContext, unit: Unit, state: RunState) -> None:
    """Sync each site of the unit in turn (a pair's sites are never in flight together)."""
    for cluster in unit.clusters:
        rec = state.recorder(cluster)
        if ctx.secrets[cluster.name].current is None:
            rec.note("precheck", StepStatus.SKIPPED, NO_PASSPHRASE)
            state.records[cluster.name] = rec.finish(ClusterOutcome.SKIPPED, NO_PASSPHRASE)
            continue
        try:
            seen = await observe(ctx.client(cluster), rec)
            outcome = await sync_cluster(ctx, unit, cluster, seen, rec)
        except OntapError as exc:
            outcome = Outcome(ClusterOutcome.FAILED, failure_reason(exc))
        state.records[cluster.name] = rec.finish(
            outcome.outcome, outcome.reason, requests=ctx.requests_sent(cluster.name)
        )


async def sync_cluster(
    ctx: RunContext,
    unit: Unit,
    cluster: Cluster,
    seen: Observed,
    rec: ClusterRecorder,
) -> Outcome:
    if seen.km_uuid is None or not seen.onboard:
        return await _partner_create(ctx, unit, cluster, seen, rec)
    client = ctx.client(cluster)
    missing = await missing_keys_by_node(client, seen.km_uuid, seen, rec)
    needs_sync = not seen.healthy or any(n for *_, n in missing) or not seen.at_least(12)
    if not needs_sync:
        rec.note("sync", StepStatus.SKIPPED, "every node has its keys and the key manager is healthy")
        return Outcome(ClusterOutcome.ALREADY_CURRENT, "nothing to sync")
    return await _local_sync(ctx, unit, cluster, seen, rec, missing)


async def _local_sync(
    ctx: RunContext,
    unit: Unit,
    cluster: Cluster,
    seen: Observed,
    rec: ClusterRecorder,
    missing: list[tuple[str, str, int]],
) -> Outcome:
    km = seen.km_uuid
    assert km is not None
    passphrase = ctx.secrets[cluster.name].current
    assert passphrase is not None
    fp = ctx.journal.fingerprint(passphrase)
    client = ctx.client(cluster)
    try:
        async with journaled(ctx, rec, unit.id, "sync", to_fp=fp) as step:
            reply = await client.synchronize(km, passphrase=passphrase)
            step.http_status = reply.status
    except OntapError as exc:
        if exc.code == C.PASSPHRASE_FAILED_SOME_NODES:
            await mark_verified(ctx, rec, fp)
            after = await missing_keys_by_node(client, km, seen, rec)
            rec.nodes = _node_records(after or missing, exc)
            return Outcome(ClusterOutcome.PARTIAL, f"{exc.message} Nodes still missing keys are listed.")
        if exc.code == C.PASSPHRASE_INCORRECT:
            return Outcome(
                ClusterOutcome.FAILED, "the passphrase was refused (65536139); no further attempt was made"
            )
        return Outcome(ClusterOutcome.FAILED, failure_reason(exc))
    await mark_verified(ctx, rec, fp)
    rec.nodes = _node_records(missing, None)
    after = await missing_keys_by_node(client, km, seen, rec)
    stale = [name for name, _, n in after if n]
    if stale:
        return Outcome(ClusterOutcome.PARTIAL, f"nodes still missing keys after sync: {', '.join(stale)}")
    problem = await verify_and_backup(client, km, rec, ctx.spec.backup_dir)
    if problem:
        return Outcome(ClusterOutcome.PARTIAL, f"synced, but {problem}")
    rec.remediated = any(n for *_, n in missing)
    return Outcome(ClusterOutcome.SUCCEEDED)


async def _partner_create(
    ctx: RunContext, unit: Unit, cluster: Cluster, seen: Observed, rec: ClusterRecorder
) -> Outcome:
    """A MetroCluster site without OKM whose partner has it: the POST with ``synchronize``."""
    mcc = seen.metrocluster
    if seen.external:
        return Outcome(ClusterOutcome.SKIPPED, "the cluster uses an external key manager; nothing to sync")
    if mcc is None or not mcc.configured or not cluster.metrocluster_partner:
        return Outcome(
            ClusterOutcome.SKIPPED, "no onboard key manager, and no MetroCluster partner to sync from"
        )
    passphrase = ctx.secrets[cluster.name].current
    assert passphrase is not None
    fp = ctx.journal.fingerprint(passphrase)
    try:
        async with journaled(
            ctx,
            rec,
            unit.id,
            "partner_create_sync",
            to_fp=fp,
            detail=f"create the onboard key manager from partner {cluster.metrocluster_partner}",
        ) as step:
            reply = await ctx.client(cluster).create_onboard(passphrase=passphrase, synchronize=True)
            step.http_status = reply.status
    except OntapError as exc:
        if exc.code == C.OKM_FAILED_SOME_NODES:
            await mark_verified(ctx, rec, fp)
            return Outcome(ClusterOutcome.PARTIAL, f"{exc.message}")
        return Outcome(ClusterOutcome.FAILED, failure_reason(exc))
    await mark_verified(ctx, rec, fp)
    return Outcome(ClusterOutcome.SUCCEEDED)


def _node_records(counts: list[tuple[str, str, int]], exc: OntapError | None) -> list[NodeRecord]:
    return [
        NodeRecord(name=name, uuid=uuid, keys_missing=n, error=error_info(exc) if exc and n else None)
        for name, uuid, n in counts
    ]
