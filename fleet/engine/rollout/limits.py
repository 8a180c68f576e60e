"""``--limit-per LABEL=N``: at most N units in flight per value of an inventory label (e.g. per site).

A unit holds one slot for every distinct value its clusters carry, so a MetroCluster pair spanning
``site=east`` and ``site=west`` counts against both sites; a pair whose sites share a value holds
that value's slot once. A cluster without the label is not limited by it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from fleet.engine.rollout.units import Unit
from fleet.errors import InputError

_LABEL_LIMIT = re.compile(r"([A-Za-z0-9_.\-/]+)=(\d+)")


@dataclass(frozen=True, slots=True)
class LabelLimit:
    label: str
    limit: int

    def __str__(self) -> str:
        return f"{self.label}={self.limit}"


def parse_label_limits(texts: Sequence[str], *, field: str = "--limit-per") -> tuple[LabelLimit, ...]:
    """Parse ``site=1`` entries; a label given twice is refused rather than silently overridden."""
    limits: dict[str, LabelLimit] = {}
    for text in texts:
        match = _LABEL_LIMIT.fullmatch(text.strip())
        if match is None or int(match.group(2)) < 1:
            raise InputError(f"expected LABEL=N with N at least 1 (e.g. site=1), got {text!r}", field=field)
        label = match.group(1)
        if label in limits:
            raise InputError(f"label {label!r} is limited twice", field=field)
        limits[label] = LabelLimit(label, int(match.group(2)))
    return tuple(limits.values())


class LabelSlots:
    """Counts units in flight per (label, value) and says whether one more unit may start."""

    def __init__(self, limits: Sequence[LabelLimit]) -> None:
        self.limits = {limit.label: limit.limit for limit in limits}
        self.in_flight: Counter[tuple[str, str]] = Counter()

    def keys(self, unit: Unit) -> set[tuple[str, str]]:
        return {
            (label, cluster.labels[label])
            for label in self.limits
            for cluster in unit.clusters
            if label in cluster.labels
        }

    def admits(self, unit: Unit) -> bool:
        return all(self.in_flight[key] < self.limits[key[0]] for key in self.keys(unit))

    def take(self, unit: Unit) -> None:
        self.in_flight.update(self.keys(unit))

    def give(self, unit: Unit) -> None:
        self.in_flight.subtract(self.keys(unit))
