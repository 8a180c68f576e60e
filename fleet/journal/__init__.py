"""Durable run state (a SQLite file, or a team's PostgreSQL database, behind ``JournalStorage``): every
mutating step written before its request and after its outcome; what fleet knows of each cluster's
passphrase, by the cluster's uuid; per-cluster leases; the ledger of refused candidates and wrong
attempts. Keyed fingerprints only."""

from fleet.journal.errors import AlreadyResumed, JournalError, RunStillRunning
from fleet.journal.journal import Journal
from fleet.journal.paths import (
    JOURNAL_ENV,
    JournalLocation,
    PostgresUrl,
    default_journal_path,
    journal_location,
)
from fleet.journal.rows import ClusterFp, Lease, LeaseHolder, RunHold, RunRow, StepRow, UnitRow
from fleet.journal.schema import SCHEMA_VERSION
from fleet.journal.storage import JournalStorage

__all__ = [
    "JOURNAL_ENV",
    "SCHEMA_VERSION",
    "AlreadyResumed",
    "ClusterFp",
    "Journal",
    "JournalError",
    "JournalLocation",
    "JournalStorage",
    "Lease",
    "LeaseHolder",
    "PostgresUrl",
    "RunHold",
    "RunRow",
    "RunStillRunning",
    "StepRow",
    "UnitRow",
    "default_journal_path",
    "journal_location",
]
