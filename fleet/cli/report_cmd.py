"""``fleet report show PATH``: print a written report's summary again (or its JSON)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from fleet.cli.app import main
from fleet.errors import InputError
from fleet.report import load_report, render_summary, report_json


@click.group(name="report")
def report_group() -> None:
    """Read run reports written by rotate, sync, apply and sweep."""


@report_group.command(name="show")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=True))
@click.option("--json", "as_json", is_flag=True, help="Print the validated report as JSON instead.")
@click.option(
    "--max-names",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Cluster and node names listed per failure code.",
)
def show(path: Path, as_json: bool, max_names: int) -> None:
    """Print the summary of the report at PATH (exit 2 if it is missing or not a fleet report)."""
    try:
        report = load_report(path)
    except InputError as exc:
        click.echo(f"fleet report show: {exc}", err=True)
        raise click.exceptions.Exit(InputError.exit_code) from None
    if as_json:
        click.echo(report_json(report), nl=False)
        return
    render_summary(report, Console(highlight=False), path=path, max_names=max_names)


main.add_command(report_group)
