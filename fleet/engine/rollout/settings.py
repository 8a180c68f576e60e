"""How a run rolls out: waves, failure budgets, change window, per-label limits, events, pauses.

One frozen bundle, parsed from the RunSpec's rollout options (``RunSpec.rollout``); the spec is
what the journal records, so a resumed run keeps the same waves and budgets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fleet.engine.rollout.budgets import Budgets, parse_threshold
from fleet.engine.rollout.limits import LabelLimit, parse_label_limits
from fleet.engine.rollout.waves import WaveSpec, parse_waves
from fleet.engine.rollout.window import DEFAULT_FLOOR_SECONDS, Clock, Window, parse_window_end, utc_now
from fleet.errors import InputError


@dataclass(frozen=True, slots=True)
class WaveQuestion:
    """What the operator is asked between waves, with what they need to answer it."""

    finished: int  # the wave that just ended
    succeeded: int  # its units that succeeded (or were already current)
    failed: tuple[tuple[str, str], ...]  # (unit, why) for each of its failed units
    others: int  # its units neither succeeded nor failed (busy, not started, interrupted)
    next: int  # the wave to start
    last: int  # the run's last wave (waves keep their numbers across resumes)
    size: int  # units in the next wave

    def text(self, *, shown: int = 3, width: int = 60) -> str:
        """``Start wave 3 of 4 (28 units)? Previous wave: 19 succeeded, 1 failed (cl-0042: …)``."""
        units = "unit" if self.size == 1 else "units"
        previous = f"{self.succeeded} succeeded, {len(self.failed)} failed"
        if self.failed:
            named = "; ".join(f"{unit}: {_shorten(why, width)}" for unit, why in self.failed[:shown])
            more = f"; {len(self.failed) - shown} more" if len(self.failed) > shown else ""
            previous += f" ({named}{more})"
        if self.others:
            previous += f", {self.others} other"
        return f"Start wave {self.next} of {self.last} ({self.size} {units})? Previous wave: {previous}"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


ConfirmWave = Callable[[WaveQuestion], Awaitable[bool]]
"""Asked between waves (``--pause-between-waves``): start the next one?"""


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
        max_failures=parse_threshold(max_failures, field="--max-failures")
        if max_failures is not None
        else None,
        max_wave_failures=(
            parse_threshold(max_wave_failures, field="--max-wave-failures")
            if max_wave_failures is not None
            else None
        ),
        max_consecutive_failures=(
            parse_threshold(
                max_consecutive_failures, field="--max-consecutive-failures", percent_allowed=False
            ).count
            if max_consecutive_failures is not None
            else None
        ),
    )
    window = None
    if window_end is not None:
        if window_floor < 0:
            raise InputError("the floor is a number of seconds, 0 or more", field="--window-floor")
        window = Window(parse_window_end(window_end, now=now or clock()), floor=window_floor)
    return Rollout(
        waves=parse_waves(waves) if waves is not None else None,
        budgets=budgets,
        window=window,
        limit_per=parse_label_limits(limit_per),
        pause_between_waves=pause_between_waves,
        events_path=events,
        confirm_next_wave=confirm_next_wave,
        clock=clock,
    )
