"""Apply a validated ``Change`` now or when its job ends: the one place an ONTAP request changes state.

``rules`` decide and change nothing; ``enact`` makes a decision true. It first records the passphrase
check a decision carries (a wrong one counts toward the Common Criteria lockout even though the request
is refused; a right one clears the streak), then applies a ``Change`` at once, or, on a cluster that
answers with jobs, starts the job that applies it when it ends (``advance_jobs``, run before every
request). A job's change may meet a cluster that changed meanwhile (its key manager deleted): the job
then ends in failure. The partial-node fault is consumed here too.

The request counters (``app``) and ``/_sim/`` fault control (``introspect``) also write to the state:
they are the simulator's own bookkeeping, not ONTAP's behaviour.
"""

from __future__ import annotations

import dataclasses
import random
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from fleet.ontap import codes
from fleet.sim.generate import PASSPHRASE_ALPHABET, make_keys
from fleet.sim.rules import Change, Decision, Reply, key_manager_path
from fleet.sim.state import CertRef, Cluster, Fleet, Job, KeyManager, KeyServer, Node

CREATIONS = frozenset({"create_onboard", "create_external"})  # changes that make a new key manager


def enact(fleet: Fleet, cluster: Cluster, decision: Decision, now: float) -> Reply:
    """What ONTAP answers once a rule has decided, after doing what the decision says."""
    if isinstance(decision, Reply):
        return decision  # accepted, nothing to change
    record_passphrase_check(fleet, cluster, decision.passphrase_ok, now)
    if isinstance(decision, Change):
        return commit(fleet, cluster, decision, now)
    return decision.reply()


def record_passphrase_check(
    fleet: Fleet, cluster: Cluster, passphrase_ok: bool | None, now: float = 0.0
) -> None:
    """A right passphrase clears the serving node's wrong-passphrase streak; a wrong one extends it and, in
    Common Criteria mode (or with ``SimSettings.lockout_all_modes``), locks that node at the threshold."""
    if passphrase_ok is None:
        return
    node = cluster.serving_node
    if passphrase_ok:
        if node is not None:
            node.wrong_passphrase_streak = 0
        return
    cluster.wrong_passphrase_total += 1
    if node is None:
        return
    node.wrong_passphrase_streak += 1
    counts = cluster.cc_mode or fleet.settings.lockout_all_modes
    if counts and node.wrong_passphrase_streak >= cluster.lockout_threshold and not node.locked:
        node.locked, node.locked_at = True, now


def expire_lockouts(fleet: Fleet, cluster: Cluster, now: float) -> None:
    """A locked node clears ``SimSettings.lockout_seconds`` (24 h) after its lock began; a lock set without
    a time (``/_sim``, an old state file) starts counting now."""
    for node in cluster.nodes:
        if not node.locked:
            continue
        if node.locked_at is None:
            node.locked_at = now
        elif now - node.locked_at >= fleet.settings.lockout_seconds:
            reboot_node(node)


def rebuild_cluster(cluster: Cluster) -> str:
    """The cluster was reinstalled: same name and address, a new uuid (nodes too), a fresh onboard key
    manager with a NEW random passphrase (returned; the inventory's secret files are not touched), fresh
    keys, no jobs, no lockout, no pending partner sync, no inactive configuration."""
    cluster.uuid = str(uuid.uuid4())
    for node in cluster.nodes:
        node.uuid = str(uuid.uuid4())
        reboot_node(node)
    length = 80 if cluster.cc_mode else 48
    passphrase = "".join(secrets.choice(PASSPHRASE_ALPHABET) for _ in range(length))
    cluster.job_seq += 1
    km_uuid = str(uuid.uuid5(uuid.UUID(cluster.uuid), f"key-manager-{cluster.job_seq}"))
    cluster.key_manager = KeyManager(uuid=km_uuid, kind="onboard", passphrase=passphrase)
    cluster.inactive_key_manager = None
    cluster.pending_partner_sync = None
    cluster.jobs = {}
    cluster.faults.partial_nodes = []
    _new_keys(cluster)
    return passphrase


def reboot_node(node: Node) -> None:
    """A node reboot clears its Common Criteria lockout and its streak."""
    node.locked, node.locked_at, node.wrong_passphrase_streak = False, None, 0


def commit(fleet: Fleet, cluster: Cluster, change: Change, now: float) -> Reply:
    """Apply a validated change now, or start a job that applies it when it ends (``advance_jobs``)."""
    if change.operation in CREATIONS:
        change = _with_new_key_manager(cluster, change)
    headers = {"Location": change.location} if change.location else {}
    if cluster.faults.jobs and not change.at_once:
        job = start_job(cluster, change, now)
        link = {"uuid": job.uuid, "_links": {"self": {"href": f"/api/cluster/jobs/{job.uuid}"}}}
        return Reply(cluster.faults.job_http_status, {"job": link}, headers)
    failure = apply_change(fleet, cluster, change.operation, change.params)
    if failure:
        return Reply.error(failure)
    return Reply(change.status, change.body, headers)


def _with_new_key_manager(cluster: Cluster, change: Change) -> Change:
    """A creation takes the cluster's next uuid for its key manager (deterministic: uuid5 of the
    cluster's); the answer's Location names it."""
    cluster.job_seq += 1
    km_uuid = str(uuid.uuid5(uuid.UUID(cluster.uuid), f"key-manager-{cluster.job_seq}"))
    params = {"uuid": km_uuid, **change.params}
    return dataclasses.replace(change, params=params, location=key_manager_path(km_uuid))


def start_job(cluster: Cluster, change: Change, now: float) -> Job:
    cluster.job_seq += 1
    job = Job(
        uuid=str(uuid.uuid5(uuid.UUID(cluster.uuid), f"job-{cluster.job_seq}")),
        description=change.description,
        start_time=now,
        ends_at=now + cluster.faults.job_seconds,
        failure=cluster.faults.job_fail,
        operation=change.operation,
        params=change.params,
    )
    cluster.faults.job_fail = None  # "the next job" fails, not every job
    cluster.jobs[job.uuid] = job
    return job


def advance_jobs(fleet: Fleet, cluster: Cluster, now: float) -> None:
    """Finish the jobs whose time has come and forget those ended longer than the retention ago."""
    if not cluster.jobs:
        return
    retention = fleet.settings.job_retention_seconds
    for job in sorted(cluster.jobs.values(), key=lambda job: job.ends_at):
        if job.state in ("queued", "running") and job.ends_at <= now:
            finish_job(fleet, cluster, job)
        if job.end_time is not None and job.end_time + retention <= now:
            del cluster.jobs[job.uuid]


def finish_job(fleet: Fleet, cluster: Cluster, job: Job) -> None:
    job.end_time = job.ends_at
    if job.failure is not None:
        job.error_code, job.message = job.failure
    else:
        job.error_code = apply_change(fleet, cluster, job.operation, job.params)
        job.message = codes.message_for(job.error_code) if job.error_code else "success"
    job.state = "failure" if job.error_code else "success"
    job.code = job.error_code


def apply_change(fleet: Fleet, cluster: Cluster, operation: str, params: dict[str, Any]) -> int:
    """Make a change true; returns 0, or the partial-failure code when ``faults.partial_nodes`` fire."""
    return _APPLY[operation](fleet, cluster, params)


def _stale_nodes(cluster: Cluster) -> list[str]:
    """Nodes that fail this change: the partial fault's (consumed when ``partial_once``) and every node
    that is down (it cannot be reached; UNCONFIRMED how ONTAP answers, ontap-notes §10: a partial change)."""
    names = [node.name for node in cluster.nodes if node.name in set(cluster.faults.partial_nodes)]
    if names and cluster.faults.partial_once:
        cluster.faults.partial_nodes = []
    down = [node.name for node in cluster.nodes if node.state == "down" and node.name not in names]
    return names + down


def _mark_keys(cluster: Cluster, stale: list[str]) -> None:
    for node in cluster.nodes:
        for key in node.keys:
            key.restored = node.name not in stale


def _apply_change_passphrase(fleet: Fleet, cluster: Cluster, params: dict[str, Any]) -> int:
    km = cluster.key_manager
    if km is None or km.kind != "onboard":
        return codes.PASSPHRASE_CHANGE_FAILED  # deleted while the job ran
    km.passphrase = params["passphrase"]
    km.key_generation += 1
    cluster.counters.rotations += 1
    partner = fleet.partner_of(cluster)
    if partner is not None and partner.key_manager is not None and partner.key_manager.kind == "onboard":
        partner.pending_partner_sync = params["passphrase"]
    stale = _stale_nodes(cluster)
    for node in cluster.nodes:
        if node.name in stale:
            for key in node.keys:
                key.restored = False
    return cluster.faults.partial_code if stale else 0


def _apply_synchronize(fleet: Fleet, cluster: Cluster, params: dict[str, Any]) -> int:
    km = cluster.key_manager
    if km is None or km.kind != "onboard":
        return codes.PASSPHRASE_CHANGE_FAILED
    if cluster.pending_partner_sync is not None:
        km.passphrase = cluster.pending_partner_sync
        cluster.pending_partner_sync = None
        km.key_generation += 1
    cluster.counters.syncs += 1
    stale = _stale_nodes(cluster)
    _mark_keys(cluster, stale)
    return cluster.faults.partial_code if stale else 0


def _apply_create_onboard(fleet: Fleet, cluster: Cluster, params: dict[str, Any]) -> int:
    cluster.key_manager = KeyManager(uuid=params["uuid"], kind="onboard", passphrase=params["passphrase"])
    _new_keys(cluster)
    if params.get("synchronize"):
        cluster.counters.syncs += 1
    stale = _stale_nodes(cluster)
    _mark_keys(cluster, stale)
    return codes.OKM_FAILED_SOME_NODES if stale else 0


def _apply_create_external(fleet: Fleet, cluster: Cluster, params: dict[str, Any]) -> int:
    km = KeyManager(
        uuid=params["uuid"],
        kind="external",
        servers=[KeyServer(**record) for record in params["servers"]],
        client_certificate=CertRef(**params["client_certificate"]),
        server_ca_certificates=[CertRef(**ref) for ref in params["server_ca_certificates"]],
    )
    svm = cluster.svm_named(params["svm"]) if params.get("svm") else None
    if params.get("svm"):
        if svm is None or svm.key_manager is not None:
            return codes.KEY_MANAGER_ALREADY_CONFIGURED  # the SVM changed while the job ran
        svm.key_manager = km
        return 0
    cluster.key_manager = km
    _new_keys(cluster)
    return 0


def _scoped(cluster: Cluster, params: dict[str, Any]) -> KeyManager | None:
    """The key manager a change names: a data SVM's (``params["svm"]``) or the admin SVM's."""
    if not params.get("svm"):
        return cluster.key_manager
    svm = cluster.svm_named(params["svm"])
    return svm.key_manager if svm is not None else None


def _apply_modify_external(fleet: Fleet, cluster: Cluster, params: dict[str, Any]) -> int:
    km = _scoped(cluster, params)
    if km is None or km.kind != "external":
        return codes.EXTERNAL_NOT_ENABLED
    if "client_certificate" in params:
        km.client_certificate = CertRef(**params["client_certificate"])
    if "server_ca_certificates" in params:
        km.server_ca_certificates = [CertRef(**ref) for ref in params["server_ca_certificates"]]
    return 0


def _apply_delete(fleet: Fleet, cluster: Cluster, params: dict[str, Any]) -> int:
    svm = cluster.svm_named(params["svm"]) if params.get("svm") else None
    if svm is not None:
        svm.key_manager = None
        return 0
    cluster.key_manager = None
    cluster.pending_partner_sync = None
    for node in cluster.nodes:
        node.keys = []
    return 0


def _apply_delete_inactive(fleet: Fleet, cluster: Cluster, params: dict[str, Any]) -> int:
    cluster.inactive_key_manager = None
    return 0


def _apply_add_key_servers(fleet: Fleet, cluster: Cluster, params: dict[str, Any]) -> int:
    km = _key_manager(cluster, params)
    km.servers.extend(KeyServer(**record) for record in params["servers"])
    km.key_generation += 1
    return 0


def _apply_modify_key_server(fleet: Fleet, cluster: Cluster, params: dict[str, Any]) -> int:
    server = _key_server(_key_manager(cluster, params), params["server"])
    if "timeout" in params:
        server.timeout = params["timeout"]
    if "username" in params:
        server.username = params["username"]
    if "secondary_key_servers" in params:
        server.secondary_key_servers = list(params["secondary_key_servers"])
    return 0


def _apply_delete_key_server(fleet: Fleet, cluster: Cluster, params: dict[str, Any]) -> int:
    km = _key_manager(cluster, params)
    km.servers.remove(_key_server(km, params["server"]))
    km.key_generation += 1
    return 0


def _key_manager(cluster: Cluster, params: dict[str, Any]) -> KeyManager:
    """The key manager a key-server change was validated against (applied at once, never a job)."""
    km = _scoped(cluster, params)
    assert km is not None
    return km


def _key_server(km: KeyManager, name: str) -> KeyServer:
    return next(server for server in km.servers if server.server == name)


def _new_keys(cluster: Cluster) -> None:
    """Fresh keys for a new key manager, deterministic from the cluster and the key manager."""
    assert cluster.key_manager is not None
    rng = random.Random(f"{cluster.uuid}/{cluster.key_manager.uuid}")
    for node in cluster.nodes:
        node.keys = make_keys(rng, rng.randint(2, 4))


_APPLY: dict[str, Callable[[Fleet, Cluster, dict[str, Any]], int]] = {
    "change_passphrase": _apply_change_passphrase,
    "synchronize": _apply_synchronize,
    "create_onboard": _apply_create_onboard,
    "create_external": _apply_create_external,
    "modify_external": _apply_modify_external,
    "delete": _apply_delete,
    "delete_inactive": _apply_delete_inactive,
    "add_key_servers": _apply_add_key_servers,
    "modify_key_server": _apply_modify_key_server,
    "delete_key_server": _apply_delete_key_server,
}
