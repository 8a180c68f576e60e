"""Failure budgets: stop widening a change that keeps failing.

Three budgets, any combination:

- ``--max-failures N|P%``: failed units in the whole run;
- ``--max-wave-failures N|P%``: failed units in the current wave;
- ``--max-consecutive-failures N``: failed units in a row, in the order they ended.

A budget trips on **reaching** its threshold (``--max-failures 3`` trips at the 3rd failure, as
"at most 2 failures are acceptable" would). A percentage becomes a count by rounding **up**, at
least 1: ``10%`` of 25 units trips at 3 failures (2.5 → 3).

How units are counted, honestly:

- A unit counts when it *ends*. A unit in flight is neither a failure nor a success yet: it is
  never assumed to fail (which would trip early) nor to succeed (which would hide it).
- Percentages are of the units *planned* (all units of the run, all units of the wave), never of
  the units finished so far: 2 failures among the first 3 units of a 100-unit run are 2 against
  ``10%`` = 10, not 67%.
- Failure outcomes are ``failed``, ``partial``, ``split`` and ``interrupted``. Success outcomes
  (``succeeded``, ``already_current``, ``rotated``) reset the consecutive count; ``skipped`` (the
  unit was not changed, e.g. a MetroCluster pair in switchover) neither counts nor resets.
- When a budget trips no further unit is admitted, but units already in flight finish (stopping a
  passphrase change halfway is worse than finishing it). Their failures are counted too, so the
  final count may pass the threshold by at most the number of units in flight at the trip; that
  number is in the ``budget_tripped`` event and in ``run.stop_reason``. Lower ``--concurrency`` to
  bound it.
- A resumed run counts afresh, with the same thresholds, over the units it still has to run.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleet.engine.rollout.amount import Amount, parse_amount
from fleet.outcomes import FAILURE, SUCCESS

Threshold = Amount
"""``N`` failures, or ``P%`` of the units planned (``limit = threshold.of(planned)``)."""


def parse_threshold(text: str, *, field: str, percent_allowed: bool = True) -> Threshold:
    """Parse ``3`` or ``10%``; zero is refused (it would trip before the first unit)."""
    return parse_amount(text, field=field, what="a failure budget", percent_allowed=percent_allowed)


@dataclass(frozen=True, slots=True)
class Budgets:
    max_failures: Threshold | None = None
    max_wave_failures: Threshold | None = None
    max_consecutive_failures: int | None = None


@dataclass(frozen=True, slots=True)
class Trip:
    """A budget that was reached: which, at what count, and how many units were still in flight."""

    budget: str
    threshold: str
    limit: int
    failures: int
    in_flight: int
    wave: int | None

    @property
    def message(self) -> str:
        where = f" in wave {self.wave}" if self.budget == "max-wave-failures" else ""
        return (
            f"failure budget --{self.budget} {self.threshold} reached{where}: {self.failures} failed"
            f" (limit {self.limit}), {self.in_flight} unit(s) still in flight were let finish"
        )


class BudgetTracker:
    """Counts failures as units end and says when a budget is reached (once: the first trip wins)."""

    def __init__(self, budgets: Budgets, *, planned: int) -> None:
        self.budgets = budgets
        self.planned = planned
        self.failures = 0
        self.wave_failures = 0
        self.consecutive = 0
        self.wave: int | None = None
        self.wave_planned = 0
        self.tripped: Trip | None = None

    def start_wave(self, index: int, planned: int) -> None:
        self.wave = index
        self.wave_planned = planned
        self.wave_failures = 0

    def record(self, outcome: str, *, in_flight: int) -> Trip | None:
        """Count one ended unit; returns the trip when this unit makes a budget reached first."""
        if outcome in FAILURE:
            self.failures += 1
            self.wave_failures += 1
            self.consecutive += 1
        elif outcome in SUCCESS:
            self.consecutive = 0
        if self.tripped is not None:
            return None
        self.tripped = self._reached(in_flight)
        return self.tripped

    def _reached(self, in_flight: int) -> Trip | None:
        budgets = self.budgets
        checks: list[tuple[str, str, int, int]] = []
        if budgets.max_failures is not None:
            checks.append(
                (
                    "max-failures",
                    str(budgets.max_failures),
                    budgets.max_failures.of(self.planned),
                    self.failures,
                )
            )
        if budgets.max_wave_failures is not None:
            limit = budgets.max_wave_failures.of(self.wave_planned)
            checks.append(("max-wave-failures", str(budgets.max_wave_failures), limit, self.wave_failures))
        if budgets.max_consecutive_failures is not None:
            limit = budgets.max_consecutive_failures
            checks.append(("max-consecutive-failures", str(limit), limit, self.consecutive))
        for budget, threshold, limit, count in checks:
            if count >= limit:
                return Trip(budget, threshold, limit, count, in_flight, self.wave)
        return None
