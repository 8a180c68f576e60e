"""The run report: versioned schema, fleet-wide aggregation, atomic file, terminal summary."""

from fleet.report.aggregate import build_report, failure_key, next_step_for
from fleet.report.model import (
    SCHEMA_ID,
    ClusterRecord,
    Drift,
    ErrorInfo,
    FailureGroup,
    Failures,
    Finding,
    NodeFailure,
    NodeRecord,
    NodeRef,
    PairRecord,
    Report,
    RunInfo,
    StepRecord,
    Summary,
    WaveRecord,
)
from fleet.report.summary import render_summary, summary_text
from fleet.report.write import default_report_path, load_report, report_json, write_report

__all__ = [
    "SCHEMA_ID",
    "ClusterRecord",
    "Drift",
    "ErrorInfo",
    "FailureGroup",
    "Failures",
    "Finding",
    "NodeFailure",
    "NodeRecord",
    "NodeRef",
    "PairRecord",
    "Report",
    "RunInfo",
    "StepRecord",
    "Summary",
    "WaveRecord",
    "build_report",
    "default_report_path",
    "failure_key",
    "load_report",
    "next_step_for",
    "render_summary",
    "report_json",
    "summary_text",
    "write_report",
]
