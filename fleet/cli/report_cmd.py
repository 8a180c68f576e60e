"""``fleet report show PATH|RUN``: print a written report's summary again (or its JSON).

Given a run id, the report is the newest of the run's lineage (the run and the resumes that
continued it), with the whole change folded in: one record per change, whichever run is named.
"""

from __future__ import annotations

from pathlib import Path

import click

from fleet import aio
from fleet.cli import options
from fleet.cli.app import main
from fleet.cli.consoles import output_console
from fleet.cli.run_support import open_journal
from fleet.engine.lineage import change_of, lineage, newest_report
from fleet.errors import InputError
from fleet.journal import JournalError, JournalLocation, journal_location
from fleet.report import Report, load_report, render_summary, report_json


@click.group(name="report")
def report_group() -> None:
    """Read run reports written by rotate, sync, apply and sweep.

    Example: fleet report show reports/20261130-221500-ab12cd.json
    """


@report_group.command(name="show")
@click.argument("target", metavar="PATH|RUN")
@options.journal
@click.option("--json", "as_json", is_flag=True, help="Print the validated report as JSON instead.")
@click.option(
    "--max-names",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Cluster and node names listed per failure code.",
)
def show(
    target: str, journal_path: str | None, journal_key: str | None, as_json: bool, max_names: int
) -> None:
    """Print the summary of the report at PATH, or of the change RUN belongs to (exit 2 if missing).

    Example: fleet report show 20261130-221500-ab12cd
    """
    path = Path(target)
    try:
        if path.exists() or "/" in target or path.suffix == ".json":  # a path, not a run id
            report = load_report(path)
        else:
            journal = journal_location(journal_path)
            if isinstance(journal, Path) and not journal.exists():
                raise InputError(f"no report file {target!r}, and no journal at {journal} to find a run in")
            report, path = aio.run(_change_report(target, journal, journal_key))
    except (InputError, JournalError) as exc:
        click.echo(f"fleet report show: {exc}", err=True)
        raise click.exceptions.Exit(InputError.exit_code) from None
    if as_json:
        click.echo(report_json(report), nl=False)
        return
    render_summary(report, output_console(highlight=False), path=path, max_names=max_names)


async def _change_report(
    run_id: str, journal_path: JournalLocation, journal_key: str | None
) -> tuple[Report, Path]:
    """The newest report of ``run_id``'s lineage, carrying the whole change as the journal knows it now."""
    async with await open_journal(journal_path, journal_key) as journal:
        if await journal.run(run_id) is None:
            raise InputError(f"no report file or run {run_id!r} (journal {journal_path})")
        newest = await newest_report(await lineage(journal, run_id))
        if newest is None:
            raise InputError(f"no run of the change {run_id!r} has a readable report yet")
        report, path = newest
        return report.model_copy(update={"change": await change_of(journal, run_id)}), path


main.add_command(report_group)
