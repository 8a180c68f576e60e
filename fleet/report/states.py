"""Compliance states: each cluster of a sweep compliant, non_compliant or unknown; is the sweep complete?

A cluster is ``compliant`` or ``non_compliant`` only when the sweep read it; a cluster it could not
read (unreachable, refused its credentials, not the cluster named) or never got to (the sweep was
interrupted) is ``unknown``, with the reason — never ``non_compliant``: monitoring must not page
someone about a policy breach that is a network outage or an unchecked cluster.

A sweep is **complete** when it checked every selected cluster; an unreachable cluster counts as
checked (the sweep ran through: the textfile is published, the cluster shows as unreachable). A
sweep that stopped early — clusters ``not_started`` or ``interrupted`` — is **partial**: it is never a
drift baseline and never replaces the last complete Prometheus textfile (unless ``--publish-partial``).

Everything here is derived from what any sweep report holds (cluster outcomes, findings, the error a
failed step met), so a report written before fleet recorded the states reads the same.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime

from fleet.outcomes import ClusterOutcome, ComplianceState, Unknown
from fleet.report.model import ClusterCompliance, ClusterRecord, Compliance, Finding, Report

COUNTED_SEVERITIES = frozenset({"critical", "warning"})
#: A cluster that ended like this was read: its findings decide its state.
READ = frozenset({ClusterOutcome.SUCCEEDED, ClusterOutcome.ALREADY_CURRENT})
#: A cluster that ended like this was never (fully) checked: the sweep stopped first.
NOT_CHECKED = {
    ClusterOutcome.NOT_STARTED: Unknown.NOT_CHECKED,
    ClusterOutcome.INTERRUPTED: Unknown.INTERRUPTED,
}
#: The error kinds (``ErrorInfo.kind``) that mean no answer came back.
NO_ANSWER = frozenset({"transport", "timeout"})


def counts_against(finding: Finding) -> bool:
    """Does a finding make its cluster non-compliant? ``info`` (a blind spot, e.g. an old release): no."""
    return finding.severity in COUNTED_SEVERITIES


def is_complete(outcomes: Iterable[str]) -> bool:
    """Did the sweep check every cluster? ``outcomes`` are its clusters' outcomes."""
    return not any(outcome in NOT_CHECKED for outcome in outcomes)


def why_unknown(record: ClusterRecord) -> Unknown:
    if record.outcome in NOT_CHECKED:
        return NOT_CHECKED[ClusterOutcome(record.outcome)]
    errors = [step.error for step in record.steps if step.error is not None]
    return Unknown.UNREACHABLE if errors and errors[-1].kind in NO_ANSWER else Unknown.UNREADABLE


def build_compliance(
    records: Sequence[ClusterRecord],
    findings: Iterable[Finding],
    verified_at: Mapping[str, datetime | None],
) -> Compliance:
    """Every cluster's state; ``verified_at``: when the journal last verified each cluster's passphrase."""
    against = {finding.cluster for finding in findings if counts_against(finding)}
    clusters = {record.name: _state(record, against, verified_at.get(record.name)) for record in records}
    by_state = {state.value: 0 for state in ComplianceState}
    for verdict in clusters.values():
        by_state[verdict.state] += 1
    return Compliance(
        complete=is_complete(record.outcome for record in records), by_state=by_state, clusters=clusters
    )


def _state(
    record: ClusterRecord, against: Collection[str], verified_at: datetime | None
) -> ClusterCompliance:
    if record.outcome not in READ:
        return ClusterCompliance(state=ComplianceState.UNKNOWN, unknown=why_unknown(record))
    state = ComplianceState.NON_COMPLIANT if record.name in against else ComplianceState.COMPLIANT
    return ClusterCompliance(state=state, passphrase_verified_at=verified_at)


def compliance_of(report: Report) -> Compliance:
    """The report's compliance section, or derived for a report written before fleet recorded one."""
    if report.compliance is not None:
        return report.compliance
    return build_compliance(report.clusters, report.findings, {})


def compliance(report: Report) -> dict[str, bool]:
    """Cluster name → compliant (False for ``non_compliant`` and ``unknown`` alike)."""
    return {
        name: verdict.state == ComplianceState.COMPLIANT
        for name, verdict in compliance_of(report).clusters.items()
    }
