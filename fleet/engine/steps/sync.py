"""``fleet sync``: push OKM keys to nodes that miss them, and set up a MetroCluster partner site.

Two flows, as ONTAP defines them (ontap-notes §1.4, §4.1): a PATCH synchronize on a cluster whose
nodes miss keys (or whose partner changed the passphrase), and the partner POST with
``synchronize`` on a MetroCluster site that has no onboard key manager yet. A sync changes no
passphrase, but a wrong one still counts toward Common Criteria lockout: one attempt per cluster.
"""

from __future__ import annotations

from fleet.engine.rollout.units import Unit
from fleet.engine.steps.checks import verify_and_backup
from fleet.engine.steps.context import NO_PASSPHRASE, Outcome, RunContext, RunState
from fleet.engine.steps.journaled import journaled, mark_verified, outcome_unknown
from fleet.engine.steps.ledger import refuse_to_send, refused
from fleet.engine.steps.observe import NotThatCluster, Observed, missing_keys_by_node, observe
from fleet.engine.steps.onboard_sync import synchronize_site
from fleet.engine.steps.recorder import ClusterRecorder, failure_reason
from fleet.engine.steps.remediate import NodeCounts, record_nodes, stale
from fleet.errors import OntapError
from fleet.inventory import Cluster
from fleet.ontap import codes as C
from fleet.ontap.releases import has
from fleet.outcomes import ClusterOutcome, StepStatus

SYNCED_BUT = "synced, but "


async def sync_work(ctx: RunContext, unit: Unit, state: RunState) -> None:
    """Sync each site of the unit in turn (a pair's sites are never in flight together).

    A MetroCluster site reports the pending partner sync until BOTH sites are synced, so a pair's
    first site, synced while its partner still waited, is verified again once the partner is done.
    """
    seen_by_name: dict[str, Observed] = {}
    for cluster in unit.clusters:
        rec = state.recorder(cluster)
        if ctx.secrets[cluster.name].current is None:
            rec.note("precheck", StepStatus.SKIPPED, NO_PASSPHRASE)
            state.records[cluster.name] = rec.finish(ClusterOutcome.SKIPPED, NO_PASSPHRASE)
            continue
        try:
            seen = await observe(ctx.client(cluster), rec)
            seen_by_name[cluster.name] = seen
            outcome = await sync_cluster(ctx, unit, cluster, seen, rec)
        except NotThatCluster as exc:
            outcome = Outcome(ClusterOutcome.REFUSED, str(exc))
        except OntapError as exc:
            outcome = Outcome(ClusterOutcome.FAILED, failure_reason(exc))
        state.records[cluster.name] = rec.finish(
            outcome.outcome, outcome.reason, requests=ctx.requests_sent(cluster.name)
        )
    if unit.kind == "pair":
        await _verify_first_site_again(ctx, unit, state, seen_by_name)


async def _verify_first_site_again(
    ctx: RunContext, unit: Unit, state: RunState, seen_by_name: dict[str, Observed]
) -> None:
    """A site left ``partial`` only by its partner's pending sync is verified once both are synced."""
    records = [state.records.get(cluster.name) for cluster in unit.clusters]
    if any(
        record is None or record.outcome not in (ClusterOutcome.SUCCEEDED, ClusterOutcome.PARTIAL)
        for record in records
    ):
        return
    for cluster in unit.clusters:
        record, seen = state.records[cluster.name], seen_by_name.get(cluster.name)
        if record.outcome != ClusterOutcome.PARTIAL or seen is None or seen.km_uuid is None:
            continue
        if not (record.reason or "").startswith(SYNCED_BUT):
            continue
        rec = state.recorders[cluster.name]
        try:
            problem = await verify_and_backup(
                ctx.client(cluster), seen.km_uuid, seen.version, rec, ctx.spec.backup_dir
            )
        except OntapError:
            continue
        if problem is None:
            state.records[cluster.name] = rec.finish(
                ClusterOutcome.SUCCEEDED, None, requests=ctx.requests_sent(cluster.name)
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
    if not has(seen.version, "onboard.synchronize"):
        return Outcome(
            ClusterOutcome.SKIPPED,
            f"ONTAP {seen.version_text} has no key sync over REST (onboard.synchronize: 9.7+); "
            "run `security key-manager onboard sync` on the cluster",
        )
    client = ctx.client(cluster)
    missing = await missing_keys_by_node(client, seen.km_uuid, seen.version, rec)
    heals = await _partner_proved_what_this_site_waits_for(ctx, unit, cluster, seen)
    if heals:
        rec.note("heal", StepStatus.OK, f"the journal records this site sent the passphrase {heals}")
    needs_sync = heals is not None or not seen.healthy or bool(stale(missing)) or not seen.at_least(12)
    if not needs_sync:
        rec.note("sync", StepStatus.SKIPPED, "every node has its keys and the key manager is healthy")
        return Outcome(ClusterOutcome.ALREADY_CURRENT, "nothing to sync")
    return await _local_sync(ctx, unit, cluster, seen, rec, missing, role="sync" if heals is None else "new")


async def _partner_proved_what_this_site_waits_for(
    ctx: RunContext, unit: Unit, cluster: Cluster, seen: Observed
) -> str | None:
    """Was this MetroCluster site sent the passphrase given, never proven here, while its partner (the
    one ONTAP names) proved it? Then says so; else None.

    A pair a rotation left ``split`` is that, and its heal command is this sync. It is sent even where
    the site looks healthy with every key (whether every release shows the pending partner sync is
    not documented), and as the rotation's own partner sync would be (the ledger's rules for a new
    passphrase: a site rotated before is verified on its old one, which is not a stale reference
    here). A pair changed outside fleet since can still refuse it: that one refusal is recorded and
    the passphrase is never sent there again.
    """
    passphrase = ctx.secrets[cluster.name].current
    mcc = seen.metrocluster
    if unit.kind != "pair" or passphrase is None or mcc is None or not mcc.configured or not mcc.remote_uuid:
        return None
    journal = ctx.journal
    given = journal.fingerprint(passphrase)
    here = await journal.cluster_state(cluster.name, uuid=seen.uuid or None)
    if here is None or here.pending_fp != given or here.current_fp == given:
        return None
    partner = next((site for site in unit.clusters if site.name != cluster.name), None)
    if partner is None:
        return None
    there = await journal.cluster_state(partner.name, uuid=mcc.remote_uuid)
    if there is None or there.current_fp != given:
        return None
    return f"{given} (run {here.run_id}), which its partner {partner.name} proved"


async def _local_sync(
    ctx: RunContext,
    unit: Unit,
    cluster: Cluster,
    seen: Observed,
    rec: ClusterRecorder,
    missing: NodeCounts,
    *,
    role: str,
) -> Outcome:
    """PATCH synchronize (the POST form when a MetroCluster site asks for it), then check every node.

    ``role`` is the ledger's: "sync" for the passphrase the cluster is known on, "new" for healing a
    pair site with the passphrase its partner proved."""
    km = seen.km_uuid
    assert km is not None
    passphrase = ctx.secrets[cluster.name].current
    assert passphrase is not None
    client = ctx.client(cluster)
    not_allowed = await refuse_to_send(ctx, rec, passphrase, role=role)
    if not_allowed is not None:
        return Outcome(ClusterOutcome.FAILED, not_allowed)
    try:
        await synchronize_site(ctx, rec, unit.id, km, passphrase, step="sync")
    except OntapError as exc:
        if outcome_unknown(exc):
            return await _settle_lost_sync(ctx, cluster, seen, rec, missing, exc)
        if exc.code in C.PASSPHRASE_CHANGED_SOME_NODES_STALE:
            await mark_verified(ctx, rec, passphrase)
            after = await missing_keys_by_node(client, km, seen.version, rec)
            record_nodes(rec, after or missing, exc)
            return Outcome(ClusterOutcome.PARTIAL, f"{exc.message} Nodes still missing keys are listed.")
        if exc.code == C.PASSPHRASE_INCORRECT:
            await refused(ctx, rec, passphrase, code=exc.code)
            return Outcome(
                ClusterOutcome.FAILED, "the passphrase was refused (65536139); no further attempt was made"
            )
        return Outcome(ClusterOutcome.FAILED, failure_reason(exc))
    await mark_verified(ctx, rec, passphrase)
    record_nodes(rec, missing, None)
    still = stale(await missing_keys_by_node(client, km, seen.version, rec))
    if still:
        return Outcome(ClusterOutcome.PARTIAL, f"nodes still missing keys after sync: {', '.join(still)}")
    problem = await verify_and_backup(client, km, seen.version, rec, ctx.spec.backup_dir)
    if problem:
        return Outcome(ClusterOutcome.PARTIAL, f"{SYNCED_BUT}{problem}")
    rec.remediated = bool(stale(missing))
    return Outcome(ClusterOutcome.SUCCEEDED)


async def _settle_lost_sync(
    ctx: RunContext,
    cluster: Cluster,
    seen: Observed,
    rec: ClusterRecorder,
    missing: NodeCounts,
    exc: OntapError,
) -> Outcome:
    """The sync's answer was lost (a timeout, a reset, a proxy's 5xx): it may have been applied.

    Read the nodes again instead of syncing again: a second sync is a second attempt with the
    passphrase, and if the first was refused (its refusal lost) that is a second wrong attempt toward
    Common Criteria lockout. Every node with its keys and a healthy key manager: the sync took
    effect. The passphrase is still not recorded as proven: only ONTAP's answer proves it.
    """
    lost = f"the answer to the sync was lost ({failure_reason(exc)})"
    again = "not sent again; `fleet sync` again sends it once more"
    if not seen.at_least(12):
        rec.note("reread", StepStatus.SKIPPED, f"ONTAP {seen.version_text} cannot list nodes missing keys")
        return Outcome(
            ClusterOutcome.UNCONFIRMED,
            f"{lost}, and ONTAP {seen.version_text} cannot show which nodes miss keys (9.12+): whether "
            f"it took effect is unknown; {again}",
        )
    client = ctx.client(cluster)
    km = seen.km_uuid
    assert km is not None
    try:
        now = await observe(client, rec)
        still = stale(await missing_keys_by_node(client, km, now.version, rec))
    except (OntapError, NotThatCluster) as read_exc:
        why = rec.reread_failed(read_exc)
        return Outcome(
            ClusterOutcome.UNCONFIRMED,
            f"{lost} and the re-read failed ({why}): whether it took effect is unknown; {again}",
        )
    if still or not (now.healthy or now.partner_sync_pending):
        shown = f"nodes still missing keys ({', '.join(still)})" if still else "the key manager not healthy"
        rec.note("reread", StepStatus.OK, f"{lost}; a re-read shows {shown}")
        return Outcome(
            ClusterOutcome.UNCONFIRMED,
            f"{lost} and a re-read shows {shown}: {again} (the cluster may still be applying it)",
        )
    rec.note("reread", StepStatus.OK, f"{lost}; a re-read shows every node with its keys")
    record_nodes(rec, missing, None)
    rec.remediated = bool(stale(missing))
    unproven = f"{lost}; a re-read shows every node with its keys (the passphrase is not recorded as proven)"
    problem = await verify_and_backup(client, km, now.version, rec, ctx.spec.backup_dir)
    if problem:  # a MetroCluster site waits for its partner's sync: verified again once it is done
        return Outcome(ClusterOutcome.PARTIAL, f"{SYNCED_BUT}{problem}; {unproven}")
    return Outcome(ClusterOutcome.SUCCEEDED, unproven)


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
        if outcome_unknown(exc):
            return await _settle_lost_create(ctx, cluster, rec, exc)
        if exc.code == C.OKM_FAILED_SOME_NODES:
            await mark_verified(ctx, rec, passphrase)
            return Outcome(ClusterOutcome.PARTIAL, f"{exc.message}")
        return Outcome(ClusterOutcome.FAILED, failure_reason(exc))
    await mark_verified(ctx, rec, passphrase)
    return Outcome(ClusterOutcome.SUCCEEDED)


async def _settle_lost_create(
    ctx: RunContext, cluster: Cluster, rec: ClusterRecorder, exc: OntapError
) -> Outcome:
    """The answer to the partner create was lost: read the site again rather than create again (a
    second POST on a site that has its key manager is refused, and is one more passphrase attempt)."""
    lost = f"the answer to the onboard key manager's creation was lost ({failure_reason(exc)})"
    try:
        now = await observe(ctx.client(cluster), rec)
    except (OntapError, NotThatCluster) as read_exc:
        why = rec.reread_failed(read_exc)
        return Outcome(
            ClusterOutcome.UNCONFIRMED,
            f"{lost} and the re-read failed ({why}): whether it took effect is unknown; not sent again",
        )
    if now.onboard and now.km_uuid is not None:
        rec.note("reread", StepStatus.OK, f"{lost}; a re-read shows the onboard key manager")
        unproven = (
            f"{lost}; a re-read shows the onboard key manager (the passphrase is not recorded as proven)"
        )
        client = ctx.client(cluster)
        try:  # as after an answered creation: every node with its keys, the status healthy
            still = stale(await missing_keys_by_node(client, now.km_uuid, now.version, rec))
            problem = await verify_and_backup(client, now.km_uuid, now.version, rec, ctx.spec.backup_dir)
        except OntapError as read_exc:
            return Outcome(
                ClusterOutcome.PARTIAL, f"{unproven}; its check failed: {failure_reason(read_exc)}"
            )
        if still:
            return Outcome(ClusterOutcome.PARTIAL, f"{unproven}; nodes missing keys: {', '.join(still)}")
        if problem:
            return Outcome(ClusterOutcome.PARTIAL, f"{SYNCED_BUT}{problem}; {unproven}")
        return Outcome(ClusterOutcome.SUCCEEDED, unproven)
    rec.note("reread", StepStatus.OK, f"{lost}; a re-read shows no onboard key manager")
    return Outcome(
        ClusterOutcome.UNCONFIRMED,
        f"{lost} and a re-read shows no onboard key manager yet: not sent again (the cluster may still be "
        "creating it); `fleet sync` again creates it if it is still missing",
    )
