"""Builders for report records, so each test states only what it is about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fleet.report import ClusterRecord, ErrorInfo, NodeRecord, RunInfo, StepRecord

STARTED = datetime(2025, 11, 29, 4, 0, tzinfo=UTC)


def make_run(**overrides: Any) -> RunInfo:
    fields: dict[str, Any] = {
        "id": "20251129-0400-abcd",
        "kind": "rotate",
        "started_at": STARTED,
        "finished_at": STARTED + timedelta(seconds=10),
        "outcome": "failed",
        "exit_code": 1,
        "fleet_version": "0.1.0",
        "inventory": "inventory.yml",
        "options": {"concurrency": 64},
    }
    return RunInfo(**(fields | overrides))


def step(name: str, status: str = "ok", error: ErrorInfo | None = None, **extra: Any) -> StepRecord:
    return StepRecord(name=name, status=status, started_at=STARTED, duration_ms=12, error=error, **extra)


def ontap_error(code: int, message: str = "ONTAP said no") -> ErrorInfo:
    return ErrorInfo(code=code, message=message, http_status=400)


def cluster(name: str, outcome: str = "succeeded", **fields: Any) -> ClusterRecord:
    fields.setdefault("steps", [step("read_cluster"), step("rotate")] if outcome == "succeeded" else [])
    return ClusterRecord(name=name, address=f"10.0.0.{len(name)}:443", outcome=outcome, **fields)


def partial_cluster(name: str, stale: dict[str, int], *, remediated: bool = False) -> ClusterRecord:
    """A cluster whose rotation hit 65536407; ``stale`` maps node names to the keys they lack."""
    nodes = [NodeRecord(name=f"{name}-01", keys_missing=0)]
    nodes += [
        NodeRecord(name=node, keys_missing=count, error=ontap_error(65536407, "keys not restored"))
        for node, count in stale.items()
    ]
    return cluster(
        name,
        "succeeded" if remediated else "partial",
        steps=[step("rotate", "failed", ontap_error(65536407))] + ([step("sync")] if remediated else []),
        nodes=nodes,
        remediated=remediated,
        requests=9,
    )
