"""``fleet plan``, ``fleet apply``, ``fleet sweep``: one policy file, one diff, three commands.

``plan`` and ``sweep`` only read (``plan --probe`` is the one opt-in write-probe); ``apply`` changes
clusters through the same engine as a rotation (journal, MetroCluster units, waves and budgets).
A sweep is meant for cron or a systemd timer: a lock keeps two from overlapping (the second exits
with exit code 5), its reports live in one directory (drift against the newest earlier complete
one, ``--keep N`` prunes), and it can write a single-file HTML report and a Prometheus textfile; a
sweep that stopped early leaves the last complete textfile in place unless ``--publish-partial``.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from fleet.cli import options
from fleet.cli.app import main
from fleet.cli.run_support import BuildPlan, default_report_to, fail_input, run_and_exit, spec_from_options
from fleet.engine.history import last_succeeded
from fleet.engine.plans import RunPlan, build_plan
from fleet.engine.steps.policy import ApplyWork, PolicyResults, SweepWork
from fleet.engine.work import work_for
from fleet.errors import InputError
from fleet.journal import Journal
from fleet.logs import configure_logging
from fleet.outcomes import ExitCode, RunKind
from fleet.policy import PROBE_CHECKS, Policy, load_policy
from fleet.report import Finding, Report, load_report
from fleet.report.drift import previous_sweep, prune_sweeps
from fleet.report.html import write_html
from fleet.report.prom import SweepContext, write_prom
from fleet.report.states import NOT_CHECKED, compliance_of, is_complete
from fleet.safe_files import PRIVATE, open_no_follow

LOCK_NAME = ".fleet-sweep.lock"


class SweepLocked(Exception):
    def __init__(self, path: Path, holder: str) -> None:
        self.path, self.holder = path, holder
        super().__init__(f"another sweep is running (lock {path} held by {holder or 'another process'})")


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """An flock on ``path``: released by the kernel when the process ends, so never stale after a crash.

    Opened without following a link (a planted one would have its target truncated): ``InputError``.
    """
    fd = open_no_follow(path, os.O_RDWR | os.O_CREAT, mode=PRIVATE.file_mode)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            raise SweepLocked(path, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing drops the flock


def _load_policy_or_exit(path: Path) -> Policy:
    try:
        return load_policy(path)
    except InputError as exc:
        fail_input(exc)


def _sites(plan: RunPlan | None) -> dict[str, str]:
    return {c.name: c.labels.get("site", "") for c in plan.clusters} if plan is not None else {}


def _baseline(since: Path) -> list[Finding]:
    """The findings of ``--since REPORT``; a partial sweep is refused: it is never a drift baseline."""
    report = load_report(since)
    if report.run.kind == RunKind.SWEEP and not is_complete(c.outcome for c in report.clusters):
        unchecked = sum(1 for c in report.clusters if c.outcome in NOT_CHECKED)
        raise InputError(
            f"a partial sweep ({report.run.outcome}, {unchecked} cluster(s) not checked) is not a drift "
            "baseline; give a complete sweep's report",
            file=str(since),
        )
    return list(report.findings)


def _print_states(report: Report, console: Console) -> None:
    verdicts = compliance_of(report)
    states = ", ".join(f"{count} {state}" for state, count in verdicts.by_state.items())
    console.print(f"clusters {states}" + ("" if verdicts.complete else " (partial sweep)"))


def _policy_work(
    kind: RunKind, given: dict[str, Any], previous: list[Finding] | None = None
) -> tuple[BuildPlan, SweepWork | ApplyWork]:
    """Spec and unit work of a policy command; a bad policy file is exit 2 before anything runs."""
    spec, confirm = spec_from_options(kind, given)
    assert spec.policy is not None
    policy = _load_policy_or_exit(spec.policy)
    spec = spec.model_copy(update={"policy_digest": policy.digest()})
    work = work_for(spec, policy=policy, previous=previous)
    assert isinstance(work, SweepWork | ApplyWork)

    async def build(journal: Journal) -> RunPlan:
        return await build_plan(spec, journal, rollout=spec.rollout(confirm_next_wave=confirm))

    return build, work


# --- fleet plan ------------------------------------------------------------------------------------------


def print_plan(results: PolicyResults, console: Console, *, probe: bool) -> None:
    """Per cluster with something to say: its findings, then the actions apply would take."""
    evaluations = results.evaluations
    acting = sum(1 for ev in evaluations.values() if ev.actions)
    actions = sum(len(ev.actions) for ev in evaluations.values())
    compliant = sum(1 for ev in evaluations.values() if ev.compliant)
    for name in sorted(set(evaluations) | set(results.unreadable)):
        ev = evaluations.get(name)
        findings = ev.findings if ev is not None else [results.unreadable[name]]
        if not findings and (ev is None or not ev.actions):
            continue
        console.print(f"[bold]{escape(name)}[/]")
        for finding in findings:
            console.print(f"  {finding.severity:<8} {escape(finding.rule)}: {escape(finding.message)}")
        for action in ev.actions if ev is not None else []:
            console.print(f"  [cyan]→ apply would[/] {escape(action.describe())}")
    console.print(
        f"plan: {len(evaluations) + len(results.unreadable)} cluster(s), {compliant} compliant; "
        f"apply would take {actions} action(s) on {acting} cluster(s)"
    )
    if not probe:
        console.print(
            f"checks that need a write-probe (not run; use `fleet plan --probe`): {', '.join(PROBE_CHECKS)}"
        )


@main.command("plan")
@options.apply_options(options.read)
@click.option(
    "--probe", is_flag=True, help="Also prove each OKM passphrase with a refused PATCH (a write-probe)."
)
@options.passphrase("Passphrase reference for --probe (default: the inventory's vars.okm_passphrase).")
@options.report
def plan_cmd(**given: Any) -> None:
    """Show, per cluster, the findings and what `fleet apply` would change. Reads only (unless --probe).

    Example: fleet plan -i estate.yml -p policy.yml
    """
    build, work = _policy_work(RunKind.PLAN, given)
    run_and_exit(
        build,
        work,
        journal_path=given["journal_path"],
        journal_key=given["journal_key"],
        log_format=given["log_format"],
        report_to=default_report_to(given["report_path"]),
        outputs=(given["report_path"],),
        after=lambda _report, _path, console: print_plan(work.results, console, probe=given["probe"]),
    )


# --- fleet apply -----------------------------------------------------------------------------------------


@main.command("apply")
@options.apply_options(options.run)
@options.policy
@options.passphrase(
    "Passphrase for syncing nodes that miss keys (default: the inventory's vars.okm_passphrase)."
)
def apply_cmd(**given: Any) -> None:
    """Change every selected cluster to the policy; MetroCluster sites are changed together or not at all.

    Example: fleet apply -i estate.yml -p policy.yml --waves 1,10%,100%
    """
    build, work = _policy_work(RunKind.APPLY, given)
    run_and_exit(
        build,
        work,
        journal_path=given["journal_path"],
        journal_key=given["journal_key"],
        log_format=given["log_format"],
        report_to=default_report_to(given["report_path"]),
        outputs=(given["report_path"],),
    )


# --- fleet sweep -----------------------------------------------------------------------------------------


@main.command("sweep")
@options.apply_options(options.read)
@options.change_id
@options.file_option("--report", "report_path", "Report file (default: <report-dir>/<run-id>.json).")
@options.sweep_report_dir
@options.file_option("--html", "html_path", "Also write a single-file HTML report here.")
@options.file_option(
    "--prom", "prom_path", "Also write a Prometheus textfile here (node-exporter textfile collector)."
)
@options.file_option(
    "--since",
    "since_path",
    "Compute drift against this earlier report (default: the newest earlier sweep in --report-dir).",
)
@click.option(
    "--keep", default=None, type=click.IntRange(min=1), help="Keep only the N newest sweep reports."
)
@click.option(
    "--publish-partial",
    is_flag=True,
    help="Write --prom also when the sweep stopped early (unchecked clusters unknown); by default the "
    "last complete sweep's file stays.",
)
@options.file_option(
    "--lock",
    "lock_path",
    "Lock file that keeps two sweeps from overlapping (default: <report-dir>/.fleet-sweep.lock).",
)
def sweep_cmd(**given: Any) -> None:
    """Check every selected cluster against the policy, strictly read-only. Exit 0 compliant, 1 findings.

    Example: fleet sweep -i estate.yml -p policy.yml --html sweep.html --keep 30
    """
    report_path: Path | None = given.pop("report_path")
    report_dir: Path = given.pop("report_dir")
    html_path: Path | None = given.pop("html_path")
    prom_path: Path | None = given.pop("prom_path")
    since_path: Path | None = given.pop("since_path")
    keep: int | None = given.pop("keep")
    publish_partial: bool = given.pop("publish_partial")
    lock_path: Path | None = given.pop("lock_path")
    directory = report_path.parent if report_path is not None else report_dir
    baseline = previous_sweep(directory, exclude=report_path)
    try:
        if since_path is not None:
            previous: list[Finding] | None = _baseline(since_path)
        else:
            previous = list(load_report(baseline.path).findings) if baseline is not None else None
    except InputError as exc:
        fail_input(exc)
    build, work = _policy_work(RunKind.SWEEP, given, previous)
    built: list[RunPlan] = []
    rotations: list[datetime | None] = []

    async def build_and_keep(journal: Journal) -> RunPlan:
        plan = await build(journal)
        built.append(plan)
        rotations.append(await last_succeeded(journal, RunKind.ROTATE))
        return plan

    def after(report: Report, path: Path | None, console: Console) -> None:
        plan = built[0] if built else None
        _print_states(report, console)
        if html_path is not None:
            console.print(f"html     {escape(str(write_html(report, html_path, _sites(plan))))}")
        if prom_path is not None and (compliance_of(report).complete or publish_partial):
            policy = work.policy
            context = SweepContext(
                labels={c.name: c.labels for c in plan.clusters} if plan is not None else {},
                last_complete_sweep=baseline.finished_at if baseline is not None else None,
                last_rotation=rotations[0] if rotations else None,
                passphrase_max_age_days=(
                    policy.onboard.passphrase_max_age_days if policy.key_manager == "onboard" else None
                ),
            )
            console.print(f"prom     {escape(str(write_prom(report, prom_path, context)))}")
        elif prom_path is not None:
            console.print(
                f"prom     not written: a partial sweep; {escape(str(prom_path))} keeps the last complete "
                "sweep (--publish-partial writes it anyway)"
            )
        if keep is not None and path is not None:
            for old in prune_sweeps(path.parent, keep):
                console.print(f"pruned   {escape(str(old))}")

    configure_logging(fmt=given["log_format"])  # the lock may warn about its folder: say it as the run will
    try:
        with exclusive_lock(lock_path or directory / LOCK_NAME):
            run_and_exit(
                build_and_keep,
                work,
                journal_path=given["journal_path"],
                journal_key=given["journal_key"],
                log_format=given["log_format"],
                report_to=lambda report: report_path or directory / f"{report.run.id}.json",
                after=after,
                outputs=(report_path, html_path, prom_path),
            )
    except InputError as exc:
        fail_input(exc)
    except SweepLocked as exc:
        click.echo(f"fleet: {exc}; this sweep did nothing (exit {ExitCode.LOCKED:d})", err=True)
        sys.exit(ExitCode.LOCKED)
