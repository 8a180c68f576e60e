"""What every run command shares: options, input errors → exit 2, signals, progress, report, exit code."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from fleet import aio
from fleet.cli.progress import ProgressObserver
from fleet.engine.rollout.settings import Rollout, parse_rollout
from fleet.engine.rollout.units import build_units
from fleet.engine.run import RunPlan, UnitWork, execute
from fleet.errors import InputError
from fleet.journal import Journal, default_journal_path
from fleet.logs import configure_logging
from fleet.report import Report, default_report_path, render_summary, write_report
from fleet.secrets import SCRUBBER

EXIT_INPUT = 2
EXIT_INTERRUPTED = 130
Finish = Callable[[Report, Path], tuple[Report, Path]]
ROLLOUT_KEY = "fleet.rollout"
ROLLOUT_PARAMS = (
    "waves",
    "max_failures",
    "max_wave_failures",
    "max_consecutive_failures",
    "window_end",
    "window_floor",
    "limit_per",
    "pause_between_waves",
    "yes",
    "events_path",
)


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

# Each option is declared once; the run, read-only and journal commands pick from them.
inventory_option = click.option(
    "-i",
    "--inventory",
    "inventory",
    required=True,
    type=click.Path(path_type=Path),
    help="Inventory file or directory.",
)
limit_option = click.option(
    "--limit", default=None, help="Select clusters: globs, group:NAME, key=value, !negation."
)
concurrency_option = click.option(
    "--concurrency",
    default=64,
    show_default=True,
    type=click.IntRange(1, 4096),
    help="Units in flight at once.",
)
per_cluster_option = click.option(
    "--per-cluster",
    default=2,
    show_default=True,
    type=click.IntRange(1, 16),
    help="Requests in flight per cluster.",
)
timeout_option = click.option(
    "--timeout",
    "request_timeout",
    default=30.0,
    show_default=True,
    type=float,
    help="Per-request timeout, seconds.",
)
journal_option = click.option(
    "--journal",
    "journal_path",
    default=None,
    envvar="FLEET_JOURNAL",
    type=click.Path(path_type=Path),
    help="Journal database (env FLEET_JOURNAL).",
)
insecure_option = click.option(
    "--insecure", is_flag=True, help="Do NOT verify TLS certificates (loud; for labs only)."
)
log_format_option = click.option(
    "--log-format", type=click.Choice(["auto", "json", "console"]), default="auto", show_default=True
)


def apply_options(command: Callable[..., Any], options: list[Decorator]) -> Callable[..., Any]:
    """Decorate ``command`` with ``options``, the first one listed first in ``--help``."""
    for option in reversed(options):
        command = option(command)
    return command


def run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every run command (rotate, sync, apply) takes, as DESIGN.md lists them."""
    options = [
        inventory_option,
        limit_option,
        concurrency_option,
        per_cluster_option,
        timeout_option,
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
        journal_option,
        insecure_option,
        log_format_option,
        *rollout_options(),
    ]
    return apply_options(with_rollout(command), options)


def rollout_options() -> list[Decorator]:
    """Waves, budgets, window, limits, events: parsed by ``with_rollout``, documented in docs/rollouts.md."""
    return [
        click.option(
            "--waves", default=None, help="Wave sizes, counts or % of all units: e.g. 1,5,10%,100%."
        ),
        click.option("--max-failures", default=None, help="Abort (exit 3) on reaching N or P% failed units."),
        click.option(
            "--max-wave-failures", default=None, help="Abort on reaching N or P% failures in a wave."
        ),
        click.option(
            "--max-consecutive-failures", default=None, help="Abort on reaching N failures in a row."
        ),
        click.option(
            "--window-end", default=None, help="Change window end: HH:MM (local, next) or ISO 8601; exit 4."
        ),
        click.option(
            "--window-floor",
            default=30.0,
            show_default=True,
            type=click.FloatRange(min=0),
            help="Seconds a unit is assumed to need at least, before the window closes.",
        ),
        click.option(
            "--limit-per",
            "limit_per",
            multiple=True,
            help="LABEL=N: at most N units in flight per label value.",
        ),
        click.option("--pause-between-waves", is_flag=True, help="Ask before each wave after the first."),
        click.option("--yes", is_flag=True, help="Do not ask (--pause-between-waves); needed without a TTY."),
        click.option(
            "--events",
            "events_path",
            default=None,
            type=click.Path(path_type=Path, dir_okay=False),
            help="Append the run's events here as JSON Lines.",
        ),
    ]


def with_rollout(command: Callable[..., Any]) -> Callable[..., Any]:
    """Parse the rollout options before the command runs (bad input → exit 2, nothing touched).

    The parsed ``Rollout`` waits in the click context until ``run_and_exit`` applies it to the
    plan, so rotate, sync and apply get waves, budgets and window without a parameter each.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in ROLLOUT_PARAMS}
        ask = given["pause_between_waves"] and not given["yes"]
        if ask and not sys.stdin.isatty():
            sys.exit(
                fail_input(InputError("needs a terminal to ask on, or --yes", field="--pause-between-waves"))
            )
        try:
            rollout = parse_rollout(
                waves=given["waves"],
                max_failures=given["max_failures"],
                max_wave_failures=given["max_wave_failures"],
                max_consecutive_failures=given["max_consecutive_failures"],
                window_end=given["window_end"],
                window_floor=given["window_floor"],
                limit_per=given["limit_per"],
                pause_between_waves=ask,
                events=given["events_path"],
                confirm_next_wave=confirm_on_terminal if ask else None,
            )
        except InputError as exc:
            sys.exit(fail_input(exc))
        click.get_current_context().meta[ROLLOUT_KEY] = rollout
        return command(*args, **kwargs)

    return wrapper


async def confirm_on_terminal(finished: int, failures: int, index: int, size: int) -> bool:
    """Ask whether to start the next wave. A daemon thread waits for the answer, so a run stopped
    meanwhile (signal, ``fleet`` exiting) is never held up by a prompt nobody answers."""
    prompt = f"wave {finished} ended with {failures} failed unit(s). Start wave {index} ({size} unit(s))?"
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bool] = loop.create_future()

    def settle(value: bool) -> None:
        if not answer.done():
            answer.set_result(value)

    def ask() -> None:
        try:
            value = click.confirm(prompt, default=False, err=True)
        except (click.Abort, EOFError):
            value = False
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits for the answer
            loop.call_soon_threadsafe(settle, value)

    threading.Thread(target=ask, name="fleet-confirm-wave", daemon=True).start()
    return await answer


def apply_rollout(plan: RunPlan, rollout: Rollout) -> RunPlan:
    """The plan with the command line's rollout, recorded in its options so ``fleet resume`` keeps it."""
    plan.options = replace(plan.options, rollout=rollout)
    plan.report_options = {**plan.report_options, **rollout.options()}
    return plan


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
    rollout: Rollout | None = None,
    finish: Finish | None = None,
) -> tuple[Report, Path]:
    """Open the journal, build the plan (input errors surface here), run it with signals handled.

    ``finish`` (policy commands) sees the report before it is written: it adds findings and drift,
    sets the compliance outcome, and may choose the file (sweeps keep theirs in a report directory).
    """
    journal = await Journal.open(journal_path or default_journal_path())
    try:
        plan = await build_plan(journal)
        if rollout is not None:
            plan = apply_rollout(plan, rollout)
        # The inventory, secrets and plan live until the end: keep the cyclic collector from walking
        # them again at every full collection (4% of a 1,000-cluster rotation's CPU).
        gc.freeze()
        SCRUBBER.prepare()
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
        if finish is not None:
            report, path = await asyncio.to_thread(finish, report, path)
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
        gc.unfreeze()  # a library caller may drive again in this process: let that memory go
        await journal.close()


def run_and_exit(
    build_plan: Callable[[Journal], Awaitable[RunPlan]],
    work: UnitWork,
    *,
    journal_path: Path | None,
    report_path: Path | None,
    log_format: str,
    finish: Finish | None = None,
    after: Callable[[Report, Path, Console], None] | None = None,
) -> None:
    """Run a command end to end and exit with DESIGN.md's exit code.

    ``finish`` goes to ``drive``; ``after`` runs once the report is written, before the summary
    (a sweep writes its HTML and Prometheus files and prunes old reports there).
    """
    configure_logging(fmt=log_format)  # type: ignore[arg-type]
    console = Console(stderr=False)
    context = click.get_current_context(silent=True)
    rollout = context.meta.get(ROLLOUT_KEY) if context is not None else None
    try:
        report, path = aio.run(
            drive(
                build_plan,
                work,
                journal_path=journal_path,
                report_path=report_path,
                console=console,
                rollout=rollout,
                finish=finish,
            )
        )
    except InputError as exc:
        sys.exit(fail_input(exc))
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    if after is not None:
        after(report, path, console)
    render_summary(report, console, path=path)
    sys.exit(report.run.exit_code)
