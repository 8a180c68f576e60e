"""A change's lineage: the run that started it and the resumes that continued it, as the journal
records them (each resumed run's spec names the run it resumed).

``fleet resume`` uses it to resume exactly once; a resumed run's report and ``fleet report show``
use it to show the whole change as one record.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fleet.errors import InputError
from fleet.journal import Journal, RunRow
from fleet.report import Report, load_report
from fleet.report.change import RunPart, consolidate
from fleet.report.model import Change


async def resumed_by(journal: Journal) -> dict[str, str]:
    """run id → the run that resumed it (the first resume wins; a later one was refused)."""
    children: dict[str, str] = {}
    for row in reversed(await journal.runs()):  # oldest first
        parent = row.options.get("resumed_from")
        if isinstance(parent, str):
            children.setdefault(parent, row.id)
    return children


async def latest_of_lineage(journal: Journal, run_id: str) -> str:
    """The newest run that continues ``run_id`` (itself when nothing resumed it): resume exactly once."""
    children = await resumed_by(journal)
    latest, seen = run_id, {run_id}
    while latest in children and children[latest] not in seen:
        latest = children[latest]
        seen.add(latest)
    return latest


async def resume_chain(journal: Journal, run_id: str) -> list[RunRow]:
    """``run_id`` and every run it resumed, back to the original run: oldest first."""
    chain: list[RunRow] = []
    seen: set[str] = set()
    current: str | None = run_id
    while current and current not in seen:
        seen.add(current)
        run = await journal.run(current)
        if run is None:
            break
        chain.append(run)
        parent = run.options.get("resumed_from")
        current = parent if isinstance(parent, str) else None
    return chain[::-1]


async def lineage(journal: Journal, run_id: str) -> list[RunRow]:
    """Every run of the change ``run_id`` belongs to, oldest first, whichever of them is named."""
    return await resume_chain(journal, await latest_of_lineage(journal, run_id))


async def change_of(journal: Journal, run_id: str, *, current: Report | None = None) -> Change | None:
    """The whole change ``run_id`` belongs to (None: a run nobody resumed and that resumed nothing).

    ``current`` is the report of a run still finishing (not yet on disk). A run whose report is
    gone or unreadable counts from the journal's unit rows, and the change says so.
    """
    runs = await lineage(journal, run_id)
    if len(runs) < 2:
        return None
    parts: list[RunPart] = []
    for row in runs:
        report = current if current is not None and current.run.id == row.id else await _report_of(row)
        units = [(unit.clusters, unit.status) for unit in await journal.units(row.id)]
        parts.append(RunPart(row.id, report, units))
    return consolidate(parts)


async def newest_report(runs: list[RunRow]) -> tuple[Report, Path] | None:
    """The newest readable report of ``runs`` (oldest first), and where it is."""
    for row in reversed(runs):
        report = await _report_of(row)
        if report is not None and row.report_path:
            return report, Path(row.report_path)
    return None


async def _report_of(row: RunRow) -> Report | None:
    if not row.report_path:
        return None
    try:
        return await asyncio.to_thread(load_report, Path(row.report_path))
    except InputError:
        return None
