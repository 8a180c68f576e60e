"""Never guess twice: what the passphrase ledger allows to be sent to a cluster, and what it remembers.

Every passphrase fleet sends can be a wrong attempt, and Common Criteria mode locks a cluster after
a few (ontap-notes §10). So before any candidate leaves, the journal is asked: a candidate this
cluster already refused is never sent again; a candidate other than the one the journal last
verified on this cluster is a stale reference and is not sent; and no cluster gets more than one
wrong attempt per 24 hours across runs (``--allow-attempt`` overrides that one rule, loudly).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog

from fleet.engine.steps.context import RunContext
from fleet.engine.steps.recorder import ClusterRecorder, refusal
from fleet.journal import ClusterFp
from fleet.outcomes import StepStatus
from fleet.secrets import Secret

log = structlog.get_logger("fleet.ledger")


class Unknown:
    """Not read yet (``None`` already means "the journal knows nothing of this cluster")."""


UNKNOWN = Unknown()

ATTEMPT_WINDOW = timedelta(hours=24)


async def refuse_to_send(
    ctx: RunContext,
    rec: ClusterRecorder,
    candidate: Secret,
    *,
    role: str,
    known: ClusterFp | Unknown | None = UNKNOWN,
) -> str | None:
    """Why ``candidate`` must not be sent to ``rec``'s cluster (recorded on its row), or None.

    ``known`` is the journal's cluster state when the caller has just read it (saves a read).
    """
    journal, name, uuid = ctx.journal, rec.cluster.name, rec.uuid
    fingerprint = journal.fingerprint(candidate)
    if isinstance(known, Unknown):
        known = await journal.cluster_state(name, uuid=uuid)
    if known is not None and known.current_fp == fingerprint:
        return None  # proven on this cluster: it cannot be a wrong attempt
    history = name in ctx.in_ledger  # most clusters have no ledger row: no query for them
    reason = rule = None
    if history and await journal.was_refused(name, fingerprint, uuid=uuid):
        rule = "refused_before"
        reason = f"the cluster already refused this {role} passphrase ({fingerprint}); it is never sent again"
    elif known is not None and known.current_fp is not None and role != "new":
        rule = "stale_reference"
        reason = (
            f"stale reference: the journal verified {known.current_fp} on this cluster, "
            f"the {role} reference gives {fingerprint}; not sent"
        )
    elif history and await journal.wrong_attempts(name, since=datetime.now(UTC) - ATTEMPT_WINDOW, uuid=uuid):
        if ctx.spec.allow_attempt:
            log.warning(
                "a second wrong-passphrase risk within 24 h, allowed by --allow-attempt", cluster=name
            )
            return None
        rule = "attempt_24h"
        reason = (
            "a wrong passphrase was already tried on this cluster within 24 hours: at most one attempt per "
            "day (Common Criteria lockout); `--allow-attempt` overrides"
        )
    if reason is not None and rule is not None:
        rec.note("ledger", StepStatus.SKIPPED, reason, error=refusal(rule, reason))
    return reason


async def refused(
    ctx: RunContext, rec: ClusterRecorder, candidate: Secret, *, code: int | None, probe: bool = False
) -> None:
    """The cluster refused ``candidate`` as wrong: remembered across runs, never sent again.

    ``probe``: the refusal answered fleet's one reconciliation probe (the lost change is not in
    place); it is not a guess at the passphrase, so it neither counts toward the run-wide stop nor
    toward the one-wrong-attempt-a-day rule.
    """
    if not probe:
        ctx.refused_by.add(rec.cluster.name)
    ctx.in_ledger.add(rec.cluster.name)
    await ctx.journal.record_refusal(
        rec.cluster.name,
        ctx.journal.fingerprint(candidate),
        code=code,
        run_id=ctx.run_id,
        uuid=rec.uuid,
        probe=probe,
    )
