"""``fleet plan``, ``fleet apply``, ``fleet sweep``: one policy file, one diff, three commands.

``plan`` and ``sweep`` only read (``plan --probe`` is the one opt-in write-probe); ``apply`` changes
clusters through the same engine as a rotation (journal, MetroCluster units, waves and budgets).
A sweep is meant for cron or a systemd timer: a lock keeps two from overlapping (the second exits
with ``EXIT_LOCKED``), its reports live in one directory (drift against the newest earlier one,
``--keep N`` prunes), and it can write a single-file HTML report and a Prometheus textfile.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from fleet.cli.app import main
from fleet.cli.run_support import (
    apply_options,
    concurrency_option,
    fail_input,
    insecure_option,
    inventory_option,
    journal_option,
    limit_option,
    log_format_option,
    per_cluster_option,
    run_and_exit,
    run_options,
    timeout_option,
)
from fleet.engine.plans import build_policy_plan, http_settings
from fleet.engine.run import RunPlan
from fleet.engine.steps.context import RunOptions
from fleet.engine.steps.policy import ApplyWork, PolicyResults, SweepWork
from fleet.errors import InputError
from fleet.journal import Journal
from fleet.policy import PROBE_CHECKS, Policy, load_policy
from fleet.report import Drift, Finding, Report, build_report, load_report
from fleet.report.drift import compute_drift, counts_against, previous_sweep, prune_sweeps
from fleet.report.html import write_html
from fleet.report.prom import write_prom
from fleet.report.write import REPORTS_DIR

EXIT_LOCKED = 5  # another sweep holds the lock; this one contacted nothing (docs/sweeps.md)
LOCK_NAME = ".fleet-sweep.lock"


class SweepLocked(Exception):
    def __init__(self, path: Path, holder: str) -> None:
        self.path, self.holder = path, holder
        super().__init__(f"another sweep is running (lock {path} held by {holder or 'another process'})")


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """An flock on ``path``: released by the kernel when the process ends, so never stale after a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
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


policy_option = click.option(
    "-p",
    "--policy",
    "policy_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Policy file (YAML).",
)


def read_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """What a read-only policy command takes: the run options without waves, budgets or window."""
    options = [
        inventory_option,
        policy_option,
        limit_option,
        concurrency_option,
        per_cluster_option,
        timeout_option,
        journal_option,
        insecure_option,
        log_format_option,
    ]
    return apply_options(command, options)


def policy_report(report: Report, results: PolicyResults, drift: Drift | None = None) -> Report:
    """The engine's report plus findings and drift, with the compliance outcome and exit code."""
    findings = results.findings()
    run = report.run
    compliant = not any(counts_against(finding) for finding in findings)
    if run.outcome == "interrupted":
        outcome, code = run.outcome, run.exit_code
    elif run.kind in ("sweep", "plan"):
        outcome, code = ("compliant", 0) if compliant else ("non_compliant", 1)
    elif run.outcome == "succeeded" and not compliant:
        outcome, code = "non_compliant", 1
    else:
        outcome, code = run.outcome, run.exit_code
    run = run.model_copy(update={"outcome": outcome, "exit_code": code})
    return build_report(run, report.clusters, report.pairs, report.waves, findings, drift)


def _load_policy_or_exit(path: Path) -> Policy:
    try:
        return load_policy(path)
    except InputError as exc:
        sys.exit(fail_input(exc))


def _sites(plan: RunPlan | None) -> dict[str, str]:
    return {c.name: c.labels.get("site", "") for c in plan.clusters} if plan is not None else {}


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
@read_options
@click.option(
    "--probe", is_flag=True, help="Also prove each OKM passphrase with a refused PATCH (a write-probe)."
)
@click.option("--passphrase", "passphrase_ref", default=None, help="Passphrase reference for --probe.")
@click.option("--report", "report_path", default=None, type=click.Path(path_type=Path))
def plan_cmd(
    inventory: Path,
    policy_path: Path,
    limit: str | None,
    concurrency: int,
    per_cluster: int,
    request_timeout: float,
    journal_path: Path | None,
    insecure: bool,
    log_format: str,
    probe: bool,
    passphrase_ref: str | None,
    report_path: Path | None,
) -> None:
    """Show, per cluster, the findings and what `fleet apply` would change. Reads only (unless --probe)."""
    policy = _load_policy_or_exit(policy_path)
    work = SweepWork(policy, datetime.now(UTC), plan=True, probe=probe)
    options = {"inventory": str(inventory), "policy": str(policy_path), "limit": limit, "probe": probe}

    async def build_plan(journal: Journal) -> RunPlan:
        return await build_policy_plan(
            journal,
            kind="plan",
            inventory_path=inventory,
            limit=limit,
            passphrase_ref=passphrase_ref,
            with_passphrases=probe,
            options=RunOptions(concurrency=concurrency),
            http=http_settings(concurrency, per_cluster, request_timeout, None, insecure),
            report_options=options,
        )

    run_and_exit(
        build_plan,
        work,
        journal_path=journal_path,
        report_path=report_path,
        log_format=log_format,
        finish=lambda report, path: (policy_report(report, work.results), path),
        after=lambda _report, _path, console: print_plan(work.results, console, probe=probe),
    )


# --- fleet apply -----------------------------------------------------------------------------------------


@main.command("apply")
@run_options
@policy_option
@click.option(
    "--passphrase",
    "passphrase_ref",
    default=None,
    help="Passphrase for syncing nodes that miss keys (default: the inventory's vars.okm_passphrase).",
)
def apply_cmd(
    inventory: Path,
    limit: str | None,
    concurrency: int,
    per_cluster: int,
    request_timeout: float,
    cluster_deadline: float | None,
    report_path: Path | None,
    journal_path: Path | None,
    insecure: bool,
    log_format: str,
    policy_path: Path,
    passphrase_ref: str | None,
) -> None:
    """Change every selected cluster to the policy; MetroCluster sites are changed together or not at all."""
    policy = _load_policy_or_exit(policy_path)
    work = ApplyWork(policy, datetime.now(UTC))
    options = {"inventory": str(inventory), "policy": str(policy_path), "limit": limit}

    async def build_plan(journal: Journal) -> RunPlan:
        return await build_policy_plan(
            journal,
            kind="apply",
            inventory_path=inventory,
            limit=limit,
            passphrase_ref=passphrase_ref,
            with_passphrases=True,
            options=RunOptions(concurrency=concurrency, cluster_deadline=cluster_deadline),
            http=http_settings(concurrency, per_cluster, request_timeout, cluster_deadline, insecure),
            report_options=options,
        )

    run_and_exit(
        build_plan,
        work,
        journal_path=journal_path,
        report_path=report_path,
        log_format=log_format,
        finish=lambda report, path: (policy_report(report, work.results), path),
    )


# --- fleet sweep -----------------------------------------------------------------------------------------


@main.command("sweep")
@read_options
@click.option("--report", "report_path", default=None, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--report-dir",
    default=REPORTS_DIR,
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Where sweep reports go (<run-id>.json); drift compares with the newest earlier one here.",
)
@click.option("--html", "html_path", default=None, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--prom", "prom_path", default=None, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--since", "since_path", default=None, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--keep", default=None, type=click.IntRange(min=1), help="Keep only the N newest sweep reports."
)
@click.option("--lock", "lock_path", default=None, type=click.Path(path_type=Path, dir_okay=False))
def sweep_cmd(
    inventory: Path,
    policy_path: Path,
    limit: str | None,
    concurrency: int,
    per_cluster: int,
    request_timeout: float,
    journal_path: Path | None,
    insecure: bool,
    log_format: str,
    report_path: Path | None,
    report_dir: Path,
    html_path: Path | None,
    prom_path: Path | None,
    since_path: Path | None,
    keep: int | None,
    lock_path: Path | None,
) -> None:
    """Check every selected cluster against the policy, strictly read-only. Exit 0 compliant, 1 findings."""
    policy = _load_policy_or_exit(policy_path)
    since: list[Finding] | None = None
    if since_path is not None:
        try:
            since = list(load_report(since_path).findings)
        except InputError as exc:
            sys.exit(fail_input(exc))
    directory = report_path.parent if report_path is not None else report_dir
    work = SweepWork(policy, datetime.now(UTC))
    built: list[RunPlan] = []
    options = {"inventory": str(inventory), "policy": str(policy_path), "limit": limit}

    async def build_plan(journal: Journal) -> RunPlan:
        plan = await build_policy_plan(
            journal,
            kind="sweep",
            inventory_path=inventory,
            limit=limit,
            passphrase_ref=None,
            with_passphrases=False,
            options=RunOptions(concurrency=concurrency),
            http=http_settings(concurrency, per_cluster, request_timeout, None, insecure),
            report_options=options,
        )
        built.append(plan)
        return plan

    def finish(report: Report, _default: Path) -> tuple[Report, Path]:
        path = report_path or directory / f"{report.run.id}.json"
        previous = since
        if previous is None:
            earlier = previous_sweep(directory, exclude=path)
            previous = list(load_report(earlier).findings) if earlier is not None else None
        drift = compute_drift(work.results.findings(), previous) if previous is not None else None
        return policy_report(report, work.results, drift), path

    def after(report: Report, path: Path, console: Console) -> None:
        sites = _sites(built[0] if built else None)
        if html_path is not None:
            console.print(f"html     {escape(str(write_html(report, html_path, sites)))}")
        if prom_path is not None:
            console.print(f"prom     {escape(str(write_prom(report, prom_path, sites)))}")
        if keep is not None:
            for old in prune_sweeps(path.parent, keep):
                console.print(f"pruned   {escape(str(old))}")

    try:
        with exclusive_lock(lock_path or directory / LOCK_NAME):
            run_and_exit(
                build_plan,
                work,
                journal_path=journal_path,
                report_path=report_path,
                log_format=log_format,
                finish=finish,
                after=after,
            )
    except SweepLocked as exc:
        click.echo(f"fleet: {exc}; this sweep did nothing (exit {EXIT_LOCKED})", err=True)
        sys.exit(EXIT_LOCKED)
