"""One run from start to report: record it, admit units, run their step machines, account for every cluster.

The CLI hands a ``RunPlan`` here (``plans.build_plan`` turns a ``RunSpec`` into one); this module
never reads the command line and never prints. It owns the run's life in the journal, from
``create_run`` to ``finish_run``, and the final report, so a library caller gets finished runs too.
Every selected cluster ends in the report with an outcome: finished, refused, never started, or
interrupted mid-flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

from fleet.engine.audit import this_run
from fleet.engine.cluster_log import ClusterLog
from fleet.engine.leases import CHANGING, busy_reason, give_back, holder_of, renewing, take_unit
from fleet.engine.lineage import change_of
from fleet.engine.plans import RunPlan
from fleet.engine.rollout.events import EventsObserver
from fleet.engine.rollout.runner import RolloutResult, RunObserver, Stop, WaveResult, run_waves
from fleet.engine.rollout.units import Unit, build_units
from fleet.engine.rollout.waves import assign_waves, group_by_wave
from fleet.engine.steps.context import Concludes, RunContext, RunState, UnitWork
from fleet.engine.steps.recorder import ClusterRecorder, error_info
from fleet.errors import FleetError
from fleet.inventory import Cluster
from fleet.journal import Journal, JournalError, LeaseHolder
from fleet.ontap import open_http
from fleet.outcomes import FAILURE, HALTED, ClusterOutcome, ExitCode, RunOutcome, StepStatus, UnitOutcome
from fleet.report import ClusterRecord, Report, RunInfo, WaveRecord, build_report, write_report
from fleet.secrets import SCRUBBER
from fleet.secrets.store import CheckOnly, SecretStore, SecretStoreError

log = structlog.get_logger("fleet.run")

INTERRUPT_GRACE_SECONDS = 10.0
ReportPlace = Callable[[Report], Path]
"""Where a finished run's report goes, chosen once its id is known (``reports/<run-id>.json``)."""


@dataclass(frozen=True, slots=True)
class FinishedRun:
    report: Report
    path: Path | None  # where the report was written (None: not written, the caller keeps it)


async def execute(
    plan: RunPlan,
    work: UnitWork,
    *,
    observers: Sequence[RunObserver] = (),
    stop: asyncio.Event | None = None,
    abort: asyncio.Event | None = None,
    report_to: ReportPlace | None = None,
) -> FinishedRun:
    """Run ``work`` over every unit of the plan: the run is recorded, finished and its report written.

    Unit work that ``Concludes`` (the policy commands) has the last word on the report before it is
    written. ``stop`` set once stops admitting units; in-flight ones get a grace period, which
    ``abort`` (a second signal) cuts short. Either way the run ends here, with its report: the
    caller's task is never cancelled, so nothing is left half-written.
    """
    # The inventory, secrets and plan live until the end: keep the cyclic collector from walking
    # them again at every full collection (4% of a 1,000-cluster rotation's CPU).
    gc.freeze()
    SCRUBBER.prepare()
    try:
        report, run_id = await _run(plan, work, observers, stop or asyncio.Event(), abort or asyncio.Event())
        if isinstance(work, Concludes):
            report = work.conclude(report)
        if plan.spec.resumed_from is not None:  # one record per change: the whole lineage's outcome
            change = await change_of(plan.journal, run_id, current=report)
            report = report.model_copy(update={"change": change})
        path = await asyncio.to_thread(write_report, report, report_to(report)) if report_to else None
        try:
            await plan.journal.finish_run(
                run_id,
                outcome=report.run.outcome,
                exit_code=report.run.exit_code,
                # absolute: `fleet report show RUN` reads it from any folder (a resume runs anywhere)
                report_path=str(path.absolute()) if path is not None else None,
                stop_reason=report.run.stop_reason,
            )
        except JournalError as exc:  # the report is written and says what happened; the run stands
            log.error("the run's end could not be recorded in the journal", error=str(exc))
    finally:
        gc.unfreeze()  # a library caller may run again in this process: let that memory go
    return FinishedRun(report, path)


async def _run(
    plan: RunPlan, work: UnitWork, observers: Sequence[RunObserver], stop: asyncio.Event, abort: asyncio.Event
) -> tuple[Report, str]:
    rollout = plan.rollout
    spec = plan.spec
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    units = plan.units if plan.units is not None else build_units(plan.clusters)
    wave_of = plan.wave_of if plan.wave_of is not None else assign_waves(units, rollout.waves)
    interrupted = False
    result: RolloutResult | None = None
    with ExitStack() as resources:
        events = None
        if rollout.events_path is not None:  # opened first: a path that cannot be written touches nothing
            events = resources.enter_context(EventsObserver(rollout.events_path, clock=rollout.clock))
            observers = [*observers, events]
        audit = this_run(spec.change_id)
        run_id = await plan.journal.create_run(
            kind=spec.kind,
            options=spec.options(),
            inventory_path=";".join(str(path) for path in plan.inventory.sources),
            inventory_digest=plan.inventory.digest,
            **audit.fields(),
        )
        await plan.journal.add_units(
            run_id, [(unit.id, list(unit.names), wave_of.get(unit.id)) for unit in units]
        )
        structlog.contextvars.bind_contextvars(run_id=run_id)
        state = RunState(
            wave_of={name: wave_of[unit.id] for unit in units if unit.id in wave_of for name in unit.names}
        )
        observers = [*observers, ClusterLog(state)]
        if events is not None:
            events.run_started(run_id, spec.kind, group_by_wave(units, wave_of), audit=audit.fields())
        leasing = spec.kind in CHANGING and not spec.dry_run  # a dry run never makes a real run busy
        asking = spec.kind in CHANGING and spec.dry_run  # but it reports the clusters real runs hold
        holding = renewing(plan.journal, run_id) if leasing else contextlib.nullcontext()
        async with open_http(plan.http) as pool, holding:
            ctx = RunContext(
                run_id=run_id,
                spec=spec,
                pool=pool,
                journal=plan.journal,
                secrets=plan.secrets,
                store=_store_of(plan),
                planned_at=plan.planned_at,
                under_way=plan.under_way,
                in_ledger=set(await plan.journal.ledger_names()),
            )

            async def run_one(unit: Unit) -> UnitOutcome:
                # What the unit's work logs names the unit (and its cluster, unless it is a pair).
                with structlog.contextvars.bound_contextvars(**_log_context(unit)):
                    return await unit_steps(unit)

            async def unit_steps(unit: Unit) -> UnitOutcome:
                await plan.journal.set_unit(run_id, unit.id, status="running")
                holders = await _holders(plan.journal, run_id, unit, leasing=leasing, asking=asking)
                if holders:
                    for cluster in unit.clusters:
                        holder = holders.get(cluster.name) or next(iter(holders.values()))
                        rec = state.recorder(cluster)
                        state.records[cluster.name] = rec.finish(ClusterOutcome.BUSY, busy_reason(holder))
                    await plan.journal.set_unit(run_id, unit.id, status=ClusterOutcome.BUSY)
                    return ClusterOutcome.BUSY
                if leasing:  # another run may have written to the ledger since this run began
                    ctx.in_ledger |= await plan.journal.ledger_names()
                # --cluster-deadline bounds each site's work; a pair gets one deadline per site.
                deadline = spec.cluster_deadline
                try:
                    async with asyncio.timeout(deadline * len(unit.clusters) if deadline else None):
                        await work(ctx, unit, state)
                finally:
                    await ctx.release(unit)
                    if leasing:
                        await give_back(plan.journal, run_id, unit)
                outcome = unit_outcome(unit, state)
                await plan.journal.set_unit(run_id, unit.id, status=outcome)
                return outcome

            def on_error(unit: Unit, exc: Exception) -> UnitOutcome:
                outcome = ClusterOutcome.FAILED
                if isinstance(exc, TimeoutError):
                    reason = "the cluster deadline passed; `fleet resume` reconciles any change in flight"
                elif isinstance(exc, JournalError):
                    log.error("journal failed", unit=unit.id, error=str(exc))
                    ctx.journal_failure = ctx.journal_failure or str(exc)  # halts the run
                    outcome = ClusterOutcome.INTERRUPTED
                    reason = (
                        f"in flight when the journal failed ({exc}): a change already sent may be in "
                        "place without a record; `fleet resume` reconciles it once the journal is restored"
                    )
                elif isinstance(exc, SecretStoreError):
                    log.error("secret store failed", unit=unit.id, error=str(exc))
                    reason = f"the secret store failed, so nothing more was sent: {exc}"
                elif isinstance(exc, FleetError):
                    reason = str(exc)
                else:
                    log.error("unit crashed", unit=unit.id, error=f"{type(exc).__name__}: {exc}")
                    reason = f"internal error: {type(exc).__name__}"
                error = error_info(exc)  # deadline, store, journal: their own keys; anything else is a bug
                for cluster in unit.clusters:
                    if cluster.name in state.records:
                        continue
                    rec = state.recorders.get(cluster.name) or state.recorder(cluster)
                    if not any(step.error for step in rec.steps):  # the step it broke in recorded it
                        rec.note("unit", StepStatus.FAILED, reason, error=error)
                    state.records[cluster.name] = rec.finish(outcome, reason)
                return outcome

            by_id = {unit.id: unit for unit in units}

            def explain(unit_id: str) -> str:
                """The reason of the unit's first failed cluster, for the question between waves."""
                for name in by_id[unit_id].names:
                    record = state.records.get(name)
                    if record is not None and record.outcome in FAILURE:
                        return record.reason or record.outcome
                return "failed"

            runner = asyncio.create_task(
                run_waves(
                    units,
                    run_one,
                    concurrency=spec.concurrency,
                    on_error=on_error,
                    observers=observers,
                    stop=stop,
                    rollout=rollout,
                    wave_of=wave_of,
                    halt=ctx.halted,
                    explain=explain,
                )
            )
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if not runner.done():
                interrupted = True
                log.warning("stop requested: admitting no more units, letting in-flight ones finish")
                await _grace_then_cancel(runner, abort)
            stopper.cancel()
            if runner.done() and not runner.cancelled():
                failure = runner.exception()
                if failure is not None:
                    raise failure
                result = runner.result()
            interrupted = interrupted or stop.is_set()
        halt = None if interrupted or result is None else result.stop
        if halt is not None:
            log.warning("run stopped early", reason=halt.message)
        clusters = _clusters_of(plan.clusters, units)
        records = account_for_every_cluster(
            clusters,
            state,
            interrupted=interrupted,
            not_started_reason=_not_started_reason(halt, run_id),
            retries=ctx.retries,
            requests=ctx.requests_sent,
        )
        finished_at = datetime.now(UTC)
        outcome, exit_code = run_outcome(records, interrupted=interrupted, halted=halt.kind if halt else None)
        run = RunInfo(
            id=run_id,
            kind=spec.kind,
            started_at=started_at,
            finished_at=finished_at,
            outcome=outcome,
            exit_code=exit_code,
            fleet_version=audit.fleet_version,
            inventory=";".join(str(path) for path in plan.inventory.sources),
            options=spec.options(),
            stop_reason="interrupted by signal" if interrupted else (halt.message if halt else None),
            operator=audit.operator,
            host=audit.host,
            change_id=audit.change_id,
        )
        waves = [wave_record(wave) for wave in result.waves] if result is not None else []
        report = build_report(run, records, list(state.pairs.values()), waves)
        if events is not None:
            events.run_finished(report)
    log.info("run finished", outcome=outcome, seconds=round(time.perf_counter() - started, 3))
    return report, run_id


def _store_of(plan: RunPlan) -> SecretStore | None:
    """The run's secret store; a dry run's only reads it, and checks each write the real run makes."""
    if plan.store is None or not plan.spec.dry_run:
        return plan.store
    return CheckOnly(plan.store)


async def _holders(
    journal: Journal, run_id: str, unit: Unit, *, leasing: bool, asking: bool
) -> dict[str, LeaseHolder]:
    """The other runs holding the unit's clusters: after taking its leases (a real run), or asked
    without taking any (a dry run); none when the run kind takes no lease."""
    if leasing:
        return await take_unit(journal, run_id, unit)
    return await holder_of(journal, unit) if asking else {}


def _log_context(unit: Unit) -> dict[str, str]:
    return {"unit": unit.id, "cluster": unit.names[0]} if len(unit.names) == 1 else {"unit": unit.id}


async def _grace_then_cancel(runner: asyncio.Task[RolloutResult], abort: asyncio.Event) -> None:
    """Let in-flight units finish for the grace period, or until ``abort``; then cancel the rest."""
    aborter = asyncio.create_task(abort.wait())
    try:
        await asyncio.wait(
            {runner, aborter}, timeout=INTERRUPT_GRACE_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        aborter.cancel()
    if not runner.done():
        if abort.is_set():
            log.warning("stop requested again: stopping in-flight units now")
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


def wave_record(wave: WaveResult) -> WaveRecord:
    return WaveRecord(
        index=wave.index,
        size=len(wave.units),
        units=list(wave.units),
        started_at=wave.started_at,
        finished_at=wave.finished_at,
        outcome=wave.outcome,
        failures=wave.failures,
    )


def _clusters_of(clusters: Sequence[Cluster], units: Sequence[Unit]) -> list[Cluster]:
    """The clusters the units cover, in inventory order (a resumed run may run fewer than selected)."""
    names = {name for unit in units for name in unit.names}
    return [cluster for cluster in clusters if cluster.name in names]


def _not_started_reason(halt: Stop | None, run_id: str) -> str | None:
    if halt is None:
        return None
    return f"not started: {halt.message}; `fleet resume {run_id}` continues the run"


#: A unit without a pair record (a MetroCluster pair in ``sync`` or ``apply``) ends as its worse site.
WORST_FIRST = (
    ClusterOutcome.INTERRUPTED,
    ClusterOutcome.SPLIT,
    ClusterOutcome.UNCONFIRMED,
    ClusterOutcome.FAILED,
    ClusterOutcome.REFUSED,
    ClusterOutcome.PARTIAL,
    ClusterOutcome.BUSY,
    ClusterOutcome.NOT_STARTED,
    ClusterOutcome.PLANNED,
    ClusterOutcome.SKIPPED,
    ClusterOutcome.SUCCEEDED,
    ClusterOutcome.ALREADY_CURRENT,
)


def unit_outcome(unit: Unit, state: RunState) -> UnitOutcome:
    """A unit's outcome: its pair's record, else its worse site's (a pair changed on one site and
    not the other is not done: budgets count it, ``fleet resume --retry-failed`` runs it again)."""
    pair = state.pairs.get(unit.id)
    if pair is not None:
        return pair.outcome
    if any(cluster.name not in state.records for cluster in unit.clusters):
        return ClusterOutcome.FAILED
    outcomes = {state.records[cluster.name].outcome for cluster in unit.clusters}
    return next(outcome for outcome in WORST_FIRST if outcome in outcomes)


def account_for_every_cluster(
    clusters: Sequence[Cluster],
    state: RunState,
    *,
    interrupted: bool,
    not_started_reason: str | None = None,
    retries: Callable[[str], dict[str, int]] | None = None,
    requests: Callable[[str], int] | None = None,
) -> list[ClusterRecord]:
    """One record per selected cluster, in inventory order, with its wave: nothing silently dropped.

    ``retries`` gives what each cluster's client sent again after a transient answer, ``requests``
    how many requests it sent in all. Both are added here, once, whatever way the cluster's work
    ended (a step machine's own finish, a unit that raised, the deadline, an interruption), so no
    way of ending can leave them out: an interrupted cluster's requests were once counted as 0.
    """
    records = []
    for cluster in clusters:
        record = state.records.get(cluster.name)
        if record is None:
            rec = state.recorders.get(cluster.name)
            if rec is not None:
                record = rec.finish(
                    ClusterOutcome.INTERRUPTED,
                    "the run stopped while this cluster was in flight; `fleet resume` reconciles it",
                )
            else:
                reason = "the run stopped before this cluster was started" if interrupted else None
                record = ClusterRecorder(cluster).finish(
                    ClusterOutcome.NOT_STARTED, reason or not_started_reason
                )
        update: dict[str, object] = {}
        wave = state.wave_of.get(cluster.name)
        if record.wave is None and wave is not None:
            update["wave"] = wave
        sent_again = retries(cluster.name) if retries is not None else None
        if sent_again:
            update["retries"] = sent_again
        sent = requests(cluster.name) if requests is not None else 0
        if sent > record.requests:
            update["requests"] = sent
        records.append(record.model_copy(update=update) if update else record)
    return records


def run_outcome(
    records: Sequence[ClusterRecord], *, interrupted: bool, halted: str | None = None
) -> tuple[RunOutcome, ExitCode]:
    """The run's outcome and exit code; ``halted`` is the rollout stop's kind (budget, window, declined)."""
    if interrupted:
        return RunOutcome.INTERRUPTED, ExitCode.INTERRUPTED
    if halted is not None:
        return HALTED[halted]
    if any(record.outcome in FAILURE for record in records):
        return RunOutcome.FAILED, ExitCode.FAILED
    return RunOutcome.SUCCEEDED, ExitCode.OK
