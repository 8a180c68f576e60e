"""Live progress on a terminal: done / failed / in flight, rate and ETA. Silent when not a TTY."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from fleet.engine.rollout.budgets import Trip
from fleet.engine.rollout.runner import WaveResult
from fleet.engine.rollout.units import Unit
from fleet.engine.rollout.window import Closing

_BAD = frozenset({"failed", "partial", "split", "interrupted"})


class ProgressObserver:
    """A ``RolloutObserver`` that draws a rich progress bar over units.

    The bar is live only while a wave runs: between waves the terminal is the operator's, so a
    ``--pause-between-waves`` question is not redrawn over.
    """

    def __init__(self, total: int, console: Console) -> None:
        self.enabled = console.is_terminal
        self.total = total
        self.done = self.failed = self.in_flight = 0
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task("units", total=total, status="", visible=self.enabled)

    def __enter__(self) -> ProgressObserver:
        if self.enabled:
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.enabled:
            self._progress.stop()

    def wave_started(self, index: int, units: Sequence[Unit]) -> None:
        if self.enabled and not self._progress.live.is_started:
            self._progress.start()

    def wave_finished(self, wave: WaveResult) -> None:
        if self.enabled:
            self._progress.stop()

    def budget_tripped(self, trip: Trip) -> None:
        """The summary says it; the bar has nothing to add."""

    def window_closed(self, closing: Closing) -> None:
        """The summary says it; the bar has nothing to add."""

    def unit_started(self, unit: Unit) -> None:
        self.in_flight += 1
        self._refresh()

    def unit_finished(self, unit: Unit, outcome: str) -> None:
        self.in_flight -= 1
        self.done += 1
        self.failed += outcome in _BAD
        self._progress.advance(self._task)
        self._refresh()

    def _refresh(self) -> None:
        if self.enabled:
            elapsed = self._progress.tasks[0].elapsed or 0.0
            rate = self.done / elapsed if elapsed > 0 else 0.0
            status = f"failed {self.failed} · in flight {self.in_flight} · {rate:.1f}/s"
            self._progress.update(self._task, status=status)
