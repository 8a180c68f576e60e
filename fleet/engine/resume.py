"""``fleet resume``: finish a run that was killed, interrupted, paused or aborted.

The run's options come back from the journal (secret *references* only, never values); the units
it did not finish are run again through the same step machines, which reconcile from the journal:
a unit with a change sent but never confirmed is probed once with the new passphrase, never sent
the rotation again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from fleet.engine.plans import build_rotation_plan, build_sync_plan, http_settings
from fleet.engine.rollout.settings import Rollout
from fleet.engine.run import RunPlan, UnitWork
from fleet.engine.steps.context import RunOptions
from fleet.engine.steps.sync import sync_work
from fleet.engine.work import rotate_work
from fleet.errors import InputError
from fleet.journal import Journal
from fleet.outcomes import FINISHED, RETRYABLE

log = structlog.get_logger("fleet.resume")


@dataclass(frozen=True, slots=True)
class ResumeRequest:
    run_id: str
    retry_failed: bool = False
    window_end: str | None = None


async def clusters_to_resume(journal: Journal, request: ResumeRequest) -> tuple[dict[str, Any], set[str]]:
    """The run's options and the clusters of the units still to do (or to retry)."""
    run = await journal.run(request.run_id)
    if run is None:
        raise InputError(f"no run {request.run_id!r} in the journal {journal.path}", field="RUN_ID")
    units = await journal.units(request.run_id)
    wanted = RETRYABLE if request.retry_failed else None
    todo: set[str] = set()
    for unit in units:
        pick = unit.status in wanted if wanted is not None else unit.status not in FINISHED | RETRYABLE
        if pick:
            todo.update(unit.clusters)
    options = dict(run.options)
    options["kind"] = run.kind
    options["inventory_digest"] = run.inventory_digest
    return options, todo


WORK_BY_KIND: dict[str, UnitWork] = {"rotate": rotate_work, "sync": sync_work}


async def resume_plan(journal: Journal, request: ResumeRequest) -> RunPlan:
    """Rebuild the plan of ``request.run_id`` for the clusters it still has to do."""
    options, todo = await clusters_to_resume(journal, request)
    kind = options["kind"]
    if not todo:
        raise InputError(f"run {request.run_id} has nothing left to do", field="RUN_ID")
    run_options = RunOptions(
        concurrency=int(options.get("concurrency") or 64),
        remediate=bool(options.get("remediate", True)),
        backup_dir=Path(options["backup_dir"]) if options.get("backup_dir") else None,
        cluster_deadline=options.get("cluster_deadline"),
        generated=options.get("new") == "generate",
        first_site=options.get("first_site"),
        rollout=Rollout.from_options(options, window_end=request.window_end),
    )
    http = http_settings(
        run_options.concurrency,
        int(options.get("per_cluster") or 2),
        float(options.get("timeout") or 30.0),
        options.get("cluster_deadline"),
        bool(options.get("insecure")),
    )
    report_options = {**{k: v for k, v in options.items() if k not in ("kind", "inventory_digest")}}
    report_options["resumed_from"] = request.run_id
    report_options["retry_failed"] = request.retry_failed
    inventory = Path(options["inventory"])
    if kind == "rotate":
        plan = await build_rotation_plan(
            journal,
            inventory_path=inventory,
            limit=options.get("limit"),
            current_ref=options.get("current"),
            new_ref=options["new"],
            store_spec=options.get("store"),
            options=run_options,
            http=http,
            report_options=report_options,
            only=todo,
            resumed_runs=await resume_chain(journal, request.run_id),
        )
    elif kind == "sync":
        plan = await build_sync_plan(
            journal,
            inventory_path=inventory,
            limit=options.get("limit"),
            passphrase_ref=options.get("passphrase"),
            options=run_options,
            http=http,
            report_options=report_options,
            only=todo,
        )
    else:
        raise InputError(f"runs of kind {kind!r} cannot be resumed", field="RUN_ID")
    # Same waves as the original run: units keep the wave they were assigned.
    plan.wave_of = {unit.unit_id: unit.wave for unit in await journal.units(request.run_id) if unit.wave}
    if options.get("inventory_digest") and plan.inventory.digest != options["inventory_digest"]:
        log.warning(
            "the inventory changed since the run started; resuming with the current one", run=request.run_id
        )
    return plan


async def resume_chain(journal: Journal, run_id: str) -> frozenset[str]:
    """``run_id`` and every run it resumed, back to the original run."""
    chain: set[str] = set()
    current: str | None = run_id
    while current and current not in chain:
        chain.add(current)
        run = await journal.run(current)
        current = run.options.get("resumed_from") if run is not None else None
    return frozenset(chain)
