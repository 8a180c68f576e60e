"""Rotate one unit: pre-check a standalone cluster, then run its step machine.

MetroCluster pairs are sequenced in ``pair.py``; here a cluster that ONTAP says is in a
MetroCluster but the inventory pairs with nobody is refused: rotating one site alone is the
failure a pair must never have.
"""

from __future__ import annotations

from fleet.engine.context import RunContext
from fleet.engine.observe import Observed, observe
from fleet.engine.recorder import ClusterRecorder
from fleet.engine.rotate import ClusterRotation, Outcome
from fleet.errors import OntapError, OntapTransportError
from fleet.inventory import Cluster
from fleet.report import ClusterRecord

NO_PASSPHRASE = (
    "no passphrase reference for this cluster (no --current, no vars.okm_passphrase in the inventory); "
    "not contacted"
)


def precheck_single(cluster: Cluster, observed: Observed) -> Outcome | None:
    """Why this standalone cluster must not be rotated, or None when it may."""
    if observed.km_uuid is None:
        return Outcome("skipped", "no cluster-scope key manager is configured")
    if not observed.onboard:
        kind = "an external key manager (KMIP)" if observed.external else "no onboard key manager"
        return Outcome("skipped", f"the cluster uses {kind}; OKM passphrase rotation does not apply")
    mcc = observed.metrocluster
    if mcc is not None and mcc.configured:
        return Outcome(
            "failed",
            f"ONTAP reports a MetroCluster partner ({mcc.remote_name or 'unknown'}) that the inventory "
            "does not name; refused so the two sites are never rotated independently",
        )
    if not observed.healthy:
        return Outcome(
            "failed",
            f"the key manager is not healthy (status {observed.status_code}: {observed.status_message}); "
            "nothing was changed",
        )
    return None


async def rotate_single(
    ctx: RunContext, cluster: Cluster, unit_id: str, rec: ClusterRecorder
) -> ClusterRecord:
    """Always returns the cluster's record: an error becomes a failed row with the failing step."""
    try:
        outcome = await _rotate_single(ctx, cluster, unit_id, rec)
    except OntapError as exc:
        outcome = Outcome("failed", failure_reason(exc))
    return rec.finish(outcome.outcome, outcome.reason, requests=ctx.requests_sent(cluster.name))


def failure_reason(exc: OntapError) -> str:
    """A one-line reason for the report from an error that ended a cluster's work."""
    if isinstance(exc, OntapTransportError):
        return f"no usable answer from the cluster: {exc.message}"
    if exc.http_status == 401:
        return "authentication failed (HTTP 401): check the inventory's username and password"
    return exc.message if exc.code is None else f"{exc.message} (ONTAP code {exc.code})"


async def _rotate_single(ctx: RunContext, cluster: Cluster, unit_id: str, rec: ClusterRecorder) -> Outcome:
    if ctx.secrets[cluster.name].current is None:
        rec.note("precheck", "skipped", NO_PASSPHRASE)
        return Outcome("skipped", NO_PASSPHRASE)
    observed = await observe(ctx.client(cluster), rec)
    refusal = precheck_single(cluster, observed)
    if refusal is not None:
        rec.note("precheck", "skipped" if refusal.outcome == "skipped" else "failed", refusal.reason)
        return refusal
    return await ClusterRotation(ctx, cluster, rec, unit_id).run(observed)
