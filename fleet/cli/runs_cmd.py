"""``fleet runs`` lists what the journal remembers; ``fleet resume`` finishes a run."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Column, Table

from fleet import aio
from fleet.cli import options
from fleet.cli.app import main
from fleet.cli.consoles import output_console
from fleet.cli.run_support import (
    confirm_on_terminal,
    default_report_to,
    fail_input,
    open_journal,
    run_and_exit,
)
from fleet.engine.lineage import resumed_by
from fleet.engine.plans import RunPlan
from fleet.engine.resume import ResumeRequest, resume_plan
from fleet.engine.rollout.window import utc_now, window_end_ahead
from fleet.errors import InputError
from fleet.journal import Journal, JournalError, RunRow, journal_location
from fleet.logs import LogFormat

#: ``fleet runs`` when stdout is not a terminal: a header line, then one run per line, tab-separated.
TSV_COLUMNS = (
    "id", "kind", "started_at", "finished_at", "outcome", "exit_code", "resumed_from", "resumed_by", "report",
    "operator", "host",
)  # fmt: skip


@main.command()
@options.journal
@click.option("--json", "as_json", is_flag=True, help="Print [{id, kind, started_at, outcome, ...}].")
@click.option(
    "--last", default=20, show_default=True, type=click.IntRange(1, 100000), help="How many runs to list."
)
def runs(journal_path: str | None, journal_key: str | None, as_json: bool, last: int) -> None:
    """List runs, newest first, with their lineage (the run each one resumed and the run that
    resumed it: a run is resumed once; `fleet resume` names the latest of a change) and who ran
    each one where: a team's runners share a PostgreSQL journal, and list each other's runs.

    Run ids are printed whole. On a terminal this is a table; piped, a header line and one run per
    line, tab-separated (empty fields are "-"); --json for everything the journal keeps.

    Example: fleet runs --last 5
    """
    try:
        rows, children = aio.run(_runs(journal_path, journal_key, last))
    except (JournalError, InputError) as exc:
        fail_input(exc)
    if as_json:
        listed = [
            {
                **dataclasses.asdict(row),
                "resumed_from": row.options.get("resumed_from"),
                "resumed_by": children.get(row.id),
            }
            for row in rows
        ]
        click.echo(json.dumps(listed, indent=2))
        return
    console = output_console(highlight=False)
    if not console.is_terminal:
        click.echo("\t".join(TSV_COLUMNS))
        for row in rows:
            click.echo("\t".join(_tsv_field(value) for value in _tsv_row(row, children.get(row.id))))
        return
    # The id stays whole (it is what `fleet resume` takes); other cells fold on a narrow terminal.
    whole = Column("run", no_wrap=True, min_width=max((len(row.id) for row in rows), default=3))
    folded = ("kind", "operator", "started (UTC)", "finished (UTC)", "outcome", "exit", "lineage", "report")
    table = Table(whole, *(Column(header, overflow="fold") for header in folded))
    for row in rows:
        table.add_row(
            escape(row.id),
            row.kind,
            row.operator or row.host or "-",
            _when(row.started_at),
            _when(row.finished_at),
            row.outcome or "unfinished",
            str(row.exit_code) if row.exit_code is not None else "-",
            escape(_lineage(row, children.get(row.id))),
            escape(row.report_path or "-"),
        )
    console.print(table)


def _when(stamp: str | None) -> str:
    """The journal's ``2026-11-30T22:15:00.123Z`` as ``2026-11-30 22:15:00`` (the table says UTC)."""
    if stamp is None:
        return "-"
    return stamp[:19].replace("T", " ") if stamp.endswith("Z") else stamp


def _tsv_row(row: RunRow, resumed_by: str | None) -> list[str | int | None]:
    resumed_from = row.options.get("resumed_from")
    return [
        row.id,
        row.kind,
        row.started_at,
        row.finished_at,
        row.outcome,
        row.exit_code,
        resumed_from if isinstance(resumed_from, str) else None,
        resumed_by,
        row.report_path,
        row.operator,
        row.host,
    ]


def _tsv_field(value: str | int | None) -> str:
    """One field: "-" when empty (``awk`` and ``cut`` keep their columns), never a tab or a newline."""
    text = "-" if value is None or value == "" else str(value)
    return " ".join(text.split("\t")).replace("\n", " ").replace("\r", " ")


def _lineage(row: RunRow, resumed_by: str | None) -> str:
    parts = []
    if isinstance(row.options.get("resumed_from"), str):
        parts.append(f"resumes {row.options['resumed_from']}")
    if resumed_by is not None:
        parts.append(f"resumed by {resumed_by}")
    return "; ".join(parts) or "-"


async def _runs(
    journal_path: str | None, journal_key: str | None, last: int
) -> tuple[list[RunRow], dict[str, str]]:
    where = journal_location(journal_path)
    if isinstance(where, Path) and not await asyncio.to_thread(where.exists):
        return [], {}
    async with await open_journal(where, journal_key) as journal:
        return await journal.runs(limit=last), await resumed_by(journal)


@main.command()
@click.argument("run_id")
@options.journal
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Rerun only the units that failed, are partial, split, refused or unconfirmed.",
)
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
@options.apply_options(options.night)
@options.log_format
def resume(
    run_id: str,
    journal_path: str | None,
    journal_key: str | None,
    retry_failed: bool,
    report_path: Path | None,
    window_end: str | None,
    no_window: bool,
    yes: bool,
    log_format: LogFormat,
    **night: Any,
) -> None:
    """Finish RUN_ID (a rotate, sync or apply): reconcile units in flight, run the ones never started.

    The change (inventory, selection, secrets, waves, an apply's policy) is the recorded one; the
    night's options (window, budgets, concurrency, pauses) may be given again and then win over the
    recorded ones. An apply whose policy file now asks for something else is refused (exit 2).

    A run still running in another process is refused (exit 2, nothing sent), naming its pid and
    host: wait for it, or stop it (Ctrl-C, kill PID), then resume. A killed run is resumed at once
    on its own host; from another host, once its hold lapses (at most 2 minutes).

    Example: fleet resume 20261130-221500-ab12cd --window-end 06:00
    """
    if window_end is not None:
        try:
            window_end_ahead(window_end, now=utc_now())
        except InputError as exc:
            fail_input(exc)
    if window_end is not None and no_window:
        fail_input(InputError("give either --window-end or --no-window, not both", field="--no-window"))
    if yes:
        night["pause_between_waves"] = False  # nobody is asked tonight, and the spec records that
    ask = not yes and sys.stdin.isatty()
    request = ResumeRequest(
        run_id=run_id, retry_failed=retry_failed, window_end=window_end, no_window=no_window, night=night
    )
    try:
        where = journal_location(journal_path)
    except InputError as exc:
        fail_input(exc)
    if isinstance(where, Path) and not where.exists():
        fail_input(InputError(f"no journal at {where}", field="--journal"))

    async def build(journal: Journal) -> RunPlan:
        return await resume_plan(journal, request, confirm_next_wave=confirm_on_terminal if ask else None)

    run_and_exit(
        build,
        None,  # the resumed run's own kind decides its unit work
        journal_path=where,
        journal_key=journal_key,
        log_format=log_format,
        report_to=default_report_to(report_path),
        outputs=(report_path,),
    )
