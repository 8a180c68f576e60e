"""The Prometheus textfile of a sweep, for node-exporter's textfile collector.

The metrics are ``prometheus_client`` gauges in their own ``CollectorRegistry``, rendered by
``prometheus_client`` (the exposition format, its escaping and number formatting are its job, not
ours). The file is written by fleet's atomic writer rather than ``write_to_textfile``: that one
opens its temp file by a predictable name, following links, with the umask's mode; every file fleet
writes is 0640, fsynced and never written through a link (docs/files.md). The temp file is named
``.fleet.prom.*.tmp``, which the textfile collector ignores (it reads ``*.prom`` only).

Names and labels sit next to NetApp Harvest's in Grafana: per-cluster series carry ``cluster`` and
``datacenter`` (the inventory label ``datacenter``, as a Harvest import sets it, else ``site``) and
``tier``; times are ``*_timestamp_seconds`` since the epoch, durations and ages ``*_seconds``. A
value fleet does not know is left out, never written as 0. docs/sweeps.md has the table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from fleet.outcomes import ComplianceState, Unknown
from fleet.report.model import Report
from fleet.report.states import compliance_of
from fleet.report.write import write_report_file
from fleet.secrets.scrub import SCRUBBER

CLUSTER_LABELS = ("cluster", "datacenter", "tier")
#: Unknown for these reasons, a cluster was never asked: its reachability is not known either.
NOT_ASKED = frozenset({Unknown.NOT_CHECKED, Unknown.INTERRUPTED})


@dataclass(frozen=True, slots=True)
class SweepContext:
    """What the textfile says beyond the report: inventory labels, the policy, earlier runs."""

    labels: Mapping[str, Mapping[str, str]]  # cluster name → its inventory labels
    last_complete_sweep: datetime | None = None  # an earlier complete sweep, for a partial one
    last_rotation: datetime | None = None  # the newest rotation run the journal records as succeeded
    passphrase_max_age_days: int | None = None  # the policy's


def cluster_labels(name: str, labels: Mapping[str, str]) -> dict[str, str]:
    """A cluster's labels on every per-cluster series."""
    return {
        "cluster": name,
        "datacenter": labels.get("datacenter") or labels.get("site", ""),
        "tier": labels.get("tier", ""),
    }


def prom_text(report: Report, context: SweepContext) -> str:
    registry = CollectorRegistry(auto_describe=True)

    def gauge(name: str, help_text: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, help_text, labels, registry=registry)

    verdicts = compliance_of(report)
    finished = report.run.finished_at
    state = gauge(
        "fleet_cluster_compliance_state",
        "1 for the cluster's compliance state (compliant, non_compliant, unknown), 0 for the others.",
        (*CLUSTER_LABELS, "state"),
    )
    reachable = gauge(
        "fleet_cluster_reachable", "1 when the cluster answered the sweep, 0 when it did not.", CLUSTER_LABELS
    )
    verified = gauge(
        "fleet_passphrase_verified_timestamp_seconds",
        "When the journal last verified the cluster's onboard passphrase (a rotation, or a sync).",
        CLUSTER_LABELS,
    )
    age = gauge(
        "fleet_passphrase_age_seconds",
        "Seconds from the journal's last verification of the onboard passphrase to the end of the sweep.",
        CLUSTER_LABELS,
    )
    for name, verdict in sorted(verdicts.clusters.items()):
        labels = cluster_labels(name, context.labels.get(name, {}))
        for each in ComplianceState:
            state.labels(**labels, state=each.value).set(float(verdict.state == each))
        if verdict.unknown not in NOT_ASKED:
            reachable.labels(**labels).set(float(verdict.unknown != Unknown.UNREACHABLE))
        if verdict.passphrase_verified_at is not None:
            verified.labels(**labels).set(verdict.passphrase_verified_at.timestamp())
            age.labels(**labels).set((finished - verdict.passphrase_verified_at).total_seconds())

    findings = gauge("fleet_findings", "Findings of the sweep by rule and severity.", ("rule", "severity"))
    for (rule, severity), count in sorted(Counter((f.rule, f.severity) for f in report.findings).items()):
        findings.labels(rule=rule, severity=severity).set(count)

    if report.certificates:
        expiry = gauge(
            "fleet_certificate_expiry_seconds",
            "Seconds from the end of the sweep until a certificate a key manager uses expires (negative: "
            "expired); svm is empty for the cluster scope.",
            ("cluster", "svm", "certificate"),
        )
        for cert in report.certificates:
            expiry.labels(cluster=cert.cluster, svm=cert.svm or "", certificate=cert.name).set(
                (cert.expiry_time - finished).total_seconds()
            )

    gauge("fleet_sweep_timestamp_seconds", "When the sweep finished.").set(finished.timestamp())
    gauge("fleet_sweep_duration_seconds", "How long the sweep took.").set(report.summary.duration_s)
    gauge(
        "fleet_sweep_complete", "1 when the sweep checked every selected cluster, 0 when it stopped early."
    ).set(float(verdicts.complete))
    last_complete = finished if verdicts.complete else context.last_complete_sweep
    if last_complete is not None:
        gauge(
            "fleet_last_complete_sweep_timestamp_seconds",
            "When the last sweep that checked every cluster finished.",
        ).set(last_complete.timestamp())
    if context.last_rotation is not None:
        gauge(
            "fleet_last_successful_rotation_timestamp_seconds",
            "When the newest rotation run the journal records as succeeded finished.",
        ).set(context.last_rotation.timestamp())
    if context.passphrase_max_age_days is not None:
        gauge(
            "fleet_policy_passphrase_max_age_seconds",
            "The policy's onboard.passphrase_max_age_days, in seconds.",
        ).set(context.passphrase_max_age_days * 86400.0)
    return SCRUBBER.scrub(generate_latest(registry).decode("utf-8"))


def write_prom(report: Report, path: Path, context: SweepContext) -> Path:
    return write_report_file(path, prom_text(report, context))
