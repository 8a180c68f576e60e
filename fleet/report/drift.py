"""Sweeps over time: which findings are new, resolved or unchanged since the previous complete sweep.

A finding is identified by (cluster, SVM, rule): its observed value may move (three nodes missing keys
yesterday, two today) and it is still the same problem, so it is "unchanged", not resolved + new.
A cluster this sweep could not check (unknown: unreachable, never started) resolved nothing: its
earlier findings are left out of the drift rather than reported resolved.
The previous sweep is ``--since REPORT`` or the newest earlier *complete* sweep report in the same
directory: a partial sweep (interrupted, stopped early) is never a baseline, or the next sweep would
report everything it did not check as "new". ``--keep N`` prunes older sweep reports there (never
any other file, and never the newest complete one).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fleet.report.model import SCHEMA_ID, Drift, Finding
from fleet.report.states import compliance as compliance  # re-exported: the HTML page reads it here
from fleet.report.states import is_complete


def _key(finding: Finding) -> tuple[str, str, str]:
    """(cluster, data SVM or "", rule): the same rule on two SVMs of a cluster is two problems."""
    return finding.cluster, finding.svm or "", finding.rule


def compute_drift(
    current: Iterable[Finding], previous: Iterable[Finding], *, unknown: Collection[str] = ()
) -> Drift:
    """``unknown``: clusters this sweep could not check; their earlier findings are not "resolved"."""
    now = {_key(finding): finding for finding in current}
    before = {_key(finding): finding for finding in previous}
    gone = [key for key in sorted(before.keys() - now.keys()) if key[0] not in unknown]
    return Drift(
        new=[now[key] for key in sorted(now.keys() - before.keys())],
        resolved=[before[key] for key in gone],
        unchanged=[now[key] for key in sorted(now.keys() & before.keys())],
    )


@dataclass(frozen=True, slots=True)
class SweepFile:
    path: Path
    finished_at: datetime
    complete: bool


def read_sweep_file(path: Path) -> SweepFile | None:
    """When the sweep in ``path`` finished and whether it is complete; None when it is not a sweep report."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("schema") != SCHEMA_ID or data["run"]["kind"] != "sweep":
            return None
        complete = is_complete(str(cluster["outcome"]) for cluster in data["clusters"])
        return SweepFile(path, datetime.fromisoformat(data["run"]["finished_at"]), complete)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def sweep_files(directory: Path) -> list[SweepFile]:
    """The sweep reports in ``directory``, oldest first (by the time the sweep finished)."""
    if not directory.is_dir():
        return []
    found = [sweep for path in directory.glob("*.json") if (sweep := read_sweep_file(path))]
    return sorted(found, key=lambda sweep: (sweep.finished_at, sweep.path))


def previous_sweep(directory: Path, *, exclude: Path | None = None) -> SweepFile | None:
    """The newest complete sweep report in ``directory`` other than ``exclude`` (the one being written)."""
    skip = exclude.resolve() if exclude is not None else None
    candidates = [s for s in sweep_files(directory) if s.complete and s.path.resolve() != skip]
    return candidates[-1] if candidates else None


def prune_sweeps(directory: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest sweep reports in ``directory`` and the newest complete one."""
    if keep < 1:
        raise ValueError("keep at least one sweep report (drift needs the latest)")
    sweeps = sweep_files(directory)
    baseline = next((sweep.path for sweep in reversed(sweeps) if sweep.complete), None)
    old = [sweep.path for sweep in sweeps[:-keep] if sweep.path != baseline]
    for path in old:
        path.unlink(missing_ok=True)
    return old
