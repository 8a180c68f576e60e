"""65536407 and its kin: the passphrase changed, some nodes kept stale keys. Find them, sync, recheck.

ONTAP's error does not name the nodes, so each node is asked (9.12+) and the answer goes into the
report. One remediation sync with the passphrase the cluster now has; never a second guess.
"""

from __future__ import annotations

from fleet.engine.steps.checks import missing_keys_by_node
from fleet.engine.steps.context import Outcome, RunContext
from fleet.engine.steps.observe import Observed
from fleet.engine.steps.recorder import ClusterRecorder, error_info
from fleet.errors import OntapError
from fleet.outcomes import ClusterOutcome, StepStatus
from fleet.report import NodeRecord
from fleet.secrets import Secret


async def remediate_stale_nodes(
    ctx: RunContext, rec: ClusterRecorder, km: str, observed: Observed, exc: OntapError, passphrase: Secret
) -> Outcome | None:
    """Sync the nodes that miss keys; ``None`` when every node has them now (the caller verifies)."""
    client = ctx.client(rec.cluster)
    missing = await missing_keys_by_node(client, km, observed, rec)
    rec.nodes = [
        NodeRecord(name=name, uuid=uuid, keys_missing=count, error=error_info(exc) if count else None)
        for name, uuid, count in missing
    ]
    if not ctx.spec.remediate:
        return Outcome(ClusterOutcome.PARTIAL, f"{exc.message} Remediation disabled (--no-remediate).")
    try:
        async with rec.step("remediate_sync") as step:
            reply = await client.synchronize(km, passphrase=passphrase)
            step.http_status = reply.status
    except OntapError as sync_exc:
        return Outcome(
            ClusterOutcome.PARTIAL, f"{exc.message} The remediation sync failed: {sync_exc.message}"
        )
    still = await missing_keys_by_node(client, km, observed, rec)
    stale = [name for name, _, count in still if count]
    if stale:
        return Outcome(ClusterOutcome.PARTIAL, f"nodes still missing keys after sync: {', '.join(stale)}")
    if not observed.at_least(12):
        # Before 9.12 ONTAP has no per-node key query; the status is all we can check.
        rec.note("per_node_check", StepStatus.SKIPPED, "per-node key state needs ONTAP 9.12 or later")
    rec.remediated = True
    return None
