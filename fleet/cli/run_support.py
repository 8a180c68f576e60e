"""What every run command shares: options, input errors → exit 2, signals, progress, report, exit code."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from fleet.cli.progress import ProgressObserver
from fleet.engine.run import RunPlan, UnitWork, execute
from fleet.engine.units import build_units
from fleet.errors import InputError
from fleet.journal import Journal, default_journal_path
from fleet.logs import configure_logging
from fleet.ontap import HttpSettings
from fleet.report import Report, default_report_path, render_summary, write_report
from fleet.secrets import SCRUBBER

EXIT_INPUT = 2
EXIT_INTERRUPTED = 130


def run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every run command (rotate, sync, apply) takes, as DESIGN.md lists them."""
    options = [
        click.option(
            "-i",
            "--inventory",
            "inventory",
            required=True,
            type=click.Path(path_type=Path),
            help="Inventory file or directory.",
        ),
        click.option(
            "--limit", default=None, help="Select clusters: globs, group:NAME, key=value, !negation."
        ),
        click.option(
            "--concurrency",
            default=64,
            show_default=True,
            type=click.IntRange(1, 4096),
            help="Units in flight at once.",
        ),
        click.option(
            "--per-cluster",
            default=2,
            show_default=True,
            type=click.IntRange(1, 16),
            help="Requests in flight per cluster.",
        ),
        click.option(
            "--timeout",
            "request_timeout",
            default=30.0,
            show_default=True,
            type=float,
            help="Per-request timeout, seconds.",
        ),
        click.option(
            "--cluster-deadline", default=None, type=float, help="Seconds for all of one cluster's work."
        ),
        click.option(
            "--report",
            "report_path",
            default=None,
            type=click.Path(path_type=Path),
            help="Report file (default reports/<run-id>.json).",
        ),
        click.option(
            "--journal",
            "journal_path",
            default=None,
            envvar="FLEET_JOURNAL",
            type=click.Path(path_type=Path),
            help="Journal database (env FLEET_JOURNAL).",
        ),
        click.option(
            "--insecure", is_flag=True, help="Do NOT verify TLS certificates (loud; for labs only)."
        ),
        click.option(
            "--log-format", type=click.Choice(["auto", "json", "console"]), default="auto", show_default=True
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def http_settings(
    concurrency: int, per_cluster: int, request_timeout: float, cluster_deadline: float | None, insecure: bool
) -> HttpSettings:
    """Connection caps follow unit concurrency: every unit in flight may hold its per-cluster cap."""
    return HttpSettings(
        concurrency=max(concurrency, 8) * per_cluster,
        per_cluster=per_cluster,
        request_timeout=request_timeout,
        cluster_deadline=cluster_deadline,
        insecure=insecure,
    )


def fail_input(exc: InputError) -> int:
    click.echo(f"fleet: error: {SCRUBBER.scrub(str(exc))}", err=True)
    return EXIT_INPUT


async def drive(
    build_plan: Callable[[Journal], Awaitable[RunPlan]],
    work: UnitWork,
    *,
    journal_path: Path | None,
    report_path: Path | None,
    console: Console,
) -> tuple[Report, Path]:
    """Open the journal, build the plan (input errors surface here), run it with signals handled."""
    journal = await Journal.open(journal_path or default_journal_path())
    try:
        plan = await build_plan(journal)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        main_task = asyncio.current_task()
        signals_seen = 0

        def on_signal() -> None:
            nonlocal signals_seen
            signals_seen += 1
            if signals_seen == 1:
                stop.set()
            elif main_task is not None:
                main_task.cancel()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal)
        try:
            with ProgressObserver(len(build_units(plan.clusters)), console) as progress:
                report = await execute(plan, work, observers=[progress], stop=stop)
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        path = report_path or default_report_path(report.run.id)
        written = await asyncio.to_thread(write_report, report, path)
        await journal.finish_run(
            report.run.id,
            outcome=report.run.outcome,
            exit_code=report.run.exit_code,
            report_path=str(written),
            stop_reason=report.run.stop_reason,
        )
        return report, written
    finally:
        await journal.close()


def run_and_exit(
    build_plan: Callable[[Journal], Awaitable[RunPlan]],
    work: UnitWork,
    *,
    journal_path: Path | None,
    report_path: Path | None,
    log_format: str,
) -> None:
    """Run a command end to end and exit with DESIGN.md's exit code."""
    configure_logging(fmt=log_format)  # type: ignore[arg-type]
    console = Console(stderr=False)
    try:
        report, path = asyncio.run(
            drive(build_plan, work, journal_path=journal_path, report_path=report_path, console=console)
        )
    except InputError as exc:
        sys.exit(fail_input(exc))
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    render_summary(report, console, path=path)
    sys.exit(report.run.exit_code)
