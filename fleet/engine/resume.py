"""``fleet resume``: finish a run that was killed, interrupted, paused or aborted.

The run's ``RunSpec`` comes back whole from the journal (secret *references* only, never values,
every path absolute), so a resume from another directory or another day does what the run was
asked to do. The units it did not finish are run again through the same step machines, which
reconcile from the journal: a unit with a change sent but never confirmed is probed once with the
new passphrase, never sent the rotation again. A run still under way in its own process (its hold
live, its pid alive if on this host) is not resumed: ``RunStillRunning``, exit 2, nothing sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from fleet.engine.lineage import latest_of_lineage, resume_chain
from fleet.engine.plans import RunPlan, build_plan
from fleet.engine.rollout.settings import ConfirmWave
from fleet.engine.rollout.window import Clock, parse_window_end, utc_now
from fleet.engine.spec import RunSpec
from fleet.engine.work import recorded_policy
from fleet.errors import InputError
from fleet.journal import Journal, RunStillRunning
from fleet.ontap import HttpSettings
from fleet.outcomes import FINISHED, RETRYABLE, RunKind, RunOutcome

log = structlog.get_logger("fleet.resume")

RESUMABLE = frozenset({RunKind.ROTATE, RunKind.SYNC, RunKind.APPLY})


@dataclass(frozen=True, slots=True)
class ResumeRequest:
    run_id: str
    retry_failed: bool = False
    window_end: str | None = None  # a new window for tonight (HH:MM or ISO 8601)
    no_window: bool = False  # a run paused by its window goes on without one (said explicitly)
    night: Mapping[str, Any] = field(default_factory=dict)  # tonight's NIGHT_OPTIONS (None: recorded)


async def resume_spec(
    journal: Journal, request: ResumeRequest, *, clock: Clock = utc_now
) -> tuple[RunSpec, set[str]]:
    """The run's spec, marked as resumed, and the clusters of the units still to do (or to retry)."""
    run = await journal.run(request.run_id)
    if run is None:
        raise InputError(f"no run {request.run_id!r} in the journal {journal.path}", field="RUN_ID")
    if run.kind not in RESUMABLE:
        raise InputError(f"runs of kind {run.kind!r} cannot be resumed", field="RUN_ID")
    if run.options.get("dry_run"):
        raise InputError(
            f"run {request.run_id} was a dry run: run the command again without --dry-run", field="RUN_ID"
        )
    latest = await latest_of_lineage(journal, request.run_id)
    if latest != request.run_id:
        raise InputError(
            f"run {request.run_id} was already resumed; resume the latest run of this change instead: "
            f"`fleet resume {latest}` (nothing was started)",
            field="RUN_ID",
        )
    hold = await journal.live_hold(request.run_id)  # before any secret is read; create_run decides
    if hold is not None:
        raise RunStillRunning(hold)
    spec = RunSpec.from_journal(run.kind, run.options)
    if run.kind == RunKind.APPLY:
        recorded_policy(spec, request.run_id)  # refused before any secret is read
    paused_by_window = run.outcome == RunOutcome.PAUSED and "change window" in (run.stop_reason or "")
    if paused_by_window and request.window_end is None and not request.no_window:
        raise InputError(
            f"run {request.run_id} was paused by its change window: give tonight's window with "
            "--window-end, or --no-window to go on without one (nothing was started)",
            field="--window-end",
        )
    wanted = RETRYABLE if request.retry_failed else None
    todo: set[str] = set()
    for unit in await journal.units(request.run_id):
        pick = unit.status in wanted if wanted is not None else unit.status not in FINISHED | RETRYABLE
        if pick:
            todo.update(unit.clusters)
    if not todo:
        raise InputError(f"run {request.run_id} has nothing left to do", field="RUN_ID")
    resumed = spec.tonight(request.night).model_copy(
        update={
            "resumed_from": request.run_id,
            "retry_failed": request.retry_failed,
            "window_end": None
            if request.no_window
            else tonight_window(spec.window_end, request.window_end, now=clock()),
        }
    )
    return resumed, todo


def tonight_window(recorded: datetime | None, given: str | None, *, now: datetime) -> datetime | None:
    """A resumed run's window end: the one given now, else the recorded one while it is ahead.

    A window is one night's: a recorded end that has already passed is dropped rather than pausing
    the resumed run at once (give ``--window-end`` again to bound the next night).
    """
    if given is not None:
        return parse_window_end(given, now=now)
    if recorded is not None and recorded <= now:
        return None
    return recorded


async def resume_plan(
    journal: Journal,
    request: ResumeRequest,
    *,
    confirm_next_wave: ConfirmWave | None = None,
    http: HttpSettings | None = None,
) -> RunPlan:
    """Rebuild the plan of ``request.run_id`` for the clusters it still has to do, in their waves.

    A run that pauses between waves asks again tonight: without someone to ask
    (``confirm_next_wave``) it is refused before anything is sent.
    """
    spec, todo = await resume_spec(journal, request)
    if spec.pause_between_waves and confirm_next_wave is None:
        raise InputError(
            f"run {request.run_id} pauses between waves: resume it on a terminal to be asked, "
            "or give --yes (nothing was started)",
            field="--pause-between-waves",
        )
    plan = await build_plan(
        spec,
        journal,
        rollout=spec.rollout(confirm_next_wave=confirm_next_wave),
        http=http,
        only=todo,
        resumed_runs=frozenset(run.id for run in await resume_chain(journal, request.run_id)),
    )
    # Same waves as the original run: units keep the wave they were assigned.
    plan.wave_of = {unit.unit_id: unit.wave for unit in await journal.units(request.run_id) if unit.wave}
    run = await journal.run(request.run_id)
    if run is not None and run.inventory_digest and plan.inventory.digest != run.inventory_digest:
        log.warning(
            "the inventory changed since the run started; resuming with the current one", run=request.run_id
        )
    return plan
