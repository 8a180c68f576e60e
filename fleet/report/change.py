"""One record per change: the runs of a lineage (a run and the resumes that continued it) folded
into the final outcome of every cluster of the first run's selection.

Pure: the engine gathers each run's report (or, when a report is gone, the journal's unit rows)
and hands them here; ``fleet report show`` and a resumed run's report both read the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fleet.outcomes import ClusterOutcome, PairOutcome
from fleet.report.model import Change, ChangeCluster, ChangePair, Report

FROM_JOURNAL = "the run's report is missing; outcome from the journal"


@dataclass(frozen=True, slots=True)
class RunPart:
    """One run of a lineage: its report when one was written, and the journal's view of its units."""

    run_id: str
    report: Report | None
    units: Sequence[tuple[tuple[str, ...], str]] = ()  # (clusters of the unit, its journal status)


def consolidate(parts: Sequence[RunPart]) -> Change:
    """The change made by ``parts`` (oldest run first): a later run's outcome wins, except that a
    later ``not_started`` never hides what an earlier run did."""
    if not parts:
        raise ValueError("a change has at least one run")
    clusters: dict[str, ChangeCluster] = {}
    pairs: dict[str, ChangePair] = {}
    sites: dict[str, tuple[str, str]] = {}
    for part in parts:
        ran: set[str] = set()
        for record in _cluster_records(part):
            if record.outcome == ClusterOutcome.NOT_STARTED and record.name in clusters:
                continue
            clusters[record.name] = record
            if record.outcome != ClusterOutcome.NOT_STARTED:
                ran.add(record.name)
        if part.report is not None:
            recorded = {pair.name for pair in part.report.pairs}
            for name in [n for n in pairs if n not in recorded and set(sites[n]) <= ran]:
                del pairs[name]  # a later run did both sites and found nothing to say of the pair
            for pair in part.report.pairs:
                sites[pair.name] = pair.sites
                if pair.outcome == PairOutcome.NOT_STARTED and pair.name in pairs:
                    continue
                pairs[pair.name] = ChangePair(
                    name=pair.name,
                    outcome=pair.outcome,
                    run=part.run_id,
                    reason=pair.reason,
                    remediation=pair.remediation,
                )
    selection = _selection(parts[0]) or list(clusters)
    final = [clusters[name] for name in selection if name in clusters]
    counts = {outcome.value: 0 for outcome in ClusterOutcome}
    for record in final:
        counts[record.outcome] += 1
    return Change(
        runs=[part.run_id for part in parts],
        complete=all(part.report is not None for part in parts),
        by_outcome=counts,
        clusters=final,
        pairs=[pairs[name] for name in sorted(pairs)],
    )


def _cluster_records(part: RunPart) -> Iterable[ChangeCluster]:
    if part.report is not None:
        for record in part.report.clusters:
            yield ChangeCluster(
                name=record.name,
                outcome=record.outcome,
                run=part.run_id,
                reason=record.reason,
                wave=record.wave,
                passphrase_fingerprint=record.passphrase_fingerprint,
            )
        return
    for names, status in part.units:
        outcome = _from_journal(status)
        for name in names:
            yield ChangeCluster(name=name, outcome=outcome, run=part.run_id, reason=FROM_JOURNAL)


def _from_journal(status: str) -> ClusterOutcome:
    """A unit's journal status as a cluster outcome: a pair's ``rotated`` is each site's success;
    a unit left ``running`` by a run that died was in flight."""
    if status == PairOutcome.ROTATED:
        return ClusterOutcome.SUCCEEDED
    if status == "running":
        return ClusterOutcome.INTERRUPTED
    try:
        return ClusterOutcome(status)
    except ValueError:
        return ClusterOutcome.NOT_STARTED


def _selection(first: RunPart) -> list[str]:
    """The first run's clusters in its own order (its units, else its report)."""
    if first.units:
        return [name for names, _ in first.units for name in names]
    if first.report is not None:
        return [record.name for record in first.report.clusters]
    return []
