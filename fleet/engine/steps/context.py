"""What every step machine of one run shares: the HTTP pool, the journal, the options, the secrets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fleet.engine.rollout.settings import Rollout
from fleet.engine.rollout.units import Unit
from fleet.inventory import Cluster
from fleet.journal import Journal
from fleet.ontap import HttpPool, OntapClient
from fleet.secrets import Secret
from fleet.secrets.store import SecretStore


@dataclass(frozen=True, slots=True)
class ClusterSecrets:
    """Everything secret one cluster needs, resolved and checked before any cluster is contacted."""

    password: Secret
    current: Secret | None = None
    new: Secret | None = None


@dataclass(frozen=True, slots=True)
class RunOptions:
    concurrency: int = 64
    remediate: bool = True
    backup_dir: Path | None = None
    cluster_deadline: float | None = None
    generated: bool = False  # --new generate: pending/current/previous live in the secret store
    first_site: str | None = None  # MetroCluster: "key=value" label of the site rotated first
    rollout: Rollout = field(
        default_factory=Rollout
    )  # waves, failure budgets, change window, per-label limits, events


@dataclass(slots=True)
class RunContext:
    run_id: str
    kind: str
    pool: HttpPool
    journal: Journal
    options: RunOptions
    secrets: dict[str, ClusterSecrets]
    store: SecretStore | None = None
    clients: dict[str, OntapClient] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)  # requests of released clients

    def client(self, cluster: Cluster) -> OntapClient:
        """One client per cluster per run (it carries that cluster's request counters)."""
        client = self.clients.get(cluster.name)
        if client is None:
            client = OntapClient(
                self.pool,
                name=cluster.name,
                base_url=cluster.base_url,
                username=cluster.username,
                password=self.secrets[cluster.name].password,
                ca_file=cluster.tls.ca_file,
                verify=cluster.tls.verify,
            )
            self.clients[cluster.name] = client
        return client

    def requests_sent(self, name: str) -> int:
        client = self.clients.get(name)
        return self.sent.get(name, 0) + (client.requests_sent if client is not None else 0)

    async def release(self, unit: Unit) -> None:
        """The unit is over: close its clusters' connections and forget their clients (memory)."""
        for name in unit.names:
            client = self.clients.pop(name, None)
            if client is not None:
                self.sent[name] = self.sent.get(name, 0) + client.requests_sent
            await self.pool.release(name)
