"""Durable run state in SQLite (WAL): every mutating step written before its request and after its
outcome, and what fleet knows of each cluster's passphrase, as keyed fingerprints only."""

from fleet.journal.errors import JournalError
from fleet.journal.journal import Journal
from fleet.journal.paths import JOURNAL_ENV, default_journal_path
from fleet.journal.rows import ClusterFp, RunRow, StepRow, UnitRow
from fleet.journal.schema import SCHEMA_VERSION

__all__ = [
    "JOURNAL_ENV",
    "SCHEMA_VERSION",
    "ClusterFp",
    "Journal",
    "JournalError",
    "RunRow",
    "StepRow",
    "UnitRow",
    "default_journal_path",
]
