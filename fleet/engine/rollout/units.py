"""Units: what the runner schedules. A standalone cluster, or a MetroCluster pair kept whole."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from fleet.inventory import Cluster


@dataclass(frozen=True, slots=True)
class Unit:
    """One schedulable thing. A pair is one unit so its sites are never in flight at once."""

    id: str
    kind: Literal["cluster", "pair"]
    clusters: tuple[Cluster, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(cluster.name for cluster in self.clusters)


def build_units(clusters: Sequence[Cluster]) -> list[Unit]:
    """Group selected clusters into units, keeping inventory order; pairs are named "a+b"."""
    by_name = {cluster.name: cluster for cluster in clusters}
    units: list[Unit] = []
    seen: set[str] = set()
    for cluster in clusters:
        if cluster.name in seen:
            continue
        partner = by_name.get(cluster.metrocluster_partner or "")
        if partner is not None:
            seen.update((cluster.name, partner.name))
            units.append(Unit(f"{cluster.name}+{partner.name}", "pair", (cluster, partner)))
        else:
            seen.add(cluster.name)
            units.append(Unit(cluster.name, "cluster", (cluster,)))
    return units
