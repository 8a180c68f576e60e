"""The journal's one error type: the journal could not be opened, read or written."""

from __future__ import annotations

from fleet.errors import FleetError


class JournalError(FleetError):
    """The journal is unusable (locked, damaged, newer schema, wrong key) or a call broke its rules."""


class AlreadyResumed(JournalError):
    """A run is resumed once: another ``fleet resume`` of the same run got there first."""

    def __init__(self, run_id: str, resumed_by: str) -> None:
        super().__init__(
            f"run {run_id} was already resumed by {resumed_by} (nothing was started); resume the "
            f"latest run of this change instead (`fleet runs` shows the lineage)"
        )
        self.run_id = run_id
        self.resumed_by = resumed_by
