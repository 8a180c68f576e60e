"""A simulated fleet served over real loopback HTTPS, with its inventory and secrets, for tests."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp.typedefs import Middleware

from fleet.sim.faults import apply_faults, fault_middleware, parse_faults
from fleet.sim.generate import generate_fleet
from fleet.sim.inventory_out import write_inventory
from fleet.sim.server import SimServer
from fleet.sim.state import Cluster, Fleet
from fleet.sim.tls import ensure_tls_files, server_ssl_context


@dataclass
class SimFleet:
    fleet: Fleet
    server: SimServer
    inventory: Path
    secrets_dir: Path
    ca_file: Path
    workdir: Path

    def cluster(self, name: str) -> Cluster:
        return self.fleet.clusters[name]

    def passphrase(self, name: str) -> str | None:
        km = self.cluster(name).key_manager
        return km.passphrase if km is not None and km.kind == "onboard" else None

    def onboard_names(self) -> list[str]:
        return [name for name in self.fleet.clusters if self.passphrase(name) is not None]

    def partial_clusters(self) -> set[str]:
        """Onboard clusters whose next passphrase change or sync fails on some nodes."""
        onboard = set(self.onboard_names())
        return {n for n, c in self.fleet.clusters.items() if c.faults.partial_nodes and n in onboard}

    def unreachable(self, names: Sequence[str]) -> None:
        """Point the inventory entries of ``names`` at loopback ports nobody listens on."""
        text = self.inventory.read_text()
        for port, name in enumerate(names, start=1):
            address = re.search(rf"- name: {re.escape(name)}\n  address: (\S+)", text)
            assert address is not None, name
            text = text.replace(address.group(1), f"127.0.0.1:{port}")
        self.inventory.write_text(text)

    def requests(self) -> int:
        return sum(cluster.counters.requests for cluster in self.fleet.clusters.values())

    def mutations(self) -> int:
        return sum(cluster.counters.mutations for cluster in self.fleet.clusters.values())

    def secret_values(self) -> list[str]:
        """Every secret the simulated estate holds: passwords and passphrases (for leak scans)."""
        values = []
        for cluster in self.fleet.clusters.values():
            values.append(cluster.password)
            if cluster.key_manager is not None and cluster.key_manager.passphrase:
                values.append(cluster.key_manager.passphrase)
        return values

    def pairs(self) -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        for cluster in self.fleet.clusters.values():
            mcc = cluster.metrocluster
            if mcc is not None and cluster.name < mcc.partner:
                seen.append((cluster.name, mcc.partner))
        return seen


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def start_sim_fleet(
    workdir: Path,
    *,
    clusters: int = 12,
    mcc_pairs: int = 0,
    seed: int = 1,
    faults: str = "none",
    middlewares: Sequence[Middleware] = (),
    oldest: tuple[int, int] = (9, 8),
    tls: bool = True,
    svms: int = 0,
) -> SimFleet:
    """Generate a fleet, serve it on 127.0.0.1 over HTTPS (generated CA) and write its inventory.

    ``tls=False`` serves plain HTTP, as ``fleet sim serve --http`` does: ``http://`` addresses.
    """
    fleet = generate_fleet(clusters, mcc_pairs=mcc_pairs, seed=seed, oldest=oldest, svms=svms)
    apply_faults(fleet, parse_faults(faults), seed)
    tls_dir = workdir / "tls"
    files = ensure_tls_files(tls_dir)
    server = SimServer(
        fleet,
        ssl_context=server_ssl_context(tls_dir) if tls else None,
        middlewares=[fault_middleware(fleet, seed=seed), *middlewares],
    )
    await server.start()
    inventory = write_inventory(
        fleet,
        addresses={name: server.address(name) for name in fleet.clusters},
        path=workdir / "inventory.yml",
        secrets_dir=workdir / "secrets",
        ca_file=files.ca if tls else None,
    )
    return SimFleet(fleet, server, inventory, workdir / "secrets", files.ca, workdir)
