"""The change window: start no unit that would likely still be running when the window closes.

``--window-end`` is ISO 8601 (``2026-11-29T05:30``, ``2026-11-29T05:30:00+01:00``, ``…Z``; a
time without an offset is local time), ``HH:MM`` local time, meaning its next occurrence (at
23:10, ``05:30`` is tomorrow morning), which must be at most 12 hours away: ``11:15`` typed at 11:20
is a mistake to show, not a window of 23 h 55 min; or a duration from now, ``+8h``, ``+90m``,
``+1h30m``. A window that has already ended is refused showing the time it was read as.

Before each unit is admitted the time left is compared with what a unit needs: the p90 of the unit
durations observed so far in this run (nearest rank), never less than a floor (``--window-floor``,
30 s by default, which is also the estimate before any unit has ended). When less time is left, no
further unit is admitted, in-flight units finish, and the run is ``paused`` (exit 4): ``fleet
resume RUN_ID --window-end …`` continues the next night. The clock is injectable for tests.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fleet.errors import InputError

Clock = Callable[[], datetime]
DEFAULT_FLOOR_SECONDS = 30.0
HH_MM_HORIZON = timedelta(hours=12)  # "11:15" typed at 11:20 is a mistake, not a 23 h 55 min window
_HH_MM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_FROM_NOW = re.compile(r"\+(?:(\d{1,3})h)?(?:(\d{1,4})m)?")
HOW_TO_WRITE = "write it as HH:MM (local, within 12 h), ISO 8601 (2026-11-29T05:30Z) or +8h from now"


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_window_end(text: str, *, now: datetime | None = None, field: str = "--window-end") -> datetime:
    """The window's end as an aware UTC datetime; ``HH:MM`` is the next such local time after ``now``."""
    now = now or utc_now()
    text = text.strip()
    relative = _FROM_NOW.fullmatch(text)
    if relative is not None and any(relative.groups()):
        hours_ahead, minutes_ahead = relative.groups()
        ahead = timedelta(hours=int(hours_ahead or 0), minutes=int(minutes_ahead or 0))
        if not ahead:
            raise InputError(f"{text} is a window that ends now; {HOW_TO_WRITE}", field=field)
        return now.astimezone(UTC) + ahead
    match = _HH_MM.fullmatch(text)
    if match is not None:
        local_now = now.astimezone().replace(tzinfo=None)
        end = local_now.replace(hour=int(match.group(1)), minute=int(match.group(2)), second=0, microsecond=0)
        if end <= local_now:
            end += timedelta(days=1)
        if end - local_now > HH_MM_HORIZON:
            hours = (end - local_now).total_seconds() / 3600
            raise InputError(
                f"{text} is read as {end:%Y-%m-%d %H:%M} local time, {hours:.1f} h from now: a change window "
                f"given as HH:MM must end within {HH_MM_HORIZON.total_seconds() / 3600:.0f} h; write the end "
                f"as ISO 8601 ({end:%Y-%m-%dT%H:%M}) or +{math.ceil(hours)}h if that is meant",
                field=field,
            )
        return end.astimezone().astimezone(UTC)  # naive → local: DST resolved on the day itself
    try:
        end = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"cannot read {text!r} as a time: {HOW_TO_WRITE}", field=field) from None
    return end.astimezone(UTC)  # a naive time is local time


def window_end_ahead(text: str, *, now: datetime, field: str = "--window-end") -> datetime:
    """``parse_window_end``, refusing an end that has already passed (and saying how it was read)."""
    end = parse_window_end(text, now=now, field=field)
    if end <= now:
        ago = (now - end).total_seconds() / 60
        raise InputError(
            f"{text} is read as {end.astimezone():%Y-%m-%d %H:%M %Z} local time, {ago:.0f} min ago: a change "
            f"window must end in the future; {HOW_TO_WRITE}",
            field=field,
        )
    return end


@dataclass(frozen=True, slots=True)
class Window:
    end: datetime
    floor: float = DEFAULT_FLOOR_SECONDS


@dataclass(frozen=True, slots=True)
class Closing:
    """Why the window admitted no more units."""

    end: datetime
    left_s: float
    needed_s: float
    in_flight: int

    @property
    def message(self) -> str:
        left = max(0.0, self.left_s)
        return (
            f"change window ends at {self.end.isoformat()}: {left:.0f} s left, a unit needs"
            f" {self.needed_s:.0f} s (p90, floor included);"
            f" {self.in_flight} unit(s) in flight were let finish"
        )


class WindowGuard:
    """Learns unit durations as units end and says whether one more unit fits in the window."""

    def __init__(self, window: Window, clock: Clock = utc_now) -> None:
        self.window = window
        self.clock = clock
        self.durations: list[float] = []

    def observe(self, seconds: float) -> None:
        self.durations.append(max(0.0, seconds))

    def needed(self) -> float:
        """p90 of observed unit durations (nearest rank), never below the floor."""
        if not self.durations:
            return self.window.floor
        ordered = sorted(self.durations)
        p90 = ordered[math.ceil(0.9 * len(ordered)) - 1]
        return max(self.window.floor, p90)

    def closing(self, *, in_flight: int) -> Closing | None:
        """None while one more unit fits; otherwise why it does not."""
        left = (self.window.end - self.clock()).total_seconds()
        needed = self.needed()
        if left < needed:
            return Closing(self.window.end, left, needed, in_flight)
        return None
