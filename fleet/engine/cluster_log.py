"""The log's per-cluster stream: ``cluster_started`` and ``cluster_finished`` for every cluster a run starts.

A ``RunObserver``: the runner says when a unit starts and ends, and each cluster of the unit (both
sites of a MetroCluster pair) gets its own lines, the finish with that cluster's own outcome and
reason from its record. Every line carries ``cluster``, ``unit`` and ``wave`` (the run's ``run_id``
comes from the log context). A failed cluster's finish is a warning, every other line is info.
So a JSON log answers "what happened to cl-0042 tonight" with one ``grep``; the console format
leaves out the info lines (``fleet.logs``), which the progress bar already shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from fleet.engine.rollout.units import Unit
from fleet.engine.steps.context import RunState
from fleet.outcomes import FAILURE

log = structlog.get_logger("fleet.cluster")


class ClusterLog:
    """Logs each cluster's start and finish; the outcomes come from ``state``'s records."""

    def __init__(self, state: RunState, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._state = state
        self._clock = clock
        self._since: dict[str, float] = {}

    def unit_started(self, unit: Unit) -> None:
        self._since[unit.id] = self._clock()
        for name in unit.names:
            log.info("cluster_started", cluster=name, unit=unit.id, wave=self._state.wave_of.get(name))

    def unit_finished(self, unit: Unit, outcome: str) -> None:
        since = self._since.pop(unit.id, None)
        seconds = round(self._clock() - since, 3) if since is not None else None
        for name in unit.names:
            record = self._state.records.get(name)
            mine = str(record.outcome) if record is not None else outcome
            say = log.warning if mine in FAILURE else log.info
            say(
                "cluster_finished",
                cluster=name,
                unit=unit.id,
                wave=self._state.wave_of.get(name),
                outcome=mine,
                reason=record.reason if record is not None else None,
                seconds=seconds,
            )


__all__ = ["ClusterLog"]
