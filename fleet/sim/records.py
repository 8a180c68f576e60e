"""ONTAP's records rendered from simulator state: key managers, key servers, key ids, key stores, jobs.

Each ``*_record`` returns the full record a cluster of that release shows, expensive fields included;
``query.select_fields`` decides what leaves. Fields arrive with the release that introduced them
(``Cluster.at_least``), so a 9.8 cluster answers like a 9.8 cluster. Each ``*_SHAPE`` says how that
kind of record answers ``fields=`` and which filters its collection takes.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from fleet.ontap import codes
from fleet.sim.http import CLOCK
from fleet.sim.query import Shape
from fleet.sim.state import CertRef, Cluster, Fleet, Job, KeyId, KeyManager, KeyServer, Node, Svm

HEALTHY_MESSAGE = "No action needed at this time."
BACKUP_RULE = "-" * 26


def self_link(href: str) -> dict[str, Any]:
    """A record's ``_links``."""
    return {"self": {"href": href}}


def wall_time(app: web.Application, at: float) -> str:
    """The simulator clock is monotonic; jobs show wall-clock ISO 8601 times like ONTAP's."""
    wall = time.time() + (at - app[CLOCK]())
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds")


def key_backup(cluster: Cluster, km: KeyManager) -> str:
    """A deterministic BEGIN/END BACKUP blob that changes whenever the key hierarchy changes."""
    return _key_backup(cluster.uuid, km.uuid, km.key_generation)


@functools.lru_cache(maxsize=4096)
def _key_backup(cluster_uuid: str, km_uuid: str, key_generation: int) -> str:
    seed = f"{cluster_uuid}/{km_uuid}/{key_generation}".encode()
    blob = b"NetApp Key Blob" + b"".join(hashlib.sha256(seed + bytes([i])).digest() for i in range(12))
    text = base64.b64encode(blob).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "\n".join(
        [f"{BACKUP_RULE}BEGIN BACKUP{BACKUP_RULE}", *lines, f"{BACKUP_RULE}-END BACKUP{BACKUP_RULE}"]
    )


def key_manager_status(fleet: Fleet, cluster: Cluster) -> dict[str, Any]:
    """``status``: locked, else the MetroCluster pending-sync message (on the site waiting for the sync
    and, per settings, on the rotated site too), else healthy (``SimSettings.healthy_status_code``)."""
    settings = fleet.settings
    partner = fleet.partner_of(cluster)
    if cluster.locked:
        return {"code": codes.PASSPHRASE_LOCKOUT, "message": codes.message_for(codes.PASSPHRASE_LOCKOUT)}
    partner_pending = partner is not None and partner.pending_partner_sync is not None
    if cluster.pending_partner_sync is not None or (
        settings.pending_status_on_both_sites and partner_pending
    ):
        return {
            "code": settings.pending_sync_status_code,
            "message": codes.message_for(codes.MCC_SYNC_PENDING),
        }
    return {"code": settings.healthy_status_code, "message": HEALTHY_MESSAGE}


def _cert_record(cert: CertRef, *, named: bool = True) -> dict[str, Any]:
    """A certificate reference; its ``name`` arrived in 9.8."""
    link = self_link(f"/api/security/certificates/{cert.uuid}")
    record: dict[str, Any] = {"uuid": cert.uuid, "_links": link}
    if named:
        record["name"] = cert.name
    return record


def key_server_record(cluster: Cluster, km: KeyManager, server: KeyServer) -> dict[str, Any]:
    record: dict[str, Any] = {
        "server": server.server,
        "timeout": server.timeout,
        "username": server.username or "",
        "_links": self_link(f"/api/security/key-managers/{km.uuid}/key-servers/{server.server}"),
    }
    if cluster.at_least(7):
        available = all(s != "not_responding" for s in server.node_states.values())
        record["connectivity"] = {"cluster_availability": available}
    if cluster.at_least(8):
        record["secondary_key_servers"] = list(server.secondary_key_servers)
    if cluster.at_least(13):
        record["connectivity"]["node_states"] = [
            {
                "node": {"name": node.name, "uuid": node.uuid},
                "state": server.node_states.get(node.name, "available"),
            }
            for node in cluster.nodes
        ]
    if cluster.at_least(14):
        record["create_remove_timeout"] = 10
    return record


def _embedded_server(cluster: Cluster, km: KeyManager, server: KeyServer) -> dict[str, Any]:
    """A server inside the key-manager record: the spec's ``key_server_readcreate``, where
    ``secondary_key_servers`` is one comma-delimited string (a list on the key-servers resource)."""
    record = key_server_record(cluster, km, server)
    record.pop("connectivity", None)
    record.pop("create_remove_timeout", None)
    if "secondary_key_servers" in record:
        record["secondary_key_servers"] = ", ".join(record["secondary_key_servers"])
    return record


def svm_reference(svm: Svm) -> dict[str, Any]:
    return {"name": svm.name, "uuid": svm.uuid, "_links": self_link(f"/api/svm/svms/{svm.uuid}")}


def key_manager_record(
    fleet: Fleet, cluster: Cluster, km: KeyManager, svm: Svm | None = None
) -> dict[str, Any]:
    """The full record, expensive fields included; ``select_fields`` decides what leaves. ``svm``: an
    SVM-scope key manager (``scope: svm`` with its ``svm``); the admin SVM's record carries no ``svm``."""
    record: dict[str, Any] = {
        "uuid": km.uuid,
        "scope": "cluster" if svm is None else "svm",
        "onboard": {"enabled": km.kind == "onboard"},
        "_links": self_link(f"/api/security/key-managers/{km.uuid}"),
    }
    if svm is not None:
        record["svm"] = svm_reference(svm)
    since_9_7 = cluster.at_least(7)  # status, key_backup, volume_encryption (releases.KEY_MANAGER_FIELDS)
    if since_9_7:
        if km.enabled:  # status is unavailable for an inactive configuration (spec GET description)
            record["status"] = key_manager_status(fleet, cluster)
        record["volume_encryption"] = {"supported": True, "code": 0, "message": ""}
        record["is_default_data_at_rest_encryption_disabled"] = False
    if km.kind == "onboard":
        if since_9_7:
            record["onboard"]["key_backup"] = key_backup(cluster, km)
    else:
        named = cluster.at_least(8)
        client = km.client_certificate
        record["external"] = {
            "client_certificate": _cert_record(client, named=named) if client else None,
            "server_ca_certificates": [_cert_record(cert, named=named) for cert in km.server_ca_certificates],
            "servers": [_embedded_server(cluster, km, server) for server in km.servers],
        }
    if cluster.at_least(16):
        record["enabled"] = km.enabled
        record["configuration"] = _configuration(km)
    return record


def _configuration(km: KeyManager) -> dict[str, Any]:
    config_uuid = str(uuid.uuid5(uuid.UUID(km.uuid), "configuration"))
    return {"name": "default" if km.enabled else f"{km.kind}-inactive", "uuid": config_uuid}


def key_managers(cluster: Cluster) -> list[KeyManager]:
    """The cluster-scope configurations ``GET /api/security/key-managers`` lists: on 9.16+ an inactive one
    first (ontap-notes §10: never assume ``records[0]`` is the active one), then the active one."""
    listed = []
    if cluster.inactive_key_manager is not None and cluster.at_least(16):
        listed.append(cluster.inactive_key_manager)
    if cluster.key_manager is not None:
        listed.append(cluster.key_manager)
    return listed


def every_key_manager(cluster: Cluster) -> list[tuple[Svm | None, KeyManager]]:
    """What an unfiltered ``GET /api/security/key-managers`` lists: the cluster-scope configurations
    (``key_managers``), then each data SVM's key manager (``scope: svm``)."""
    listed: list[tuple[Svm | None, KeyManager]] = [(None, km) for km in key_managers(cluster)]
    listed += [(svm, svm.key_manager) for svm in cluster.svms if svm.key_manager is not None]
    return listed


def key_id_record(cluster: Cluster, km: KeyManager, node: Node, key: KeyId) -> dict[str, Any]:
    onboard = km.kind == "onboard"
    record: dict[str, Any] = {
        "key_id": key.key_id,
        "key_type": key.key_type,
        "key_tag": key.key_tag,
        "restored": key.restored,
        "key_store": "onboard" if onboard else "external",
        "key_store_type": "okm" if onboard else "kmip",
        "key_manager": "onboard" if onboard else (km.servers[0].server if km.servers else ""),
        "key_server": "" if onboard else (km.servers[0].server if km.servers else ""),
        "encryption_algorithm": "XTS-AES-256",
        "key_user": cluster.name,
        "node": {"name": node.name, "uuid": node.uuid},
        "_links": self_link(f"/api/security/key-managers/{km.uuid}/keys/{node.uuid}/key-ids/{key.key_id}"),
    }
    if cluster.at_least(15):
        record["security_key_manager"] = {"uuid": km.uuid}
    return record


def job_record(app: web.Application, cluster: Cluster, job: Job) -> dict[str, Any]:
    record: dict[str, Any] = {
        "uuid": job.uuid,
        "description": job.description,
        "state": job.state,
        "message": job.message,
        "code": job.code,
        "start_time": wall_time(app, job.start_time),
        "_links": self_link(f"/api/cluster/jobs/{job.uuid}"),
    }
    if job.end_time is not None:
        record["end_time"] = wall_time(app, job.end_time)
    if job.state == "failure" and cluster.at_least(9):  # ``error`` arrived in 9.9
        record["error"] = {"code": str(job.code), "message": job.message}
    return record


def cluster_record(cluster: Cluster) -> dict[str, Any]:
    """The cluster's own identity: its ``answer_name`` when it has one (a misnamed cluster), its uuid."""
    generation, major, minor = cluster.version
    return {
        "name": cluster.answer_name or cluster.name,
        "uuid": cluster.uuid,
        "version": {"full": cluster.version_full, "generation": generation, "major": major, "minor": minor},
        "_links": self_link("/api/cluster"),
    }


def version_record(version: tuple[int, int, int]) -> dict[str, Any]:
    generation, major, minor = version
    full = f"NetApp Release {generation}.{major}.{minor}: simulated"
    return {"full": full, "generation": generation, "major": major, "minor": minor}


def node_record(cluster: Cluster, node: Node) -> dict[str, Any]:
    """A node: ``state`` up or down, and its own ``version`` (a node mid-upgrade differs from the rest)."""
    return {
        "uuid": node.uuid,
        "name": node.name,
        "state": node.state,
        "version": version_record(cluster.node_version(node)),
        "_links": self_link(f"/api/cluster/nodes/{node.uuid}"),
    }


def metrocluster_record(fleet: Fleet, cluster: Cluster) -> dict[str, Any]:
    """This site's MetroCluster view; the remote side as far as the partner can be reached."""
    name = cluster.answer_name or cluster.name
    local_cluster = {"name": name, "uuid": cluster.uuid, "_links": self_link("/api/cluster")}
    mcc = cluster.metrocluster
    if mcc is None:
        return {
            "local": {
                "cluster": local_cluster,
                "configuration_state": "not_configured",
                "mode": "not_configured",
                "partner_cluster_reachable": False,
                "periodic_check_enabled": False,
            },
            "_links": self_link("/api/cluster/metrocluster"),
        }
    partner = fleet.partner_of(cluster)
    reachable = mcc.partner_reachable and partner is not None
    remote: dict[str, Any] = {"configuration_state": "not_reachable", "mode": "not_reachable"}
    if partner is not None:
        remote["cluster"] = {
            "name": partner.name,
            "uuid": partner.uuid,
            "_links": self_link(f"/api/cluster/peers/{partner.uuid}/cluster"),
        }
        if reachable and partner.metrocluster is not None:
            remote["configuration_state"] = partner.metrocluster.configuration_state
            remote["mode"] = partner.metrocluster.mode
    remote["periodic_check_enabled"] = True
    return {
        "local": {
            "cluster": local_cluster,
            "configuration_state": mcc.configuration_state,
            "mode": mcc.mode,
            "partner_cluster_reachable": reachable,
            "periodic_check_enabled": True,
        },
        "remote": remote,
        "_links": self_link("/api/cluster/metrocluster"),
    }


KEY_MANAGER_SHAPE = Shape(
    keys=("uuid",),
    expensive=("status",),
    hidden=("onboard.key_backup",),
    resource="key_manager",
    filters="key_manager_filters",
)
KEY_SERVER_SHAPE = Shape(
    keys=("server",), expensive=("connectivity",), resource="key_server", filters="key_server_filters"
)
KEY_IDS_SHAPE = Shape(keys=("key_id", "node.uuid"), resource="key_id", filters="key_id_filters")
KEY_ID_SHAPE = Shape(keys=("key_id",), resource="key_id")
JOB_SHAPE = Shape(keys=("uuid",), resource="job")
CLUSTER_SHAPE = Shape(keys=(), resource="cluster")
METROCLUSTER_SHAPE = Shape(keys=(), resource="metrocluster")
NODE_SHAPE = Shape(keys=("uuid", "name"), resource="node", filters="node_filters")


CERTIFICATE_SHAPE = Shape(keys=("uuid", "name"), resource="certificate", filters="certificate_filters")


def certificate_record(cluster: Cluster, cert: CertRef) -> dict[str, Any]:
    """An installed certificate: the admin SVM's (``scope: cluster``) or a data SVM's (``scope: svm``).
    ``subject_key_identifier`` (9.8+) is the key pair's identity: a renewal that keeps the key pair
    keeps it. The PEM is a stand-in, not a real one."""
    svm = cluster.svm_named(cert.svm) if cert.svm else None
    svm_uuid = svm.uuid if svm is not None else str(uuid.uuid5(uuid.UUID(cluster.uuid), "admin-svm"))
    body = base64.b64encode(hashlib.sha256(f"{cert.uuid}/{cert.key_pair}".encode()).digest() * 4).decode()
    record: dict[str, Any] = {
        "uuid": cert.uuid,
        "type": cert.type,
        "common_name": cert.name,
        "ca": f"{cert.svm or cluster.name}-kmip-ca" if cert.type == "client" else cert.name,
        "expiry_time": cert.expiry_time,
        "serial_number": cert.uuid.replace("-", "")[:16].upper(),
        "key_size": 2048,
        "hash_function": "sha256",
        "scope": "cluster" if svm is None else "svm",
        "svm": {"name": cluster.name if svm is None else svm.name, "uuid": svm_uuid},
        "public_certificate": f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n",
        "_links": self_link(f"/api/security/certificates/{cert.uuid}"),
    }
    if cluster.at_least(8):
        record["name"] = cert.name
        record["subject_key_identifier"] = cert.key_pair
    return record


# key stores (9.10+): what policy sweeps check; one record per cluster-scope key manager
KEY_STORE_SHAPE = Shape(keys=("uuid",), resource="key_store", filters="key_store_filters")


def key_store_record(cluster: Cluster, km: KeyManager) -> dict[str, Any]:
    """``enabled`` and ``configuration`` arrived in 9.14, ``state`` in 9.16 (ontap-notes §1.8)."""
    onboard = km.kind == "onboard"
    store_uuid = str(uuid.uuid5(uuid.UUID(km.uuid), "key-store"))
    record: dict[str, Any] = {
        "uuid": store_uuid,
        "type": "okm" if onboard else "kmip",
        "location": "onboard" if onboard else "external",
        "scope": "cluster",
        "_links": self_link(f"/api/security/key-stores/{store_uuid}"),
    }
    if cluster.at_least(14):
        record["enabled"] = km.enabled
        record["configuration"] = _configuration(km)
    if cluster.at_least(16) and km.enabled:  # an inactive configuration's state: UNCONFIRMED, left out
        record["state"] = "active"
    return record


# data SVMs (/api/svm/svms): what a policy's ``svms:`` globs are matched against
SVM_SHAPE = Shape(keys=("uuid", "name"), resource="svm", filters="svm_filters")


def svm_record(svm: Svm) -> dict[str, Any]:
    """A data SVM, the fields of NetApp's ``svm`` definition a key-manager tool needs."""
    return {
        "uuid": svm.uuid,
        "name": svm.name,
        "state": svm.state,
        "subtype": "default",
        "language": "c.utf_8",
        "ipspace": {"name": "Default"},
        "_links": self_link(f"/api/svm/svms/{svm.uuid}"),
    }
