"""Run plan, apply and sweep in-process against a simulated fleet: the CLI's code path minus click."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simfleet import SimFleet

from fleet.engine.plans import build_plan
from fleet.engine.run import execute
from fleet.engine.spec import RunSpec
from fleet.engine.work import work_for
from fleet.journal import Journal
from fleet.ontap import HttpSettings
from fleet.outcomes import RunKind
from fleet.policy import Policy
from fleet.report import Report
from fleet.sim.generate import give_svm_kmip, make_uuid
from fleet.sim.state import CertRef, KeyManager, KeyServer, Svm

FAST_HTTP = HttpSettings(
    concurrency=256, per_cluster=2, request_timeout=5.0, backoff_base=0.01, backoff_max=0.2,
    job_poll_initial=0.05, job_poll_max=0.2,
)  # fmt: skip
MUTATING = ("POST", "PATCH", "DELETE")


async def run_policy(
    sim: SimFleet,
    journal: Journal,
    kind: str,
    policy: Policy,
    *,
    limit: str | None = None,
    probe: bool = False,
    passphrase_ref: str | None = None,
    http: HttpSettings = FAST_HTTP,
) -> Report:
    spec = RunSpec.create(
        kind=RunKind(kind),
        inventory=sim.inventory,
        policy=sim.inventory.parent / "policy.yml",  # recorded only: the policy object is passed in
        limit=limit,
        probe=probe,
        passphrase=passphrase_ref,
        concurrency=16,
    )
    plan = await build_plan(spec, journal, http=http)
    return (await execute(plan, work_for(spec, policy=policy))).report


def mutations_seen(sim: SimFleet) -> int:
    """Every mutating request any simulated cluster received (not only those under /api/security)."""
    return sum(c.counters.by_method.get(m, 0) for c in sim.fleet.clusters.values() for m in MUTATING)


def make_external(sim: SimFleet, name: str, servers: list[tuple[str, int]]) -> None:
    cluster = sim.cluster(name)
    assert cluster.key_manager is not None
    cluster.key_manager = KeyManager(
        uuid=cluster.key_manager.uuid,
        kind="external",
        servers=[KeyServer(server, timeout=timeout) for server, timeout in servers],
        client_certificate=cluster.certificates[0],
        server_ca_certificates=[cluster.certificates[1]],
    )


def lose_keys(sim: SimFleet, name: str) -> str:
    """Mark the first node's keys as not restored (what a node added without a sync looks like)."""
    node = sim.cluster(name).nodes[0]
    for key in node.keys:
        key.restored = False
    return node.name


def write_policy(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def make_svm(
    sim: SimFleet, cluster_name: str, name: str, servers: list[str] | None, *, expires_in_days: float = 400
) -> Svm:
    """A data SVM on the cluster; with ``servers``, its own external key manager and two certificates on
    it (``{name}-kmip-client`` expiring in ``expires_in_days``, ``{name}-kmip-ca``). The cluster is set to
    9.14.1 (named certificates, SVM-scope key managers in a MetroCluster)."""
    cluster = sim.cluster(cluster_name)
    cluster.version = (9, 14, 1)
    rng = random.Random(f"{cluster.uuid}/{name}")
    svm = Svm(name=name, uuid=make_uuid(rng))
    if servers is not None:
        expires = datetime.now(UTC) + timedelta(days=expires_in_days)
        give_svm_kmip(cluster, svm, [KeyServer(server) for server in servers], expires=expires, rng=rng)
    cluster.svms.append(svm)
    return svm


def install_certificate(
    sim: SimFleet, cluster_name: str, name: str, *, svm: str, key_pair_of: str | None, expires_in_days: float
) -> CertRef:
    """A client certificate on the SVM: a renewal (``key_pair_of``: the same key pair) or a new key pair."""
    cluster = sim.cluster(cluster_name)
    expiry = (datetime.now(UTC) + timedelta(days=expires_in_days)).isoformat(timespec="seconds")
    cert = CertRef(name, make_uuid(random.Random(f"{cluster.uuid}/{name}")), expiry_time=expiry, svm=svm)
    if key_pair_of is not None:
        cert.subject_key_identifier = next(c for c in cluster.certificates if c.name == key_pair_of).key_pair
    cluster.certificates.append(cert)
    return cert
