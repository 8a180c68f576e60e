"""The journal's one error type: the journal could not be opened, read or written."""

from __future__ import annotations

from fleet.errors import FleetError


class JournalError(FleetError):
    """The journal is unusable (locked, damaged, newer schema, wrong key) or a call broke its rules."""
