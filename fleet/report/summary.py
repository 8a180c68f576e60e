"""The terminal summary of a report: what an admin reads at a glance after a run (and in `report show`).

One renderer, two outputs: ``render_summary`` prints to any rich console (colour on a TTY) and
``summary_text`` renders the same lines without colour for logs and tests.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Mapping

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fleet.outcomes import FINISHED
from fleet.report.model import (
    CLUSTER_OUTCOMES,
    PAIR_OUTCOMES,
    Change,
    FailureGroup,
    PairRecord,
    RecoveredGroup,
    Report,
    RetryGroup,
)

DEFAULT_MAX_NAMES = 5
_SEVERITIES = ("critical", "warning", "info")

_STYLE: dict[str, str] = {
    "succeeded": "green",
    "already_current": "green",
    "rotated": "green",
    "compliant": "green",
    "partial": "yellow",
    "skipped": "dim",
    "planned": "cyan",
    "not_started": "dim",
    "paused": "yellow",
    "split": "bold red",
    "failed": "red",
    "aborted": "red",
    "interrupted": "yellow",
    "non_compliant": "red",
}


def _styled(word: str) -> str:
    style = _STYLE.get(word)
    text = escape(word.replace("_", " "))
    return f"[{style}]{text}[/]" if style else text


def _counts(counts: Mapping[str, int], order: tuple[str, ...]) -> str:
    """Non-zero counts in the schema's order: zeros are noise at a glance (the JSON keeps them)."""
    parts = [f"{_styled(key)} {counts[key]}" for key in order if counts.get(key)]
    return " · ".join(parts) if parts else "none"


def _names(names: list[str], limit: int) -> str:
    shown = ", ".join(escape(name) for name in names[:limit])
    more = len(names) - limit
    return f"{shown} … and {more} more" if more > 0 else shown


def _split_row(pair: PairRecord) -> str:
    remedy = escape(pair.remediation or pair.reason or "no remediation recorded")
    return f"[bold red]{escape(pair.name)}[/] ({escape(pair.sites[0])}, {escape(pair.sites[1])}): {remedy}"


def _failure_rows(group: FailureGroup, limit: int) -> list[tuple[str, str]]:
    """What still needs doing: where, and the next step (only clusters that did not end well are here)."""
    refused = "[yellow]refused:[/] " if group.kind == "refused" else ""
    where = f"{len(group.clusters)} cluster(s): {_names(group.clusters, limit)}"
    rows = [
        (f"[red]{escape(group.code)}[/]", f"{refused}{escape(group.message)}"),
        ("", f"{group.count} occurrence(s) on {where}"),
    ]
    if group.nodes:
        nodes = [f"{ref.cluster}/{ref.node}" for ref in group.nodes]
        rows.append(("", f"nodes: {_names(nodes, limit)}"))
    if group.remediated_clusters:
        tried = _names(group.remediated_clusters, limit)
        rows.append(("", f"fleet's sync ran but did not finish the job on: {tried}"))
    rows.append(("", f"[bold]next:[/] {escape(group.next_step)}"))
    return rows


def _recovered_rows(group: RecoveredGroup, limit: int) -> list[tuple[str, str]]:
    """Done: errors fleet retried, reconciled or remediated on clusters that ended well (no next step)."""
    where = f"{len(group.clusters)} cluster(s), all ended well: {_names(group.clusters, limit)}"
    rows = [
        (f"[green]{escape(group.code)}[/]", escape(group.message)),
        ("", f"{group.count} occurrence(s) on {where}"),
    ]
    if group.remediated_clusters:
        rows.append(("", f"remediated by fleet: {len(group.remediated_clusters)} cluster(s), done"))
    return rows


def _retry_rows(groups: Mapping[str, RetryGroup], ended: str, limit: int) -> list[tuple[str, str]]:
    """One line per cause: what fleet's client sent again after a transient answer, where, and why."""
    rows: list[tuple[str, str]] = []
    for group in sorted(groups.values(), key=lambda g: (-g.count, g.cause)):
        where = f"{len(group.clusters)} cluster(s){ended}: {_names(group.clusters, limit)}"
        line = f"{escape(group.cause)}: {group.count} sent again ({escape(group.message)}) on {where}"
        rows.append(("" if rows else "retried", line))
    return rows


def _recovered_line(report: Report) -> str:
    """The recovered block's headline: codes recovered from, requests sent again after transient answers."""
    recovered = report.recovered
    parts = []
    if recovered.by_code:
        parts.append(f"{len(recovered.by_code)} code(s) on {len(recovered.by_cluster)} cluster(s)")
    if recovered.retried:
        sent_again = sum(group.count for group in recovered.retried.values())
        parts.append(f"{sent_again} request(s) sent again after transient answers")
    return "; ".join([*parts, "nothing left to do"])


def _grid(report: Report, path: str | os.PathLike[str] | None, limit: int) -> Table:
    run, summary = report.run, report.summary
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("run", f"{run.kind} {escape(run.id)}  {_styled(run.outcome)}  exit {run.exit_code}")
    grid.add_row(
        "time",
        f"{summary.duration_s:.1f} s · {summary.clusters_per_second:.1f} clusters/s · "
        f"{summary.requests} requests",
    )
    if run.stop_reason:
        grid.add_row("stopped", escape(run.stop_reason))
    grid.add_row("clusters", f"{summary.total}: {_counts(summary.by_outcome, CLUSTER_OUTCOMES)}")
    if report.pairs:
        grid.add_row("pairs", f"{len(report.pairs)}: {_counts(summary.pairs, PAIR_OUTCOMES)}")
        for pair in [p for p in report.pairs if p.outcome == "split" or p.remediation][:limit]:
            grid.add_row(f"[bold red]{pair.outcome}[/]", _split_row(pair))
    if report.findings or report.drift:
        severities: Counter[str] = Counter(finding.severity for finding in report.findings)
        line = _counts(severities, _SEVERITIES)
        if report.drift:
            drift = report.drift
            line += f" (since last sweep: {len(drift.new)} new, {len(drift.resolved)} resolved)"
        grid.add_row("findings", line)
    if report.run.options.get("dry_run"):
        _plan_rows(grid, report)
    if report.change is not None:
        _change_rows(grid, report.change, limit)
    groups = sorted(report.failures.by_code.values(), key=lambda g: (-g.count, g.code))
    if not groups:
        grid.add_row("failures", "[green]none[/]")
    else:
        grid.add_row("failures", f"{len(groups)} code(s) on {len(report.failures.by_cluster)} cluster(s)")
        for group in groups:
            for label, value in _failure_rows(group, limit):
                grid.add_row(label, value)
    for label, value in _retry_rows(report.failures.retried, " that did not end well", limit):
        grid.add_row(label, value)
    recovered = sorted(report.recovered.by_code.values(), key=lambda g: (-g.count, g.code))
    if recovered or report.recovered.retried:
        grid.add_row("recovered", _recovered_line(report))
        for done in recovered:
            for label, value in _recovered_rows(done, limit):
                grid.add_row(label, value)
        for label, value in _retry_rows(report.recovered.retried, ", all ended well", limit):
            grid.add_row(label, value)
    return grid


def _plan_rows(grid: Table, report: Report) -> None:
    """A dry run's plan, one line per cluster: its wave, what it would get, or why it would not."""
    grid.add_row("plan", "[bold]dry run: nothing was changed[/]")
    for record in report.clusters:
        wave = f"wave {record.wave} " if record.wave is not None else ""
        why = f": {escape(record.reason)}" if record.reason else ""
        grid.add_row("", f"{wave}{escape(record.name)} {_styled(record.outcome)}{why}")


def _change_rows(grid: Table, change: Change, limit: int) -> None:
    """The whole change (every run of the lineage): final outcomes, and what is not done yet."""
    runs = " → ".join(escape(run) for run in change.runs)
    grid.add_row("change", f"{len(change.runs)} runs: {runs}")
    grid.add_row("", f"{len(change.clusters)} clusters: {_counts(change.by_outcome, CLUSTER_OUTCOMES)}")
    open_ = [record for record in change.clusters if record.outcome not in FINISHED]
    for record in open_[:limit]:
        why = f": {escape(record.reason)}" if record.reason else ""
        grid.add_row("", f"{escape(record.name)} {_styled(record.outcome)} (run {escape(record.run)}){why}")
    if len(open_) > limit:
        grid.add_row("", f"… and {len(open_) - limit} more not done")
    if not change.complete:
        grid.add_row("", "[yellow]some runs have no report: their outcomes come from the journal[/]")


def render_summary(
    report: Report,
    console: Console,
    *,
    path: str | os.PathLike[str] | None = None,
    max_names: int = DEFAULT_MAX_NAMES,
) -> None:
    """Print the summary; ``path`` is where the report was written, shown last so it can be copied."""
    console.print(_grid(report, path, max_names))
    if path is not None:  # never wrapped: it is there to be copied
        console.print(f"report    {escape(str(path))}", soft_wrap=True, highlight=False)


def summary_text(
    report: Report, *, path: str | os.PathLike[str] | None = None, max_names: int = DEFAULT_MAX_NAMES
) -> str:
    """The same summary as plain text (no colour, 120 columns) for logs and tests."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None, highlight=False, emoji=False)
    render_summary(report, console, path=path, max_names=max_names)
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())
