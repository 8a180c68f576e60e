"""Nodes that miss keys: find them, sync them once with the passphrase the cluster has, check again.

After 65536407/65536408 (the passphrase changed, some nodes kept stale keys) and before a rotation
(a node already missing keys would be left further behind). ONTAP's error does not name the nodes,
so each node is asked (9.12+) and the answer goes into the report. One remediation sync with the
passphrase the cluster has; never a second guess. A sync needs ``onboard.synchronize`` (9.7+).
"""

from __future__ import annotations

from fleet.engine.steps.context import Outcome, RunContext
from fleet.engine.steps.journaled import outcome_unknown
from fleet.engine.steps.observe import Observed, missing_keys_by_node
from fleet.engine.steps.recorder import ClusterRecorder, error_info
from fleet.errors import OntapError
from fleet.ontap.releases import has
from fleet.outcomes import ClusterOutcome, StepStatus
from fleet.report import NodeRecord
from fleet.secrets import Secret

NodeCounts = list[tuple[str, str, int]]


def stale(counts: NodeCounts) -> list[str]:
    """The names of the nodes that miss keys."""
    return [name for name, _, missing in counts if missing]


def record_nodes(rec: ClusterRecorder, counts: NodeCounts, exc: OntapError | None) -> None:
    rec.nodes = [
        NodeRecord(name=name, uuid=uuid, keys_missing=n, error=error_info(exc) if exc and n else None)
        for name, uuid, n in counts
    ]


async def remediate_stale_nodes(
    ctx: RunContext,
    rec: ClusterRecorder,
    km: str,
    observed: Observed,
    exc: OntapError | None,
    passphrase: Secret,
    *,
    step: str = "remediate_sync",
    missing: NodeCounts | None = None,
) -> Outcome | None:
    """Sync the nodes that miss keys; ``None`` when every node has them now (the caller goes on).

    ``exc`` is the partial-change error that sent us here (None: found before any change).
    """
    client = ctx.client(rec.cluster)
    if missing is None:
        missing = await missing_keys_by_node(client, km, observed.version, rec)
    record_nodes(rec, missing, exc)
    why = exc.message if exc is not None else f"nodes missing keys: {', '.join(stale(missing))}."
    if not ctx.spec.remediate:
        return Outcome(ClusterOutcome.PARTIAL, f"{why} Remediation disabled (--no-remediate).")
    if not has(observed.version, "onboard.synchronize"):
        return Outcome(
            ClusterOutcome.PARTIAL,
            f"{why} ONTAP {observed.version_text} cannot sync keys over REST (onboard.synchronize: 9.7+); "
            "run `security key-manager onboard sync` on the cluster",
        )
    lost = ""
    try:
        async with rec.step(step) as handle:
            reply = await client.synchronize(km, passphrase=passphrase)
            handle.http_status = reply.status
    except OntapError as sync_exc:
        if not outcome_unknown(sync_exc) or not observed.at_least(12):
            return Outcome(ClusterOutcome.PARTIAL, f"{why} The remediation sync failed: {sync_exc.message}")
        # Its answer was lost: the nodes say whether it took effect; a second sync is not sent.
        lost = f" (the sync's answer was lost: {sync_exc.message})"
    try:
        still = stale(await missing_keys_by_node(client, km, observed.version, rec))
    except OntapError as read_exc:
        if not lost:
            raise
        return Outcome(
            ClusterOutcome.PARTIAL,
            f"{why} The remediation sync's answer was lost and the re-read failed: {read_exc.message}",
        )
    if still:
        return Outcome(
            ClusterOutcome.PARTIAL, f"nodes still missing keys after sync{lost}: {', '.join(still)}"
        )
    if lost:
        rec.note("reread", StepStatus.OK, f"every node has its keys{lost}")
    if not observed.at_least(12):
        # Before 9.12 ONTAP has no per-node key query; the status is all we can check.
        rec.note("per_node_check", StepStatus.SKIPPED, "per-node key state needs ONTAP 9.12 or later")
    rec.remediated = True
    return None
