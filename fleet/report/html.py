"""A sweep report as one HTML file that needs no network: mailable, archivable, openable offline.

Inline CSS, an inline SVG chart and a few lines of inline JavaScript (click a column header to
sort); no external fonts, scripts or images. Every number also sits in a ``data-metric`` attribute
so tests (and scrapers) read the same figures the JSON report holds. Every text is escaped and
the whole page passes the secret scrubber.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from html import escape
from pathlib import Path

from fleet.report.drift import compliance
from fleet.report.model import Report
from fleet.report.write import write_report_file
from fleet.secrets.scrub import SCRUBBER

SEVERITIES = ("critical", "warning", "info")
_COLOURS = {"compliant": "#2e7d32", "non_compliant": "#c62828", "critical": "#c62828", "warning": "#ef6c00"}
_COLOURS["info"] = "#546e7a"

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}table.sortable th{cursor:pointer}
.ok{color:#2e7d32}.bad{color:#c62828}.critical{color:#c62828}.warning{color:#ef6c00}.info{color:#546e7a}
dl.summary{display:grid;grid-template-columns:max-content max-content;gap:.2em 1em}dt{font-weight:600}
"""

_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th, col){
  th.addEventListener('click', function(){
    var body = th.closest('table').tBodies[0], rows = Array.from(body.rows);
    var asc = th.dataset.dir !== 'asc'; th.dataset.dir = asc ? 'asc' : 'desc';
    rows.sort(function(a, b){
      var x = a.cells[col].dataset.sort || a.cells[col].textContent;
      var y = b.cells[col].dataset.sort || b.cells[col].textContent;
      var n = parseFloat(x) - parseFloat(y);
      var r = isNaN(n) ? x.localeCompare(y) : n;
      return asc ? r : -r;
    });
    rows.forEach(function(row){ body.appendChild(row); });
  });
});
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _chart(compliant: int, total: int) -> str:
    """A stacked bar: compliant vs not, with the share written beside it."""
    width = 400
    ok = round(width * compliant / total) if total else 0
    share = f"{100 * compliant / total:.1f}%" if total else "n/a"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 120}" height="34" role="img" '
        f'aria-label="{_e(share)} compliant">'
        f'<rect x="0" y="4" width="{ok}" height="24" fill="{_COLOURS["compliant"]}"/>'
        f'<rect x="{ok}" y="4" width="{width - ok}" height="24" fill="{_COLOURS["non_compliant"]}"/>'
        f'<text x="{width + 8}" y="22">{_e(share)} compliant</text></svg>'
    )


def _rule_bars(by_rule: Counter[tuple[str, str]]) -> str:
    if not by_rule:
        return ""
    top = max(by_rule.values())
    rows = []
    for index, ((rule, severity), count) in enumerate(sorted(by_rule.items(), key=lambda i: (-i[1], i[0]))):
        y = index * 22
        bar = max(2, round(300 * count / top))
        rows.append(
            f'<text x="0" y="{y + 15}">{_e(rule)}</text>'
            f'<rect x="200" y="{y + 3}" width="{bar}" height="16" fill="{_COLOURS[severity]}"/>'
            f'<text x="{206 + bar}" y="{y + 15}">{count}</text>'
        )
    height = 22 * len(by_rule)
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="560" height="{height}">{"".join(rows)}</svg>'


def render_html(report: Report, sites: Mapping[str, str]) -> str:
    """The page; ``sites`` maps cluster names to their ``site`` label (from the inventory)."""
    run, ok_by_cluster = report.run, compliance(report)
    total, compliant = len(ok_by_cluster), sum(ok_by_cluster.values())
    severities: Counter[str] = Counter(finding.severity for finding in report.findings)
    by_rule: Counter[tuple[str, str]] = Counter(
        (finding.rule, finding.severity) for finding in report.findings
    )
    per_cluster = Counter(finding.cluster for finding in report.findings)
    metrics: dict[str, int] = {
        "clusters": total,
        "compliant": compliant,
        "non_compliant": total - compliant,
        "findings": len(report.findings),
        **{f"findings_{severity}": severities.get(severity, 0) for severity in SEVERITIES},
    }
    if report.drift is not None:
        metrics |= {
            "drift_new": len(report.drift.new),
            "drift_resolved": len(report.drift.resolved),
            "drift_unchanged": len(report.drift.unchanged),
        }
    summary = "".join(
        f'<dt>{_e(name.replace("_", " "))}</dt><dd data-metric="{_e(name)}">{value}</dd>'
        for name, value in metrics.items()
    )
    rule_rows = "".join(
        f'<tr data-rule="{_e(rule)}" data-severity="{_e(sev)}"><td>{_e(rule)}</td>'
        f'<td class="{_e(sev)}">{_e(sev)}</td><td data-count="{n}">{n}</td></tr>'
        for (rule, sev), n in sorted(by_rule.items())
    )
    site_stats: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for name, ok in ok_by_cluster.items():
        stats = site_stats[sites.get(name, "")]
        stats[0] += 1
        stats[1] += ok
    for finding in report.findings:
        site_stats[sites.get(finding.cluster, "")][2] += 1
    site_rows = "".join(
        f'<tr data-site="{_e(site)}"><td>{_e(site or "(none)")}</td><td data-col="clusters">{c}</td>'
        f'<td data-col="compliant">{ok}</td><td data-col="findings">{f}</td></tr>'
        for site, (c, ok, f) in sorted(site_stats.items())
    )
    cluster_rows = "".join(
        f'<tr data-cluster="{_e(c.name)}"><td>{_e(c.name)}</td><td>{_e(sites.get(c.name, ""))}</td>'
        f"<td>{_e(c.ontap_version or '')}</td>"
        f'<td data-col="compliant" class="{"ok" if ok_by_cluster[c.name] else "bad"}">'
        f"{'yes' if ok_by_cluster[c.name] else 'no'}</td>"
        f'<td data-col="findings" data-sort="{per_cluster.get(c.name, 0)}">{per_cluster.get(c.name, 0)}</td>'
        f"<td>{_e(c.reason or c.outcome)}</td></tr>"
        for c in report.clusters
    )
    finding_rows = "".join(
        f'<tr><td>{_e(f.cluster)}</td><td data-col="svm">{_e(f.svm or "")}</td><td>{_e(f.rule)}</td>'
        f'<td class="{_e(f.severity)}">{_e(f.severity)}</td><td>{_e(f.message)}</td></tr>'
        for f in report.findings
    )
    drift = ""
    if report.drift is not None:
        drift_rows = "".join(
            f"<tr><td>{kind}</td><td>{_e(f.cluster)}</td><td>{_e(f.rule)}</td><td>{_e(f.message)}</td></tr>"
            for kind, items in (("new", report.drift.new), ("resolved", report.drift.resolved))
            for f in items
        )
        drift = (
            '<h2>Drift since the previous sweep</h2><table class="sortable" id="drift"><thead><tr><th>change'
            f"</th><th>cluster</th><th>rule</th><th>message</th></tr></thead><tbody>{drift_rows}</tbody></table>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>fleet {_e(run.kind)} {_e(run.id)}</title>
<style>{_CSS}</style></head><body>
<h1>fleet {_e(run.kind)} <span data-run-id="{_e(run.id)}">{_e(run.id)}</span></h1>
<p>Finished {_e(run.finished_at.isoformat(timespec="seconds"))}, outcome
<strong data-outcome="{_e(run.outcome)}">{_e(run.outcome.replace("_", " "))}</strong>,
exit {run.exit_code}, {report.summary.duration_s:.1f} s.</p>
{_chart(compliant, total)}
<dl class="summary">{summary}</dl>
<h2>Findings by rule</h2>{_rule_bars(by_rule)}
<table id="rules" class="sortable"><thead><tr><th>rule</th><th>severity</th><th>count</th></tr></thead>
<tbody>{rule_rows}</tbody></table>
<h2>By site</h2><table id="sites" class="sortable"><thead><tr><th>site</th><th>clusters</th><th>compliant</th>
<th>findings</th></tr></thead><tbody>{site_rows}</tbody></table>
<h2>Clusters</h2><table id="clusters" class="sortable"><thead><tr><th>cluster</th><th>site</th><th>ONTAP</th>
<th>compliant</th><th>findings</th><th>reason</th></tr></thead><tbody>{cluster_rows}</tbody></table>
{drift}
<h2>All findings</h2><table id="findings" class="sortable"><thead><tr><th>cluster</th><th>svm</th>
<th>rule</th><th>severity</th><th>message</th></tr></thead><tbody>{finding_rows}</tbody></table>
<script>{_JS}</script></body></html>
"""
    return SCRUBBER.scrub(page)


def write_html(report: Report, path: Path, sites: Mapping[str, str]) -> Path:
    return write_report_file(path, render_html(report, sites))
