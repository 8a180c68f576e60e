"""How a run rolls out: waves, failure budgets, change window, per-label limits, events, pauses.

One frozen bundle, parsed from the command line once, recorded in the journal as JSON
(``options()``) and read back by ``fleet resume`` (``Rollout.from_options``), so a resumed run
keeps the same waves and budgets; only the window end may be given anew for the next night.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fleet.engine.rollout.budgets import Budgets, parse_threshold
from fleet.engine.rollout.limits import LabelLimit, parse_label_limits
from fleet.engine.rollout.waves import WaveSpec, parse_waves
from fleet.engine.rollout.window import DEFAULT_FLOOR_SECONDS, Clock, Window, parse_window_end, utc_now
from fleet.errors import InputError

ConfirmWave = Callable[[int, int, int, int], Awaitable[bool]]
"""``(finished wave, its failures, next wave, its size) -> go on?``: asked between waves."""


@dataclass(frozen=True, slots=True)
class Rollout:
    """Defaults mean what a plain run did before waves existed: one wave, no budget, no window."""

    waves: WaveSpec | None = None
    budgets: Budgets = field(default_factory=Budgets)
    window: Window | None = None
    limit_per: tuple[LabelLimit, ...] = ()
    pause_between_waves: bool = False
    events_path: Path | None = None
    confirm_next_wave: ConfirmWave | None = field(default=None, compare=False)
    clock: Clock = field(default=utc_now, compare=False)

    def options(self) -> dict[str, Any]:
        """JSON-ready options: the journal's ``runs.options`` and the report's ``run.options``."""
        budgets = self.budgets
        return {
            "waves": str(self.waves) if self.waves else None,
            "max_failures": str(budgets.max_failures) if budgets.max_failures else None,
            "max_wave_failures": str(budgets.max_wave_failures) if budgets.max_wave_failures else None,
            "max_consecutive_failures": budgets.max_consecutive_failures,
            "window_end": self.window.end.isoformat() if self.window else None,
            "window_floor": self.window.floor if self.window else DEFAULT_FLOOR_SECONDS,
            "limit_per": [str(limit) for limit in self.limit_per],
            "pause_between_waves": self.pause_between_waves,
            "events": str(self.events_path) if self.events_path else None,
        }

    @classmethod
    def from_options(
        cls,
        options: Mapping[str, Any],
        *,
        window_end: str | None = None,
        confirm_next_wave: ConfirmWave | None = None,
        clock: Clock = utc_now,
    ) -> Rollout:
        """Rebuild a recorded rollout (``fleet resume``); ``window_end`` replaces the recorded one.

        A window is one night's: a recorded end that has already passed is dropped rather than
        pausing the resumed run at once (give ``--window-end`` again to bound the next night).
        """
        recorded_end = options.get("window_end")
        if window_end is None and recorded_end and parse_window_end(recorded_end) <= clock():
            recorded_end = None
        return parse_rollout(
            waves=options.get("waves"),
            max_failures=options.get("max_failures"),
            max_wave_failures=options.get("max_wave_failures"),
            max_consecutive_failures=_text(options.get("max_consecutive_failures")),
            window_end=window_end if window_end is not None else recorded_end,
            window_floor=float(options.get("window_floor") or DEFAULT_FLOOR_SECONDS),
            limit_per=options.get("limit_per") or (),
            pause_between_waves=bool(options.get("pause_between_waves")),
            events=Path(options["events"]) if options.get("events") else None,
            confirm_next_wave=confirm_next_wave,
            clock=clock,
        )


def parse_rollout(
    *,
    waves: str | None = None,
    max_failures: str | None = None,
    max_wave_failures: str | None = None,
    max_consecutive_failures: str | None = None,
    window_end: str | None = None,
    window_floor: float = DEFAULT_FLOOR_SECONDS,
    limit_per: Sequence[str] = (),
    pause_between_waves: bool = False,
    events: Path | None = None,
    confirm_next_wave: ConfirmWave | None = None,
    clock: Clock = utc_now,
    now: datetime | None = None,
) -> Rollout:
    """Parse the rollout options as typed on the command line; any bad one is an ``InputError``."""
    budgets = Budgets(
        max_failures=parse_threshold(max_failures, field="--max-failures") if max_failures else None,
        max_wave_failures=(
            parse_threshold(max_wave_failures, field="--max-wave-failures") if max_wave_failures else None
        ),
        max_consecutive_failures=(
            parse_threshold(
                max_consecutive_failures, field="--max-consecutive-failures", percent_allowed=False
            ).count
            if max_consecutive_failures
            else None
        ),
    )
    window = None
    if window_end:
        if window_floor < 0:
            raise InputError("the floor is a number of seconds, 0 or more", field="--window-floor")
        window = Window(parse_window_end(window_end, now=now or clock()), floor=window_floor)
    return Rollout(
        waves=parse_waves(waves) if waves else None,
        budgets=budgets,
        window=window,
        limit_per=parse_label_limits(limit_per),
        pause_between_waves=pause_between_waves,
        events_path=events,
        confirm_next_wave=confirm_next_wave,
        clock=clock,
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
