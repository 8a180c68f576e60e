"""The Prometheus textfile of a sweep, for node-exporter's textfile collector.

Written by hand (the format is four lines of grammar; prometheus_client is a test-only dependency)
and atomically: node-exporter may read the directory at any moment, so the file is written under a
name it ignores (``.*.tmp``) and renamed into place. Mode 0640, like every report: node-exporter
reads it through the folder's group (docs/files.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from fleet.report.drift import compliance
from fleet.report.model import Report
from fleet.report.write import write_report_file
from fleet.secrets.scrub import SCRUBBER


def _label(value: str) -> str:
    """A label value escaped as the exposition format wants (backslash, quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _metric(name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        rendered = ",".join(f'{key}="{_label(text)}"' for key, text in labels.items())
        number = repr(float(value))  # the shortest text that round-trips (``:g`` would drop digits)
        lines.append(f"{name}{{{rendered}}} {number}" if rendered else f"{name} {number}")
    return lines


def certificate_expiry_samples(report: Report) -> list[tuple[dict[str, str], float]]:
    """Seconds from the sweep's end until each key-manager certificate expires (negative: expired);
    labels cluster, svm ("" for the admin SVM, cluster scope) and certificate (its name)."""
    end = report.run.finished_at
    return [
        (
            {"cluster": cert.cluster, "svm": cert.svm or "", "certificate": cert.name},
            (cert.expiry_time - end).total_seconds(),
        )
        for cert in report.certificates
    ]


def prom_text(report: Report, sites: Mapping[str, str]) -> str:
    """The four sweep metrics; ``sites`` maps cluster names to their ``site`` label ("" when none)."""
    compliant = compliance(report)
    by_rule = Counter((finding.rule, finding.severity) for finding in report.findings)
    lines = [
        *_metric(
            "fleet_cluster_compliant",
            "gauge",
            "1 when the cluster meets the policy (no critical or warning finding), else 0.",
            [
                ({"cluster": name, "site": sites.get(name, "")}, float(ok))
                for name, ok in sorted(compliant.items())
            ],
        ),
        *_metric(
            "fleet_findings",
            "gauge",
            "Findings of the last sweep by rule and severity.",
            [({"rule": rule, "severity": sev}, float(n)) for (rule, sev), n in sorted(by_rule.items())],
        ),
        *_metric(
            "fleet_sweep_timestamp_seconds",
            "gauge",
            "When the last sweep finished, seconds since the epoch.",
            [({}, report.run.finished_at.timestamp())],
        ),
        *_metric(
            "fleet_sweep_duration_seconds",
            "gauge",
            "How long the last sweep took, seconds.",
            [({}, report.summary.duration_s)],
        ),
    ]
    if report.certificates:
        lines += _metric(
            "fleet_certificate_expiry_seconds",
            "gauge",
            "Seconds until a certificate a key manager uses expires, at the end of the last sweep.",
            certificate_expiry_samples(report),
        )
    return SCRUBBER.scrub("\n".join(lines) + "\n")


def write_prom(report: Report, path: Path, sites: Mapping[str, str]) -> Path:
    return write_report_file(path, prom_text(report, sites))
