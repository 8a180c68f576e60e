"""``fleet runs`` lists what the journal remembers; ``fleet resume`` finishes a run."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from fleet import aio
from fleet.cli import options
from fleet.cli.app import main
from fleet.cli.run_support import default_report_to, fail_input, run_and_exit
from fleet.engine.plans import RunPlan
from fleet.engine.resume import ResumeRequest, resume_plan
from fleet.engine.rollout.window import parse_window_end, utc_now
from fleet.errors import InputError
from fleet.journal import Journal, JournalError, RunRow, default_journal_path
from fleet.logs import LogFormat


@main.command()
@options.journal
@click.option("--json", "as_json", is_flag=True, help="Print [{id, kind, started_at, outcome, ...}].")
@click.option("--last", default=20, show_default=True, type=click.IntRange(1, 100000))
def runs(journal_path: Path | None, as_json: bool, last: int) -> None:
    """List runs, newest first."""
    try:
        rows = aio.run(_runs(journal_path, last))
    except JournalError as exc:
        fail_input(exc)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(row) for row in rows], indent=2))
        return
    table = Table("run", "kind", "started", "finished", "outcome", "exit", "report")
    for row in rows:
        table.add_row(
            row.id,
            row.kind,
            row.started_at,
            row.finished_at or "-",
            row.outcome or "unfinished",
            str(row.exit_code) if row.exit_code is not None else "-",
            row.report_path or "-",
        )
    Console().print(table)


async def _runs(journal_path: Path | None, last: int) -> list[RunRow]:
    path = journal_path or default_journal_path()
    if not await asyncio.to_thread(Path(path).exists):
        return []
    async with await Journal.open(path) as journal:
        return await journal.runs(limit=last)


@main.command()
@click.argument("run_id")
@options.journal
@click.option("--retry-failed", is_flag=True, help="Rerun only the units that failed, are partial or split.")
@options.file_option(
    "--report", "report_path", "Report file of the resumed run (default reports/<run-id>.json)."
)
@click.option(
    "--window-end",
    default=None,
    help="Tonight's change window end: HH:MM (local, next) or ISO 8601 (default: the recorded one, "
    "while it is still ahead).",
)
@click.option("--no-window", is_flag=True, help="Go on without a change window (a run paused by its window).")
@options.log_format
def resume(
    run_id: str,
    journal_path: Path | None,
    retry_failed: bool,
    report_path: Path | None,
    window_end: str | None,
    no_window: bool,
    log_format: LogFormat,
) -> None:
    """Finish RUN_ID: reconcile units that were in flight, run the ones never started."""
    if window_end is not None:
        try:
            if parse_window_end(window_end) <= utc_now():
                raise InputError(f"{window_end!r} has already passed", field="--window-end")
        except InputError as exc:
            fail_input(exc)
    if window_end is not None and no_window:
        fail_input(InputError("give either --window-end or --no-window, not both", field="--no-window"))
    request = ResumeRequest(
        run_id=run_id, retry_failed=retry_failed, window_end=window_end, no_window=no_window
    )
    path = journal_path or default_journal_path()
    if not Path(path).exists():
        fail_input(InputError(f"no journal at {path}", field="--journal"))

    async def build(journal: Journal) -> RunPlan:
        return await resume_plan(journal, request)

    run_and_exit(
        build,
        None,  # the resumed run's own kind decides its unit work
        journal_path=path,
        log_format=log_format,
        report_to=default_report_to(report_path),
    )
