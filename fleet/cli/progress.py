"""Live progress on a terminal: done / failed / in flight, rate, ETA, and the slowest units in flight.

The bar is drawn on stderr, the stream the log lines go to: while it is live, ``fleet.logs`` hands
every log line to the bar's console, which prints it above the bar instead of into it. Silent when
stderr is not a terminal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from fleet.engine.rollout.budgets import Trip
from fleet.engine.rollout.runner import WaveResult
from fleet.engine.rollout.units import Unit
from fleet.engine.rollout.window import Closing
from fleet.logs import print_logs_with
from fleet.outcomes import FAILURE

#: How many of the longest-running units in flight the second line names.
SLOWEST = 3


class _RunProgress(Progress):
    """A rich ``Progress`` with a second line under the bar (the slowest units in flight)."""

    def __init__(self, *columns: ProgressColumn, footer: Callable[[], str], **options: Any) -> None:
        self._footer = footer  # before rich's __init__, which may render already
        super().__init__(*columns, **options)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield from super().get_renderables()
        footer = self._footer()
        if footer:
            yield Text(footer, style="dim", no_wrap=True, overflow="ellipsis")


def _seconds(elapsed: float) -> str:
    whole = int(elapsed)
    return f"{whole}s" if whole < 60 else f"{whole // 60}m{whole % 60:02d}s"


class ProgressObserver:
    """A ``RolloutObserver`` that draws a rich progress bar over units.

    The bar is live only while a wave runs: between waves the terminal is the operator's, so a
    ``--pause-between-waves`` question is not redrawn over (and log lines go straight to stderr).
    """

    def __init__(self, total: int, console: Console, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = console.is_terminal
        self.total = total
        self.done = self.failed = self.in_flight = 0
        self._console = console
        self._clock = clock
        self._lock = threading.Lock()  # the bar is redrawn from rich's refresh thread
        self._since: dict[str, float] = {}  # unit id → when it started, for the units in flight
        self._progress = _RunProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            redirect_stdout=False,  # stdout is the summary's; stray stderr writes still go above the bar
            footer=self.slowest,
        )
        self._task = self._progress.add_task("units", total=total, status="", visible=self.enabled)

    def __enter__(self) -> ProgressObserver:
        self._start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()

    def _start(self) -> None:
        if self.enabled and not self._progress.live.is_started:
            self._progress.start()
            print_logs_with(self._console)

    def _stop(self) -> None:
        if self.enabled and self._progress.live.is_started:
            print_logs_with(None)
            self._progress.stop()

    def wave_started(self, index: int, units: Sequence[Unit]) -> None:
        self._start()

    def wave_finished(self, wave: WaveResult) -> None:
        self._stop()

    def budget_tripped(self, trip: Trip) -> None:
        """The summary says it; the bar has nothing to add."""

    def window_closed(self, closing: Closing) -> None:
        """The summary says it; the bar has nothing to add."""

    def unit_started(self, unit: Unit) -> None:
        with self._lock:
            self._since[unit.id] = self._clock()
        self.in_flight += 1
        self._refresh()

    def unit_finished(self, unit: Unit, outcome: str) -> None:
        with self._lock:
            self._since.pop(unit.id, None)
        self.in_flight -= 1
        self.done += 1
        self.failed += outcome in FAILURE  # what the failure budget counts, so the two agree
        self._progress.advance(self._task)
        self._refresh()

    def slowest(self) -> str:
        """``slowest: cl-0007 41s, cl-0012 38s, …``: the units in flight the longest, or ''."""
        now = self._clock()
        with self._lock:
            oldest = sorted(self._since.items(), key=lambda item: item[1])[:SLOWEST]
        if not oldest:
            return ""
        return "slowest: " + ", ".join(f"{unit} {_seconds(now - since)}" for unit, since in oldest)

    def _refresh(self) -> None:
        if self.enabled:
            elapsed = self._progress.tasks[0].elapsed or 0.0
            rate = self.done / elapsed if elapsed > 0 else 0.0
            status = f"failed {self.failed} · in flight {self.in_flight} · {rate:.1f}/s"
            self._progress.update(self._task, status=status)
