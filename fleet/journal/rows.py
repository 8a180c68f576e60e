"""What the journal hands back: frozen rows, so a reader can never mutate the record it was given.

Times are ISO 8601 UTC strings (``2026-11-29T05:15:00.123Z``), as stored. Fingerprints are
``hmac-sha256:<32 hex>`` strings; no row ever holds a passphrase.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RunRow:
    id: str
    kind: str
    started_at: str
    finished_at: str | None
    outcome: str | None
    exit_code: int | None
    options: dict[str, Any]
    inventory_path: str | None
    inventory_digest: str | None
    report_path: str | None
    stop_reason: str | None
    # while a changing run works: its process, and until when it is under way (renewed with its leases)
    pid: int | None = None
    host: str | None = None
    alive_until: str | None = None
    # the audit record (schema v4; ``host`` is v3's); None on runs recorded before it
    operator: str | None = None
    change_id: str | None = None
    fleet_version: str | None = None

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> RunRow:
        return cls(**{**dict(row), "options": json.loads(row["options"])})


@dataclass(frozen=True, slots=True)
class UnitRow:
    run_id: str
    unit_id: str
    clusters: tuple[str, ...]
    wave: int | None
    status: str
    reason: str | None
    started_at: str | None
    ended_at: str | None

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> UnitRow:
        return cls(**{**dict(row), "clusters": tuple(json.loads(row["clusters"]))})


@dataclass(frozen=True, slots=True)
class StepRow:
    """One mutating step: written at ``intent_at`` before its request, completed at ``outcome_at``."""

    id: int
    run_id: str
    unit_id: str
    cluster: str
    name: str
    intent_at: str
    outcome_at: str | None
    status: str | None
    from_fp: str | None
    to_fp: str | None
    error_code: int | None
    detail: str | None

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> StepRow:
        return cls(**dict(row))


@dataclass(frozen=True, slots=True)
class ClusterFp:
    """What fleet knows about a cluster's passphrase: proven (``current_fp``) and maybe in flight."""

    cluster: str
    current_fp: str | None
    pending_fp: str | None
    verified_at: str | None
    run_id: str | None
    uuid: str | None = None  # the cluster's identity; None for a record written before fleet knew it
    verified_by: str | None = None  # the run that proved ``current_fp`` (``run_id`` wrote last)

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> ClusterFp:
        return cls(**dict(row))


@dataclass(frozen=True, slots=True)
class Lease:
    """We hold ``cluster`` for ``run_id`` until ``expires_at`` (renew it before then)."""

    cluster: str
    run_id: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """Someone else holds ``cluster``: which run, which process on which host, and until when."""

    cluster: str
    run_id: str
    pid: int
    host: str
    expires_at: str
