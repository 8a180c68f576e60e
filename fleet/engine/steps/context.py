"""What every step machine of one run shares: spec, HTTP pool, journal, secrets, records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from fleet.engine.rollout.units import Unit
from fleet.engine.spec import RunSpec
from fleet.engine.steps.recorder import ClusterRecorder
from fleet.inventory import Cluster
from fleet.journal import Journal
from fleet.ontap import HttpPool, OntapClient
from fleet.outcomes import ClusterOutcome
from fleet.report import ClusterRecord, ErrorInfo, PairRecord, Report
from fleet.secrets import Secret
from fleet.secrets.store import SecretStore

NO_PASSPHRASE = (
    "no passphrase reference for this cluster (no --current, no vars.okm_passphrase in the inventory); "
    "not contacted"
)
DECLARE_PAIR = (
    "Declare the pair: metrocluster_partner on both sites (for a Harvest or Ansible inventory, in an "
    "--overlay file)"
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a step machine ended for one cluster: the report's outcome word and why."""

    outcome: ClusterOutcome
    reason: str | None = None
    error: ErrorInfo | None = None  # an expected refusal's key and kind, for the report's failures


@dataclass(frozen=True, slots=True)
class ClusterSecrets:
    """Everything secret one cluster needs, resolved and checked before any cluster is contacted."""

    password: Secret
    current: Secret | None = None
    new: Secret | None = None
    username: str | None = None  # printed by a ``script:`` password reference; replaces the inventory's


@dataclass(slots=True)
class RunContext:
    run_id: str
    spec: RunSpec
    pool: HttpPool
    journal: Journal
    secrets: dict[str, ClusterSecrets]
    store: SecretStore | None = None
    # when the run read the passphrases it works with, and the rotations under way then: a cluster one
    # of those rotated, or another rotation verified since, is not rotated again (two overlapping
    # rotations never rotate one cluster twice; ``steps/rotate.py``)
    planned_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    under_way: frozenset[str] = frozenset()
    clients: dict[str, OntapClient] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)  # requests of released clients
    resent: dict[str, dict[str, int]] = field(default_factory=dict)  # their ``retried``, cause → count
    refused_by: set[str] = field(default_factory=set)
    # clusters with ledger rows when the run began, plus those it recorded since: only these are asked
    in_ledger: set[str] = field(default_factory=set)  # clusters that answered "wrong passphrase" (65536139)
    journal_failure: str | None = None  # the first journal error a unit met

    def halted(self) -> str | None:
        """Why no further unit may start, or None.

        Without a journal nothing can be written ahead of a request, so the first journal failure
        stops admission. Once ``spec.max_wrong_passphrase`` clusters refused a passphrase in this
        run, one stale reference must not be tried across the whole estate.
        """
        if self.journal_failure is not None:
            return f"the journal failed ({self.journal_failure}), so no further cluster was started"
        if len(self.refused_by) < self.spec.max_wrong_passphrase:
            return None
        return (
            f"{len(self.refused_by)} cluster(s) refused a passphrase as wrong (65536139; limit "
            f"--max-wrong-passphrase {self.spec.max_wrong_passphrase}): a reference is stale, so no further "
            "cluster was started; fix the reference, then `fleet resume` the run"
        )

    def client(self, cluster: Cluster) -> OntapClient:
        """One client per cluster per run (it carries that cluster's request counters)."""
        client = self.clients.get(cluster.name)
        if client is None:
            client = OntapClient(
                self.pool,
                name=cluster.name,
                base_url=cluster.base_url,
                username=self.secrets[cluster.name].username or cluster.username or "",
                password=self.secrets[cluster.name].password,
                ca_file=cluster.tls.ca_file,
                verify=cluster.tls.verify,
                read_only=self.spec.dry_run,
            )
            self.clients[cluster.name] = client
        return client

    def requests_sent(self, name: str) -> int:
        client = self.clients.get(name)
        return self.sent.get(name, 0) + (client.requests_sent if client is not None else 0)

    def retries(self, name: str) -> dict[str, int]:
        """What the cluster's client sent again after a transient answer, by cause: its record's retries."""
        client = self.clients.get(name)
        return _added(self.resent.get(name, {}), client.retried if client is not None else {})

    async def release(self, unit: Unit) -> None:
        """The unit is over: close its clusters' connections and forget their clients (memory)."""
        for name in unit.names:
            client = self.clients.pop(name, None)
            if client is not None:
                self.sent[name] = self.sent.get(name, 0) + client.requests_sent
                if client.retried:  # rare: only a cluster that answered something transient
                    self.resent[name] = _added(self.resent.get(name, {}), client.retried)
            await self.pool.release(name)


def _added(counts: Mapping[str, int], more: Mapping[str, int]) -> dict[str, int]:
    """Two cause → count mappings added up, as a new dict."""
    total = dict(counts)
    for cause, count in more.items():
        total[cause] = total.get(cause, 0) + count
    return total


@dataclass(slots=True)
class RunState:
    """Records as they are produced; what an interrupted run still knows."""

    recorders: dict[str, ClusterRecorder] = field(default_factory=dict)
    records: dict[str, ClusterRecord] = field(default_factory=dict)
    pairs: dict[str, PairRecord] = field(default_factory=dict)
    wave_of: Mapping[str, int] = field(default_factory=dict)  # cluster name → wave

    def recorder(self, cluster: Cluster) -> ClusterRecorder:
        rec = ClusterRecorder(cluster)
        self.recorders[cluster.name] = rec
        return rec


class UnitWork(Protocol):
    """What a run does to one unit: file a record per cluster (and a pair record) in ``state``."""

    async def __call__(self, ctx: RunContext, unit: Unit, state: RunState) -> None: ...


@runtime_checkable
class Concludes(Protocol):
    """Unit work that has the last word on the report (the policy commands: findings, compliance)."""

    def conclude(self, report: Report) -> Report: ...
