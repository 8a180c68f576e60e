"""What every run command shares: a RunSpec from the options, the engine run, signals, progress, exit code.

The CLI parses and presents; the engine runs. Bad input of any kind (options, inventory, policy,
secrets, journal, secret store) met before the first cluster is touched is one line on stderr and
exit 2, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console

from fleet import aio
from fleet.cli.consoles import output_console, terminal_console
from fleet.cli.options import CLI_ONLY
from fleet.cli.progress import ProgressObserver
from fleet.engine.plans import RunPlan, build_plan
from fleet.engine.rollout.settings import ConfirmWave, WaveQuestion
from fleet.engine.rollout.units import build_units
from fleet.engine.run import FinishedRun, ReportPlace, execute
from fleet.engine.spec import RunSpec
from fleet.engine.steps.context import UnitWork
from fleet.engine.work import work_for
from fleet.errors import FleetError, InputError
from fleet.journal import Journal, JournalError, JournalLocation, journal_location
from fleet.journal.keys import key_from_text
from fleet.logs import LogFormat, configure_logging
from fleet.outcomes import ExitCode, RunKind
from fleet.report import Report, default_report_path, render_summary
from fleet.safe_files import check_output
from fleet.secrets import SCRUBBER
from fleet.secrets.refs import SecretResolver
from fleet.secrets.store import SecretStoreError

After = Callable[[Report, Path | None, Console], None]
#: Errors that mean "this run cannot start": exit 2, one line, no cluster touched.
SETUP_ERRORS = (InputError, JournalError, SecretStoreError)


def fail_input(exc: FleetError) -> NoReturn:
    """One line on stderr, scrubbed, and exit 2."""
    click.echo(f"fleet: error: {SCRUBBER.scrub(str(exc))}", err=True)
    sys.exit(ExitCode.INPUT)


def spec_from_options(kind: RunKind, given: dict[str, Any]) -> tuple[RunSpec, ConfirmWave | None]:
    """The RunSpec for what click parsed (CLI-only keys removed), and the wave prompt if one is asked.

    ``--pause-between-waves`` asks on the terminal; with ``--yes`` nobody is asked (and the spec
    records that nobody was), without a terminal it is refused.
    """
    values = {key: value for key, value in given.items() if key not in CLI_ONLY}
    ask = bool(values.get("pause_between_waves")) and not given.get("yes")
    if ask and not sys.stdin.isatty():
        fail_input(InputError("needs a terminal to ask on, or --yes", field="--pause-between-waves"))
    if "pause_between_waves" in values:
        values["pause_between_waves"] = ask
    try:
        spec = RunSpec.create(kind=kind, **values)
    except InputError as exc:
        fail_input(exc)
    return spec, confirm_on_terminal if ask else None


async def confirm_on_terminal(question: WaveQuestion) -> bool:
    """Ask whether to start the next wave (``[y/N]``: no by default). A daemon thread waits for the
    answer, so a run stopped meanwhile (signal, ``fleet`` exiting) is never held up by a prompt
    nobody answers."""
    prompt = question.text()
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


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event, abort: asyncio.Event) -> Iterator[None]:
    """First SIGINT/SIGTERM: stop admitting units (in-flight ones get a grace period); the second:
    stop the in-flight ones now. Neither cancels the command, so the report is written either way."""
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        (abort if stop.is_set() else stop).set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    try:
        yield
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


BuildPlan = Callable[[Journal], Awaitable[RunPlan]]
JOURNAL_KEY_OPTION = "--journal-key"


async def open_journal(where: str | Path | JournalLocation | None, key_ref: str | None) -> Journal:
    """The journal ``--journal`` (or ``FLEET_JOURNAL``, or the default) names, with the fingerprint key
    ``--journal-key`` refers to, if given: a reference resolved here, its value never shown."""
    location = where if where is not None and not isinstance(where, str) else journal_location(where)
    key = None
    if key_ref:
        try:
            secret = await asyncio.to_thread(
                SecretResolver().resolve, key_ref, "-", purpose=JOURNAL_KEY_OPTION
            )
        except InputError as exc:
            raise InputError(str(exc).replace("cluster -: ", ""), field=JOURNAL_KEY_OPTION) from None
        key = key_from_text(secret.reveal(), JOURNAL_KEY_OPTION)
    return await Journal.open(location, key=key)


async def drive(
    build: BuildPlan,
    work: UnitWork | None,
    *,
    journal_path: str | Path | JournalLocation | None,
    report_to: ReportPlace,
    terminal: Console,
    journal_key: str | None = None,
) -> FinishedRun:
    """Open the journal, build the plan (input errors surface here), run it with signals handled.

    ``work`` None: the plan's own kind decides (``fleet resume``). ``terminal`` is the console the
    progress bar is drawn on (stderr: log lines are printed above the bar).
    """
    journal = await open_journal(journal_path, journal_key)
    try:
        plan = await build(journal)
        stop, abort = asyncio.Event(), asyncio.Event()
        with (
            stop_on_signals(stop, abort),
            ProgressObserver(len(build_units(plan.clusters)), terminal) as progress,
        ):
            unit_work = work if work is not None else work_for(plan.spec)
            return await execute(
                plan, unit_work, observers=[progress], stop=stop, abort=abort, report_to=report_to
            )
    finally:
        await journal.close()


def default_report_to(report_path: Path | None) -> ReportPlace:
    return lambda report: report_path or default_report_path(report.run.id)


def run_and_exit(
    build: BuildPlan,
    work: UnitWork | None,
    *,
    journal_path: str | Path | JournalLocation | None,
    log_format: LogFormat,
    report_to: ReportPlace,
    after: After | None = None,
    outputs: Sequence[Path | None] = (),
    journal_key: str | None = None,
) -> NoReturn:
    """Run a command end to end, print its summary and exit with DESIGN.md's exit code.

    ``outputs`` are the files the command was told to write (``--report``, ``--html``...): a link
    planted at one is refused before the journal is opened, not discovered after the run.
    ``after`` runs once the report is written, before the summary (a sweep writes its HTML and
    Prometheus files and prunes old reports there).
    """
    configure_logging(fmt=log_format)
    console = output_console()
    try:
        for output in outputs:
            if output is not None:
                check_output(output)
        finished = aio.run(
            drive(
                build,
                work,
                journal_path=journal_path,
                journal_key=journal_key,
                report_to=report_to,
                terminal=terminal_console(),
            )
        )
    except SETUP_ERRORS as exc:
        fail_input(exc)
    except KeyboardInterrupt:
        sys.exit(ExitCode.INTERRUPTED)
    if after is not None:
        after(finished.report, finished.path, console)
    render_summary(finished.report, console, path=finished.path)
    sys.exit(finished.report.run.exit_code)


def run_spec_and_exit(kind: RunKind, given: dict[str, Any], *, work: UnitWork | None = None) -> NoReturn:
    """A changing run command (rotate, sync, apply): options → RunSpec → engine → exit code."""
    spec, confirm = spec_from_options(kind, given)
    try:
        unit_work = work if work is not None else work_for(spec)
    except InputError as exc:
        fail_input(exc)

    async def build(journal: Journal) -> RunPlan:
        return await build_plan(spec, journal, rollout=spec.rollout(confirm_next_wave=confirm))

    run_and_exit(
        build,
        unit_work,
        journal_path=given.get("journal_path"),
        journal_key=given.get("journal_key"),
        log_format=given.get("log_format") or "auto",
        report_to=default_report_to(given.get("report_path")),
        outputs=(given.get("report_path"),),
    )
