"""The fleet commands under test: ``fleet rotate`` and ``fleet sweep`` against the simulator's inventory.

Same flags as an operator would use for a big run: a journal and a report in the work folder, JSON
logs (no terminal rendering), ``--concurrency 64``. The report is fleet's own account (its request
count and how many clusters it accounted for); the simulator's truth is read separately.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# A sweep that every healthy simulated cluster passes: the read path, not the findings, is measured.
SWEEP_POLICY = (
    "key_manager: onboard\nonboard: {require_all_nodes_keys: true}\nrequire: {status_healthy: true}\n"
)
# The same, plus every data SVM's own key manager and the certificates every key manager uses (issue 20).
SWEEP_SVMS_POLICY = SWEEP_POLICY + (
    "svms:\n  'vs*': {server_ca_certificates: ['{svm}-kmip-ca']}\ncertificates: {min_days_left: 30}\n"
)
CONCURRENCY = 64


def fleet_command(
    command: str,
    workdir: Path,
    inventory: Path,
    new_file: Path,
    concurrency: int = CONCURRENCY,
    journal: str | None = None,
) -> list[str]:
    """``journal``: a PostgreSQL URL (``fleet-rotate-pg``); by default a SQLite file in the work folder."""
    common = [
        "-i", str(inventory), "--journal", journal or str(workdir / "journal.db"),
        "--concurrency", str(concurrency), "--log-format", "json", "--report", str(workdir / "report.json"),
    ]  # fmt: skip
    if command in ("sweep", "sweep-svms"):
        policy = workdir / "policy.yml"
        policy.write_text(SWEEP_POLICY if command == "sweep" else SWEEP_SVMS_POLICY)
        return [
            sys.executable,
            "-m",
            "fleet",
            "sweep",
            "-p",
            str(policy),
            "--report-dir",
            str(workdir),
            *common,
        ]
    if command == "rotate":
        return [sys.executable, "-m", "fleet", "rotate", "--new", f"file:{new_file}", *common]
    raise ValueError(f"unknown fleet command {command!r}")


def read_report(workdir: Path) -> dict[str, Any]:
    """fleet's own figures: requests it sent, clusters it accounted for (empty when no report was written)."""
    path = workdir / "report.json"
    if not path.exists():
        return {}
    summary = json.loads(path.read_text()).get("summary", {})
    return {"self_requests": summary.get("requests"), "accounted": summary.get("total")}
