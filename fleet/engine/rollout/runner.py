"""The async runner: units in, results out, blind to what a unit does.

It owns global concurrency, waves, failure budgets, the change window, per-label limits and
stopping; the step machines own ONTAP. A unit that raises becomes a failed result (one broken
cluster never stops the rest); cancellation is not a failure and passes through, so an
interrupted run stays resumable.

Admission is the one place every limit is checked, right before a unit starts: the stop event,
a tripped budget, the window, the global concurrency and the per-label slots. Nothing ever stops
a unit once started: budgets, window and signals only stop *admitting*. A wave is a barrier: the
next wave starts once every unit of this one has ended (and, with ``--pause-between-waves``, the
operator said so).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from fleet.engine.rollout.budgets import BudgetTracker, Trip
from fleet.engine.rollout.limits import LabelSlots
from fleet.engine.rollout.settings import Rollout, WaveQuestion
from fleet.engine.rollout.units import Unit
from fleet.engine.rollout.waves import assign_waves, group_by_wave
from fleet.engine.rollout.window import Closing, WindowGuard
from fleet.outcomes import FAILURE, SUCCESS, RunOutcome


class RunObserver(Protocol):
    """Progress, events and the report all watch the run through this one interface."""

    def unit_started(self, unit: Unit) -> None: ...

    def unit_finished(self, unit: Unit, outcome: str) -> None: ...


@runtime_checkable
class RolloutObserver(RunObserver, Protocol):
    """An observer that also wants waves and stops; a plain ``RunObserver`` is simply not told."""

    def wave_started(self, index: int, units: Sequence[Unit]) -> None: ...

    def wave_finished(self, wave: WaveResult) -> None: ...

    def budget_tripped(self, trip: Trip) -> None: ...

    def window_closed(self, closing: Closing) -> None: ...


RunUnit = Callable[[Unit], Awaitable[str]]
"""A unit runner returns the unit's outcome word (``succeeded``, ``failed``, …)."""

OnError = Callable[[Unit, Exception], str]
Explain = Callable[[str], str]
"""Why a unit ended as it did (unit id → one line), for the question between waves."""
StopKind = Literal["budget", "window", "declined", "signal", "halt"]
Halt = Callable[[], str | None]
"""Asked before each admission: why the work itself says to stop admitting (None: go on)."""


@dataclass(frozen=True, slots=True)
class Stop:
    """Why the runner admitted no more units before every unit had run."""

    kind: StopKind
    message: str


@dataclass(frozen=True, slots=True)
class WaveResult:
    index: int
    units: tuple[str, ...]
    started_at: datetime
    finished_at: datetime
    outcome: str  # succeeded | failed | aborted | paused | interrupted
    failures: int
    ran: int


@dataclass(slots=True)
class RolloutResult:
    outcomes: dict[str, str] = field(default_factory=dict)
    waves: list[WaveResult] = field(default_factory=list)
    stop: Stop | None = None


async def run_waves(
    units: Sequence[Unit],
    run_unit: RunUnit,
    *,
    concurrency: int,
    on_error: OnError,
    observers: Sequence[RunObserver] = (),
    stop: asyncio.Event | None = None,
    rollout: Rollout | None = None,
    wave_of: Mapping[str, int] | None = None,
    halt: Halt | None = None,
    explain: Explain | None = None,
) -> RolloutResult:
    """Run ``units`` wave by wave under ``rollout``'s limits.

    ``wave_of`` (unit id → wave index) keeps a resumed run in the waves of its first night; by
    default the waves come from ``rollout.waves`` over ``units``. ``halt`` lets the work itself
    stop admission (the run-wide wrong-passphrase stop), as a budget would.
    """
    rollout = rollout or Rollout()
    runner = _Runner(run_unit, concurrency, on_error, observers, stop or asyncio.Event(), rollout, len(units))
    runner.halt = halt
    runner.explain = explain or (lambda _unit: "failed")
    waves = group_by_wave(units, wave_of if wave_of is not None else assign_waves(units, rollout.waves))
    last = max((index for index, _ in waves), default=0)
    for position, (index, wave_units) in enumerate(waves):
        if position > 0 and not await runner.confirm(index, len(wave_units), last=last):
            break
        if runner.blocked(in_flight=0) is not None:
            break
        await runner.run_wave(index, wave_units)
        if runner.result.stop is not None:
            break
    if runner.result.stop is None and runner.stop.is_set():
        runner.result.stop = Stop("signal", "stop requested")
    return runner.result


class _Runner:
    """The state of one run's admission: counters, budgets, window, label slots."""

    def __init__(
        self,
        run_unit: RunUnit,
        concurrency: int,
        on_error: OnError,
        observers: Sequence[RunObserver],
        stop: asyncio.Event,
        rollout: Rollout,
        planned: int,
    ) -> None:
        self.run_unit = run_unit
        self.concurrency = concurrency
        self.on_error = on_error
        self.observers = observers
        self.rollout_observers = [obs for obs in observers if isinstance(obs, RolloutObserver)]
        self.stop = stop
        self.halt: Halt | None = None
        self.explain: Explain = lambda _unit: "failed"
        self.rollout = rollout
        self.clock = rollout.clock
        self.budgets = BudgetTracker(rollout.budgets, planned=planned)
        self.window = WindowGuard(rollout.window, rollout.clock) if rollout.window is not None else None
        self.slots = LabelSlots(rollout.limit_per)
        self.in_flight = 0
        self.result = RolloutResult()

    async def confirm(self, index: int, size: int, *, last: int) -> bool:
        """Ask the operator between waves (``--pause-between-waves``); a "no" pauses the run."""
        ask = self.rollout.confirm_next_wave
        if ask is None or self.stop.is_set():
            return True
        previous = self.result.waves[-1]
        outcomes = [(unit, self.result.outcomes.get(unit)) for unit in previous.units]
        failed = tuple((unit, self.explain(unit)) for unit, outcome in outcomes if outcome in FAILURE)
        succeeded = sum(outcome in SUCCESS for _, outcome in outcomes)
        question = WaveQuestion(
            finished=previous.index,
            succeeded=succeeded,
            failed=failed,
            others=len(outcomes) - succeeded - len(failed),
            next=index,
            last=last,
            size=size,
        )
        answer = asyncio.ensure_future(ask(question))
        stopped = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({answer, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not answer.done():  # a signal while the question was open: no answer is needed
                answer.cancel()
        if not answer.done() or answer.cancelled():
            return False
        if answer.result():
            return True
        self.result.stop = Stop(
            "declined", f"the operator did not start wave {index} after wave {previous.index} ended"
        )
        return False

    def blocked(self, *, in_flight: int) -> Stop | None:
        """Why no further unit may start now, or None. Records (and announces) the first stop."""
        if self.result.stop is not None:
            return self.result.stop
        if self.stop.is_set():
            return Stop("signal", "stop requested")
        halted = self.halt() if self.halt is not None else None
        if halted is not None:
            self.result.stop = Stop("halt", halted)
            return self.result.stop
        trip = self.budgets.tripped
        if trip is not None:
            self.result.stop = Stop("budget", trip.message)
            return self.result.stop
        if self.window is not None:
            closing = self.window.closing(in_flight=in_flight)
            if closing is not None:
                self.result.stop = Stop("window", closing.message)
                for observer in self.rollout_observers:
                    observer.window_closed(closing)
                return self.result.stop
        return None

    async def run_wave(self, index: int, units: Sequence[Unit]) -> None:
        """Admit the wave's units under every limit; return once all admitted units have ended."""
        started_at = self.clock()
        self.budgets.start_wave(index, len(units))
        for observer in self.rollout_observers:
            observer.wave_started(index, units)
        pending = list(units)
        failures = ran = 0
        running: set[asyncio.Task[str]] = set()
        async with asyncio.TaskGroup() as group:
            while pending or running:
                admissible = None
                if pending and len(running) < self.concurrency:
                    admissible = next((unit for unit in pending if self.slots.admits(unit)), None)
                if admissible is not None and self.blocked(in_flight=len(running)) is None:
                    pending.remove(admissible)
                    self.slots.take(admissible)
                    self.in_flight += 1
                    running.add(group.create_task(self._one(admissible), name=f"unit:{admissible.id}"))
                    ran += 1
                    continue
                if not running:
                    break  # stopped (or nothing admissible with nothing running)
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                failures += sum(task.result() in FAILURE for task in done)
        trip = self.budgets.tripped
        if trip is not None and self.result.stop is None:
            # reached by the wave's last unit: nothing was left to withhold, but the run still aborts
            self.result.stop = Stop("budget", trip.message)
        wave = WaveResult(
            index=index,
            units=tuple(unit.id for unit in units),
            started_at=started_at,
            finished_at=self.clock(),
            outcome=self._wave_outcome(failures, complete=not pending),
            failures=failures,
            ran=ran,
        )
        self.result.waves.append(wave)
        for observer in self.rollout_observers:
            observer.wave_finished(wave)

    def _wave_outcome(self, failures: int, *, complete: bool) -> RunOutcome:
        stop = self.result.stop
        if stop is not None and stop.kind == "budget":
            return RunOutcome.ABORTED
        if not complete:
            return RunOutcome.INTERRUPTED if stop is None or stop.kind == "signal" else RunOutcome.PAUSED
        return RunOutcome.FAILED if failures else RunOutcome.SUCCEEDED

    async def _one(self, unit: Unit) -> str:
        started = self.clock()
        for observer in self.observers:
            observer.unit_started(unit)
        try:
            outcome = await self.run_unit(unit)
        except Exception as exc:  # a broken unit is a result, not a crash
            outcome = self.on_error(unit, exc)
        self.in_flight -= 1
        self.slots.give(unit)
        if self.window is not None:
            self.window.observe((self.clock() - started).total_seconds())
        self.result.outcomes[unit.id] = outcome
        for observer in self.observers:
            observer.unit_finished(unit, outcome)
        trip = self.budgets.record(outcome, in_flight=self.in_flight)
        if trip is not None:
            for observer in self.rollout_observers:
                observer.budget_tripped(trip)
        return outcome
