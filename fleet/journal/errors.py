"""The journal's errors: the journal could not be opened, read or written, or refused a call on purpose."""

from __future__ import annotations

from fleet.errors import FleetError
from fleet.journal.rows import RunHold


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


class RunStillRunning(JournalError):
    """A run is resumed only once its own process stopped: a live run finishes its units itself, and a
    resume beside it would race it for the same units and blur how the change ended."""

    def __init__(self, hold: RunHold) -> None:
        holder = f"pid {hold.pid}" if hold.pid is not None else "its process"
        on = f" on {hold.host}" if hold.host else ""
        stop = f"`kill {hold.pid}`{on}" if hold.pid is not None else f"stop its process{on}"
        super().__init__(
            f"run {hold.run_id} is still running: {holder}{on} holds it until {hold.alive_until} "
            f"(renewed while it works); wait for it to end, or stop it (Ctrl-C in its terminal, or "
            f"{stop}), then resume it (nothing was started; a run whose process died on another host "
            "can be resumed once that time has passed)"
        )
        self.hold = hold
