"""``async with journaled(...)``: the intent is durable before the request, the outcome after.

Every mutation a step machine sends goes through here, so the rule is written once: the journal
records the intent (and, for a passphrase change, the passphrase the cluster may now have) before
the request leaves; afterwards the step is ``ok``, ``failed`` (ONTAP refused it: nothing changed),
or ``unknown`` (no usable answer, or a 5xx that a proxy or ONTAP may have sent after applying it).
A cancelled step keeps its open intent: ``fleet resume`` reconciles it, never re-sends it blindly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fleet.engine.steps.context import RunContext
from fleet.engine.steps.recorder import ClusterRecorder, StepHandle, refusal
from fleet.errors import FleetError, OntapError, OntapTransportError
from fleet.ontap import WouldSend
from fleet.outcomes import StepStatus
from fleet.secrets import Secret
from fleet.secrets.store import SecretStoreError


def outcome_unknown(exc: OntapError) -> bool:
    """May ONTAP have applied a mutation that ended in ``exc``?

    Yes after no usable answer to a request that was sent (timeout, reset), and after a 5xx without
    ONTAP's error code (a proxy or load balancer answering for a request ONTAP may have run). A
    definite ONTAP error body, 5xx included, is ONTAP's own word: the change was not made.
    """
    if isinstance(exc, OntapTransportError):
        return exc.sent
    return (exc.http_status or 0) >= 500 and exc.code is None


@asynccontextmanager
async def journaled(
    ctx: RunContext,
    rec: ClusterRecorder,
    unit_id: str,
    step: str,
    *,
    from_fp: str | None = None,
    to_fp: str | None = None,
    marks_pending: bool = False,
    detail: str | None = None,
) -> AsyncIterator[StepHandle]:
    """Journal and record one mutating step of ``rec``'s cluster around the request in the block.

    In a dry run nothing is journaled and nothing is sent: the step is noted and ``WouldSend``
    ends the unit's work right there, everything it read so far kept.
    """
    if ctx.spec.dry_run:
        change = f"from {from_fp} to {to_fp}" if from_fp and to_fp else f"with {to_fp}" if to_fp else None
        would = WouldSend(rec.cluster.name, step, "; ".join(part for part in (change, detail) if part))
        rec.note(step, StepStatus.SKIPPED, f"dry run: {would}")
        raise would
    step_id = await ctx.journal.begin_step(
        ctx.run_id,
        unit_id,
        rec.cluster.name,
        step,
        from_fp=from_fp,
        to_fp=to_fp,
        marks_pending=marks_pending,
        uuid=rec.uuid,
    )
    try:
        async with rec.step(step) as handle:
            handle.detail = detail
            yield handle
    except OntapError as exc:
        if outcome_unknown(exc):
            await ctx.journal.end_step(
                step_id, status=StepStatus.UNKNOWN, error_code=exc.code, detail=type(exc).__name__
            )
        else:
            await ctx.journal.end_step(step_id, status=StepStatus.FAILED, error_code=exc.code)
        raise
    except FleetError as exc:  # refused before sending (e.g. no passphrase for a sync)
        await ctx.journal.end_step(step_id, status=StepStatus.FAILED, detail=str(exc))
        raise
    await ctx.journal.end_step(step_id, status=StepStatus.OK)


async def mark_verified(ctx: RunContext, rec: ClusterRecorder, proven: Secret) -> None:
    """The cluster proved it holds ``proven``: journal it, record it, promote exactly it in the store.

    The store's promotion is a compare-and-swap: only the value the cluster proved becomes current.
    Anything else in ``pending`` (another run's candidate) is left as it is, and the unit fails loudly:
    fleet must never replace a passphrase some cluster may hold.
    """
    fingerprint = ctx.journal.fingerprint(proven)
    rec.passphrase_fingerprint = fingerprint
    await ctx.journal.mark_verified(rec.cluster.name, fingerprint, ctx.run_id, uuid=rec.uuid)
    if ctx.store is None:
        return
    promotion = await ctx.store.promote(rec.cluster.name, proven)
    if not promotion.stored:
        message = (
            f"{rec.cluster.name}: the cluster proved {fingerprint}, but the store's pending slot holds "
            f"another value ({promotion}); every slot was left as it is"
        )
        rec.note(
            "store_promote",
            StepStatus.FAILED,
            f"store left unchanged: {promotion}",
            error=refusal("store_pending", message),
        )
        raise SecretStoreError(message)
