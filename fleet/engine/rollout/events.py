"""``--events PATH``: the run as a JSON Lines stream, one object per line, written as it happens.

Every line has ``ts`` (ISO 8601 UTC, from the run's clock) and ``type``, one of:

    run_started     run_id, kind, units, waves [{index, size}], operator (user@host), host, change_id,
                    fleet_version
    wave_started    wave, size, units [unit ids]
    unit_started    unit, wave, clusters [names]
    unit_ended      unit, wave, outcome, duration_s
    wave_ended      wave, outcome, failures, ran
    budget_tripped  budget, threshold, limit, failures, in_flight, wave
    window_closed   window_end, left_s, needed_s, in_flight
    run_ended       run_id, outcome, exit_code, stop_reason, by_outcome {outcome: clusters}

The file is opened for appending, so ``fleet resume`` with the same path continues the stream; a
line is flushed as soon as it is written, so ``tail -f`` and a crashed run both see every event
that happened. Lines pass the secret scrubber, although no event carries a secret by design.
The file is opened with ``O_NOFOLLOW`` and mode 0640 (``fleet.safe_files``): a link planted at the
path is refused before the run starts, never appended to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from fleet.engine.rollout.budgets import Trip
from fleet.engine.rollout.runner import WaveResult
from fleet.engine.rollout.units import Unit
from fleet.engine.rollout.window import Clock, Closing, utc_now
from fleet.report import Report
from fleet.safe_files import open_no_follow_append
from fleet.secrets import SCRUBBER


class EventsObserver:
    """A ``RolloutObserver`` writing one JSON object per line; use as a context manager."""

    def __init__(self, path: Path, *, clock: Clock = utc_now) -> None:
        self.path = path
        self.clock = clock
        self._file: IO[str] | None = None
        self._wave_of: dict[str, int] = {}
        self._started: dict[str, datetime] = {}

    def __enter__(self) -> EventsObserver:
        self._file = open_no_follow_append(self.path)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # --- run level (called by ``execute``) -------------------------------------------------------

    def run_started(
        self,
        run_id: str,
        kind: str,
        waves: Sequence[tuple[int, Sequence[Unit]]],
        *,
        audit: Mapping[str, str | None] | None = None,
    ) -> None:
        """``audit``: the run's audit record (operator, host, change_id, fleet_version), as journaled."""
        units = sum(len(members) for _, members in waves)
        sizes = [{"index": index, "size": len(members)} for index, members in waves]
        self._emit("run_started", run_id=run_id, kind=kind, units=units, waves=sizes, **(audit or {}))

    def run_finished(self, report: Report) -> None:
        run = report.run
        self._emit(
            "run_ended",
            run_id=run.id,
            outcome=run.outcome,
            exit_code=run.exit_code,
            stop_reason=run.stop_reason,
            by_outcome={name: count for name, count in report.summary.by_outcome.items() if count},
        )

    # --- the runner's observer interface ---------------------------------------------------------

    def wave_started(self, index: int, units: Sequence[Unit]) -> None:
        for unit in units:
            self._wave_of[unit.id] = index
        self._emit("wave_started", wave=index, size=len(units), units=[unit.id for unit in units])

    def unit_started(self, unit: Unit) -> None:
        self._started[unit.id] = self.clock()
        self._emit("unit_started", unit=unit.id, wave=self._wave_of.get(unit.id), clusters=list(unit.names))

    def unit_finished(self, unit: Unit, outcome: str) -> None:
        started = self._started.pop(unit.id, None)
        duration = (self.clock() - started).total_seconds() if started is not None else None
        self._emit(
            "unit_ended",
            unit=unit.id,
            wave=self._wave_of.get(unit.id),
            outcome=outcome,
            duration_s=round(duration, 3) if duration is not None else None,
        )

    def wave_finished(self, wave: WaveResult) -> None:
        self._emit("wave_ended", wave=wave.index, outcome=wave.outcome, failures=wave.failures, ran=wave.ran)

    def budget_tripped(self, trip: Trip) -> None:
        self._emit(
            "budget_tripped",
            budget=trip.budget,
            threshold=trip.threshold,
            limit=trip.limit,
            failures=trip.failures,
            in_flight=trip.in_flight,
            wave=trip.wave,
        )

    def window_closed(self, closing: Closing) -> None:
        self._emit(
            "window_closed",
            window_end=closing.end.isoformat(),
            left_s=round(closing.left_s, 3),
            needed_s=round(closing.needed_s, 3),
            in_flight=closing.in_flight,
        )

    def _emit(self, event_type: str, /, **fields: Any) -> None:
        if self._file is None:
            raise RuntimeError(f"events file {self.path} is not open: use `with EventsObserver(...)`")
        event = {"ts": self.clock().isoformat(), "type": event_type, **fields}
        line = json.dumps(event, separators=(",", ":"))
        self._file.write(SCRUBBER.scrub(line) + "\n")
        self._file.flush()
