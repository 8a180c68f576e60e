"""A sweep report as one HTML file that needs no network: mailable, archivable, openable offline.

The page is for the person who acts on it, so it leads with what needs a human: non-compliant
clusters first, then the ``unknown`` ones (not checked, unreachable, interrupted: fleet does not
know, and says so in grey with the reason, never as "non-compliant"), then the compliant ones.
Every table sorts by any column (``sweep_page.js``: click a header, click again to reverse; counts
sort as numbers). Colour never carries meaning alone: each state and severity is also a word, and a
rule's chart label names its severity, so ``key_store critical`` and ``key_store info`` differ in
text. Counts say what they count: a cluster's "findings" are its critical and warning findings
(those that make it non-compliant) and its reason lists exactly those; ``info`` is counted apart.

CSS and JavaScript are inlined from ``sweep_page.css`` and ``sweep_page.js`` (package data); no
external fonts, scripts or images. Every number also sits in a ``data-metric`` attribute so tests
(and scrapers) read the same figures the JSON report holds. Every text is escaped and the whole
page passes the secret scrubber.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path
from typing import Literal

from fleet.outcomes import ClusterOutcome
from fleet.report.model import ClusterRecord, Drift, Finding, Report
from fleet.report.states import COUNTED_SEVERITIES, counts_against
from fleet.report.write import write_report_file
from fleet.secrets.scrub import SCRUBBER

State = Literal["non_compliant", "unknown", "compliant"]
STATES: tuple[State, ...] = ("non_compliant", "unknown", "compliant")  # the page's default order
STATE_WORDS: dict[State, str] = {
    "non_compliant": "non-compliant",
    "unknown": "unknown",
    "compliant": "compliant",
}
SEVERITIES = ("critical", "warning", "info")
READ = frozenset({ClusterOutcome.SUCCEEDED, ClusterOutcome.ALREADY_CURRENT})
NOT_READ_RULE = "readable"  # the finding a sweep records for a cluster it could not read
NOT_CHECKED = "—"

_WHY_NOT_CHECKED: dict[str, str] = {
    ClusterOutcome.NOT_STARTED: "the sweep stopped before it reached this cluster",
    ClusterOutcome.INTERRUPTED: "the sweep was interrupted while reading this cluster",
}


@cache
def _asset(name: str) -> str:
    return Path(__file__).with_name(name).read_text(encoding="utf-8")


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# --- each cluster's state, and the findings that decide it ----------------------------------------------


@dataclass(frozen=True, slots=True)
class ClusterView:
    """One cluster as the page shows it: its state, the findings counted against it, and why."""

    record: ClusterRecord
    site: str
    state: State
    counted: tuple[Finding, ...]  # critical and warning: what makes a cluster non-compliant
    info: tuple[Finding, ...]  # blind spots, never counted
    reason: str

    @property
    def order(self) -> tuple[int, int, str]:
        """Non-compliant first (most findings first), then unknown, then compliant; by name."""
        return STATES.index(self.state), -len(self.counted), self.record.name


def _recorded_state(record: ClusterRecord, recorded: str | None) -> State | None:
    """The state the report's ``compliance`` section records for the cluster, if it has one."""
    if recorded is None and record.outcome == "unknown":
        recorded = "unknown"
    for state in STATES:
        if recorded == state:
            return state
    return None


def _not_checked_reason(record: ClusterRecord, not_read: Finding | None) -> str:
    """Why fleet does not know: the cluster could not be read, or was never (fully) read."""
    recorded = record.reason or ""
    if recorded.startswith(("not checked", "could not be read")):
        return recorded
    if record.outcome == ClusterOutcome.FAILED:
        return f"could not be read: {recorded or (not_read.message if not_read else 'no reason recorded')}"
    why = _WHY_NOT_CHECKED.get(record.outcome)
    if why is None:
        why = recorded or (not_read.message if not_read else record.outcome.replace("_", " "))
    elif recorded:
        why = f"{why} ({recorded})"
    return f"not checked: {why}"


def _findings_reason(state: State, counted: Sequence[Finding], info: Sequence[Finding]) -> str:
    """The findings the row counts, named: its reason and its counts always agree."""
    parts = []
    if counted:
        rules = ", ".join(f"{f.rule} ({f.severity})" for f in counted)
        parts.append(f"{_plural(len(counted), 'finding')}: {rules}")
    elif state == "compliant":
        parts.append("compliant")
    if info:
        parts.append(f"{len(info)} info, not counted: {', '.join(f.rule for f in info)}")
    return "; ".join(parts)


def cluster_view(
    record: ClusterRecord, site: str, findings: Iterable[Finding], recorded: str | None = None
) -> ClusterView:
    mine = sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), f.rule))
    not_read = next((f for f in mine if f.rule == NOT_READ_RULE), None)
    counted = tuple(f for f in mine if counts_against(f) and f.rule != NOT_READ_RULE)
    info = tuple(f for f in mine if not counts_against(f))
    state = _recorded_state(record, recorded)
    if state is None:
        if counted:
            state = "non_compliant"
        elif record.outcome in READ and not_read is None:
            state = "compliant"
        else:
            state = "unknown"
    if state == "unknown":
        reason = _not_checked_reason(record, not_read)
    else:
        reason = _findings_reason(state, counted, info) or record.reason or ""
    return ClusterView(record, site, state, counted, info, reason)


def cluster_views(report: Report, sites: Mapping[str, str]) -> list[ClusterView]:
    """Every cluster of the report in the page's default order."""
    by_cluster: dict[str, list[Finding]] = {}
    for finding in report.findings:
        by_cluster.setdefault(finding.cluster, []).append(finding)
    verdicts = report.compliance.clusters if report.compliance is not None else {}
    views = [
        cluster_view(
            c,
            sites.get(c.name, ""),
            by_cluster.get(c.name, ()),
            verdicts[c.name].state if c.name in verdicts else None,
        )
        for c in report.clusters
    ]
    return sorted(views, key=lambda view: view.order)


# --- the parts of the page ---------------------------------------------------------------------------------


def _version_key(version: str | None) -> str:
    """ONTAP versions sort by number (9.8 before 9.12): each part zero-padded."""
    return ".".join(f"{int(part):04}" for part in re.findall(r"\d+", version or ""))


def _th(label: str, *, number: bool = False, sort: str | None = None) -> str:
    attrs = ' data-type="number"' if number else ""
    attrs += f' aria-sort="{sort}"' if sort else ""
    return f'<th scope="col"{attrs}><button type="button">{_e(label)}</button></th>'


def _table(table_id: str, caption: str, heads: list[str], rows: list[str], *, compact: bool = False) -> str:
    kind = "sortable compact" if compact else "sortable"
    return (
        f'<table id="{table_id}" class="{kind}" aria-label="{_e(caption)}"><thead><tr>{"".join(heads)}'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _state_cell(state: State) -> str:
    return (
        f'<td class="word state {state}" data-col="state" data-sort="{STATES.index(state)}">'
        f"{STATE_WORDS[state]}</td>"
    )


def _severity_cell(severity: str) -> str:
    return f'<td class="word sev {_e(severity)}" data-sort="{SEVERITIES.index(severity)}">{_e(severity)}</td>'


def _num(value: int | None, col: str | None = None) -> str:
    """A count; None is "not checked" (sorts below every count)."""
    attrs = f' data-col="{col}"' if col else ""
    if value is None:
        return f'<td class="num"{attrs} data-sort="-1" title="not checked">{NOT_CHECKED}</td>'
    return f'<td class="num"{attrs}>{value}</td>'


def _headline(views: list[ClusterView]) -> str:
    total = len(views)
    counts = Counter(view.state for view in views)
    if not total:
        return '<p class="headline">No clusters were selected.</p>'
    share = f"{100 * counts['compliant'] / total:.1f}%"
    text = (
        f"{counts['compliant']} of {total} clusters compliant ({share}), "
        f"{counts['non_compliant']} non-compliant, {counts['unknown']} unknown"
    )
    if counts["unknown"]:
        text += " (not checked or unreachable)"
    segments = "".join(
        f'<span class="fill-{state}" style="width:{100 * counts[state] / total:.3f}%" '
        f'title="{_e(STATE_WORDS[state])}: {counts[state]}"></span>'
        for state in ("compliant", "non_compliant", "unknown")
        if counts[state]
    )
    legend = "".join(
        f'<li><span class="swatch fill-{state}"></span>{counts[state]} {STATE_WORDS[state]}</li>'
        for state in ("compliant", "non_compliant", "unknown")
    )
    return (
        f'<p class="headline"><strong>{_e(text)}</strong>.</p>'
        f'<div class="bar" role="img" aria-label="{_e(text)}">{segments}</div>'
        f'<ul class="legend">{legend}</ul>'
    )


def _summary(report: Report, views: list[ClusterView]) -> str:
    """Three boxes of figures (clusters, findings, drift); each label says what its number counts."""
    states = Counter(view.state for view in views)
    severities: Counter[str] = Counter(finding.severity for finding in report.findings)
    groups: list[tuple[str, list[tuple[str, str, int]]]] = [
        (
            "Clusters",
            [
                ("clusters", "selected", len(views)),
                ("compliant", "compliant", states["compliant"]),
                ("non_compliant", "non-compliant", states["non_compliant"]),
                ("unknown", "unknown (not checked)", states["unknown"]),
            ],
        ),
        (
            "Findings",
            [
                ("findings", "all severities", len(report.findings)),
                *((f"findings_{sev}", sev, severities[sev]) for sev in SEVERITIES),
            ],
        ),
    ]
    if report.drift is not None:
        groups.append(
            (
                "Since the last sweep",
                [
                    ("drift_new", "new findings", len(report.drift.new)),
                    ("drift_resolved", "resolved", len(report.drift.resolved)),
                    ("drift_unchanged", "unchanged", len(report.drift.unchanged)),
                ],
            )
        )
    boxes = "".join(
        f'<section class="figures"><h3>{_e(title)}</h3><dl>'
        + "".join(
            f'<div><dt>{_e(label)}</dt><dd data-metric="{_e(name)}">{value}</dd></div>'
            for name, label, value in figures
        )
        + "</dl></section>"
        for title, figures in groups
    )
    return (
        f'<div class="summary">{boxes}</div><p class="note">Only critical and warning findings make a '
        "cluster non-compliant; info marks a blind spot (a field the cluster's ONTAP release does not "
        "report) and is never counted.</p>"
    )


def _rules(report: Report) -> str:
    by_rule = Counter((finding.rule, finding.severity) for finding in report.findings)
    if not by_rule:
        return "<h2>Findings by rule</h2><p>No findings.</p>"
    ordered = sorted(by_rule.items(), key=lambda item: (SEVERITIES.index(item[0][1]), -item[1], item[0][0]))
    top = max(by_rule.values())
    chart = "".join(
        f'<span class="label">{_e(rule)} <span class="sev {_e(sev)}">{_e(sev)}</span></span>'
        f'<span class="track"><span class="fill-{_e(sev)}" style="width:calc((100% - 4em) * {n / top:.4f})">'
        f"</span><span>{n}</span></span>"
        for (rule, sev), n in ordered
    )
    rows = [
        f'<tr data-rule="{_e(rule)}" data-severity="{_e(sev)}"><td class="id">{_e(rule)}</td>'
        f'{_severity_cell(sev)}<td class="num" data-count="{n}">{n}</td>'
        f'<td class="word">{"yes" if sev in COUNTED_SEVERITIES else "no"}</td></tr>'
        for (rule, sev), n in ordered
    ]
    heads = [_th("rule"), _th("severity", sort="ascending"), _th("findings", number=True)]
    heads.append(_th("makes a cluster non-compliant"))
    return (
        f'<h2>Findings by rule</h2><div class="rule-chart" role="img" aria-label="findings by rule">{chart}'
        f"</div>{_table('rules', 'findings by rule', heads, rows, compact=True)}"
    )


def _sites(views: list[ClusterView]) -> str:
    stats: dict[str, Counter[str]] = {}
    for view in views:
        site = stats.setdefault(view.site, Counter())
        site["clusters"] += 1
        site[view.state] += 1
        site["findings"] += len(view.counted)
        site["info"] += len(view.info)
    ordered = sorted(stats.items(), key=lambda item: (-item[1]["non_compliant"], item[0]))
    rows = [
        f'<tr data-site="{_e(site)}"><td class="id">{_e(site or "(none)")}</td>'
        + "".join(
            _num(counts[col], col)
            for col in ("clusters", "compliant", "non_compliant", "unknown", "findings", "info")
        )
        + "</tr>"
        for site, counts in ordered
    ]
    heads = [_th("site"), _th("clusters", number=True), _th("compliant", number=True)]
    heads += [_th("non-compliant", number=True, sort="descending"), _th("unknown", number=True)]
    heads += [_th("findings", number=True), _th("info", number=True)]
    return f"<h2>By site</h2>{_table('sites', 'clusters by site', heads, rows, compact=True)}"


def _clusters(views: list[ClusterView]) -> str:
    rows = []
    for view in views:
        c, unknown = view.record, view.state == "unknown"
        rows.append(
            f'<tr data-cluster="{_e(c.name)}" class="{view.state}"><td class="id">{_e(c.name)}</td>'
            f'<td class="id">{_e(view.site)}</td>'
            f'<td class="id" data-sort="{_version_key(c.ontap_version)}">{_e(c.ontap_version or "")}</td>'
            f"{_state_cell(view.state)}"
            f"{_num(None if unknown else len(view.counted), 'findings')}"
            f"{_num(None if unknown else len(view.info), 'info')}"
            f"<td>{_e(view.reason)}</td></tr>"
        )
    heads = [_th("cluster"), _th("site"), _th("ONTAP"), _th("state", sort="ascending")]
    heads += [_th("findings", number=True), _th("info", number=True), _th("reason")]
    return (
        '<h2>Clusters</h2><p class="note">findings: critical and warning (these make a cluster '
        f"non-compliant); info: blind spots, not counted; {NOT_CHECKED}: not checked.</p>"
        f"{_table('clusters', 'clusters', heads, rows)}"
    )


def _finding_rows(
    findings: Iterable[Finding], sites: Mapping[str, str], change: str | None = None
) -> list[str]:
    rows = []
    for f in findings:
        first = f'<td class="word" data-sort="{0 if change == "new" else 1}">{change}</td>' if change else ""
        site = sites.get(f.cluster, "")
        rows.append(
            f'<tr>{first}<td class="id">{_e(f.subject)}</td><td class="id">{_e(site)}</td>'
            f'<td class="id">{_e(f.rule)}</td>{_severity_cell(f.severity)}<td>{_e(f.message)}</td></tr>'
        )
    return rows


def _by_severity(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), f.cluster, f.rule))


def _drift(drift: Drift | None, sites: Mapping[str, str]) -> str:
    title = "<h2>Drift since the last sweep</h2>"
    if drift is None:
        return f"{title}<p>No earlier sweep to compare with: drift is shown from the next sweep on.</p>"
    unchanged = _plural(len(drift.unchanged), "finding")
    if not drift.new and not drift.resolved:
        return f"{title}<p>No change since the last sweep: {unchanged} unchanged.</p>"
    rows = _finding_rows(_by_severity(drift.new), sites, "new")
    rows += _finding_rows(_by_severity(drift.resolved), sites, "resolved")
    heads = [_th("change", sort="ascending"), _th("cluster"), _th("site"), _th("rule"), _th("severity")]
    heads.append(_th("message"))
    return (
        f"{title}<p>{len(drift.new)} new, {len(drift.resolved)} resolved, {unchanged} unchanged.</p>"
        f"{_table('drift', 'drift since the last sweep', heads, rows)}"
    )


def _all_findings(report: Report, sites: Mapping[str, str]) -> str:
    if not report.findings:
        return "<h2>All findings</h2><p>No findings.</p>"
    heads = [_th("cluster"), _th("site"), _th("rule"), _th("severity", sort="ascending"), _th("message")]
    rows = _finding_rows(_by_severity(report.findings), sites)
    return f"<h2>All findings</h2>{_table('findings', 'all findings', heads, rows)}"


def render_html(report: Report, sites: Mapping[str, str]) -> str:
    """The page; ``sites`` maps cluster names to their ``site`` label (from the inventory)."""
    run = report.run
    views = cluster_views(report, sites)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fleet {_e(run.kind)} {_e(run.id)}</title>
<style>{_asset("sweep_page.css")}</style></head><body>
<h1>fleet {_e(run.kind)} <span data-run-id="{_e(run.id)}">{_e(run.id)}</span></h1>
<p class="meta">Finished {_e(run.finished_at.isoformat(timespec="seconds"))}, outcome
<strong data-outcome="{_e(run.outcome)}">{_e(run.outcome.replace("_", " "))}</strong>,
exit {run.exit_code}, {report.summary.duration_s:.1f} s. Click a column header to sort; click again to
reverse.</p>
{_headline(views)}
{_summary(report, views)}
{_rules(report)}
{_sites(views)}
{_clusters(views)}
{_drift(report.drift, sites)}
{_all_findings(report, sites)}
<script>{_asset("sweep_page.js")}</script></body></html>
"""
    return SCRUBBER.scrub(page)


def write_html(report: Report, path: Path, sites: Mapping[str, str]) -> Path:
    return write_report_file(path, render_html(report, sites))
