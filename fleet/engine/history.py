"""What the journal remembers of earlier runs that a sweep publishes beside its own findings."""

from __future__ import annotations

from datetime import datetime

from fleet.journal import Journal
from fleet.outcomes import RunKind, RunOutcome


async def last_succeeded(journal: Journal, kind: RunKind) -> datetime | None:
    """When the newest run of ``kind`` that ended ``succeeded`` finished, or None when none did.

    A rotation that failed on some cluster, stopped or was interrupted is not counted; its
    ``fleet resume`` is, once it succeeds.
    """
    finished = [
        datetime.fromisoformat(run.finished_at)
        for run in await journal.runs()
        if run.kind == kind and run.outcome == RunOutcome.SUCCEEDED and run.finished_at
    ]
    return max(finished, default=None)
