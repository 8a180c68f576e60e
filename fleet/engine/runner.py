"""The async runner: units in, results out, blind to what a unit does.

It owns global concurrency and stopping; the step machines own ONTAP. A unit that raises becomes
a failed result (one broken cluster never stops the rest); cancellation is not a failure and
passes through, so an interrupted run stays resumable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from fleet.engine.units import Unit


class RunObserver(Protocol):
    """Progress, events and the report all watch the run through this one interface."""

    def unit_started(self, unit: Unit) -> None: ...

    def unit_finished(self, unit: Unit, outcome: str) -> None: ...


RunUnit = Callable[[Unit], Awaitable[str]]
"""A unit runner returns the unit's outcome word (``succeeded``, ``failed``, …)."""

OnError = Callable[[Unit, Exception], str]


async def run_units(
    units: Sequence[Unit],
    run_unit: RunUnit,
    *,
    concurrency: int,
    on_error: OnError,
    observers: Sequence[RunObserver] = (),
    stop: asyncio.Event | None = None,
) -> dict[str, str]:
    """Run every unit with at most ``concurrency`` in flight; returns outcome per unit id.

    When ``stop`` is set no further unit is admitted; units already running finish. Units never
    admitted are absent from the result (the caller reports them as ``not_started``).
    """
    stop = stop or asyncio.Event()
    slots = asyncio.Semaphore(concurrency)
    outcomes: dict[str, str] = {}

    async def one(unit: Unit) -> None:
        try:
            for observer in observers:
                observer.unit_started(unit)
            try:
                outcome = await run_unit(unit)
            except Exception as exc:  # a broken unit is a result, not a crash
                outcome = on_error(unit, exc)
            outcomes[unit.id] = outcome
            for observer in observers:
                observer.unit_finished(unit, outcome)
        finally:
            slots.release()

    async with asyncio.TaskGroup() as group:
        for unit in units:
            await slots.acquire()
            if stop.is_set():
                slots.release()
                break
            group.create_task(one(unit), name=f"unit:{unit.id}")
    return outcomes
