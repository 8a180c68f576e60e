"""Sweeps over time: which findings are new, resolved or unchanged since the previous sweep.

A finding is identified by (cluster, SVM, rule): its observed value may move (three nodes missing keys
yesterday, two today) and it is still the same problem, so it is "unchanged", not resolved + new.
The previous sweep is ``--since REPORT`` or the newest earlier sweep report in the same directory;
``--keep N`` prunes older sweep reports there (never any other file).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from fleet.report.model import SCHEMA_ID, Drift, Finding, Report

COUNTED_SEVERITIES = frozenset({"critical", "warning"})


def counts_against(finding: Finding) -> bool:
    """Does a finding make its cluster non-compliant? ``info`` (a blind spot, e.g. an old release): no."""
    return finding.severity in COUNTED_SEVERITIES


def compliance(report: Report) -> dict[str, bool]:
    """Cluster name → compliant: read successfully and no critical or warning finding."""
    against = {finding.cluster for finding in report.findings if counts_against(finding)}
    return {
        cluster.name: cluster.name not in against and cluster.outcome in ("succeeded", "already_current")
        for cluster in report.clusters
    }


def _key(finding: Finding) -> tuple[str, str, str]:
    """(cluster, data SVM or "", rule): the same rule on two SVMs of a cluster is two problems."""
    return finding.cluster, finding.svm or "", finding.rule


def compute_drift(current: Iterable[Finding], previous: Iterable[Finding]) -> Drift:
    now = {_key(finding): finding for finding in current}
    before = {_key(finding): finding for finding in previous}
    return Drift(
        new=[now[key] for key in sorted(now.keys() - before.keys())],
        resolved=[before[key] for key in sorted(before.keys() - now.keys())],
        unchanged=[now[key] for key in sorted(now.keys() & before.keys())],
    )


def _sweep_finished_at(path: Path) -> datetime | None:
    """When the sweep in ``path`` finished, or None when the file is not a fleet sweep report."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("schema") != SCHEMA_ID or data["run"]["kind"] != "sweep":
            return None
        return datetime.fromisoformat(data["run"]["finished_at"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def sweep_reports(directory: Path) -> list[Path]:
    """The sweep reports in ``directory``, oldest first (by the time the sweep finished)."""
    if not directory.is_dir():
        return []
    dated = [(when, path) for path in directory.glob("*.json") if (when := _sweep_finished_at(path))]
    return [path for _, path in sorted(dated)]


def previous_sweep(directory: Path, *, exclude: Path | None = None) -> Path | None:
    """The newest sweep report in ``directory`` other than ``exclude`` (the one being written)."""
    skip = exclude.resolve() if exclude is not None else None
    candidates = [path for path in sweep_reports(directory) if path.resolve() != skip]
    return candidates[-1] if candidates else None


def prune_sweeps(directory: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest sweep reports in ``directory``; returns what was deleted."""
    if keep < 1:
        raise ValueError("keep at least one sweep report (drift needs the latest)")
    old = sweep_reports(directory)[:-keep]
    for path in old:
        path.unlink(missing_ok=True)
    return old
