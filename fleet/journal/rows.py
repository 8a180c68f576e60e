"""What the journal hands back: frozen rows, so a reader can never mutate the record it was given.

Times are ISO 8601 UTC strings (``2026-11-29T05:15:00.123Z``), as stored. Fingerprints are
``hmac-sha256:<32 hex>`` strings; no row ever holds a passphrase.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from fleet.journal.storage import Row, row_dict


def columns(row_type: type[Any]) -> str:
    """The SELECT list for a row type: its fields, in order (never ``*``: PostgreSQL's tables carry
    an explicit ``rowid`` that SQLite keeps hidden)."""
    return ", ".join(field.name for field in fields(row_type))


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
    def from_sql(cls, row: Row) -> RunRow:
        return cls(**{**row_dict(row), "options": json.loads(row["options"])})


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
    def from_sql(cls, row: Row) -> UnitRow:
        return cls(**{**row_dict(row), "clusters": tuple(json.loads(row["clusters"]))})


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
    def from_sql(cls, row: Row) -> StepRow:
        return cls(**row_dict(row))


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
    def from_sql(cls, row: Row) -> ClusterFp:
        return cls(**row_dict(row))


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


@dataclass(frozen=True, slots=True)
class RunHold:
    """A run under way: the process that holds it (pid on host) and until when, unless renewed."""

    run_id: str
    pid: int | None
    host: str | None
    alive_until: str
