"""``/_sim/``: the truth ONTAP never shows (passphrase fingerprints, counters, pending syncs) and fault
control at run time. Not ONTAP: no authentication, never faulted, not counted as requests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from typing import Any

from aiohttp import web

from fleet.ontap import codes
from fleet.sim import effects
from fleet.sim.http import CLOCK, FLEET, HOST, read_body
from fleet.sim.rules import Refused
from fleet.sim.state import LOST_MODES, CertRef, Cluster, ClusterFaults, Node


def fingerprint(secret: str | None) -> str | None:
    return hashlib.sha256(secret.encode()).hexdigest() if secret is not None else None


def cluster_summary(app: web.Application, cluster: Cluster) -> dict[str, Any]:
    km, counters, mcc = cluster.key_manager, cluster.counters, cluster.metrocluster
    return {
        "name": cluster.name,
        "uuid": cluster.uuid,
        "answer_name": cluster.answer_name,  # what GET /api/cluster answers when not ``name``
        "address": f"{app[HOST]}:{cluster.port}",
        "version": ".".join(str(part) for part in cluster.version),
        "passphrase_fingerprint": fingerprint(km.passphrase if km is not None else None),
        "pending_partner_sync": cluster.pending_partner_sync is not None,
        "pending_fingerprint": fingerprint(cluster.pending_partner_sync),
        "key_generation": km.key_generation if km is not None else None,
        "nodes": [
            {
                "name": node.name,
                "uuid": node.uuid,
                "keys": len(node.keys),
                "not_restored": sum(not key.restored for key in node.keys),
                "wrong_passphrase_streak": node.wrong_passphrase_streak,
                "locked": node.locked,
                "locked_at": node.locked_at,
                "state": node.state,
                "version": ".".join(str(part) for part in cluster.node_version(node)),
            }
            for node in cluster.nodes
        ],
        "requests": counters.requests,
        "by_method": dict(counters.by_method),
        "mutations": counters.mutations,
        "rotations": counters.rotations,
        "syncs": counters.syncs,
        "inflight": counters.inflight,
        "max_inflight": counters.max_inflight,
        "max_mutations_inflight": counters.max_mutations_inflight,
        "lost_answers": counters.lost_answers,  # applied, answer withheld (the lost* faults)
        "lost_by_mode": dict(counters.lost_by_mode),
        "injected": dict(counters.injected),  # answers the request faults sent instead of ONTAP's
        "wrong_passphrase_attempts": cluster.wrong_passphrase_total,
        "wrong_passphrase_streak": cluster.wrong_passphrase_streak,
        "locked": cluster.locked,
        "serving_node": cluster.serving_node.name if cluster.serving_node is not None else None,
        "key_manager": km.kind if km is not None else None,
        "inactive_key_manager": cluster.inactive_key_manager.uuid if cluster.inactive_key_manager else None,
        "cc_mode": cluster.cc_mode,
        "certificates": [
            {
                "name": cert.name,
                "uuid": cert.uuid,
                "type": cert.type,
                "svm": cert.svm,
                "expiry_time": cert.expiry_time,
                "subject_key_identifier": cert.key_pair,
            }
            for cert in cluster.certificates
        ],
        "svms": [
            {
                "name": svm.name,
                "uuid": svm.uuid,
                "key_manager": None if svm.key_manager is None else svm.key_manager.uuid,
                "servers": [] if svm.key_manager is None else [s.server for s in svm.key_manager.servers],
                "client_certificate": None
                if svm.key_manager is None or svm.key_manager.client_certificate is None
                else svm.key_manager.client_certificate.name,
            }
            for svm in cluster.svms
        ],
        "metrocluster": None
        if mcc is None
        else {
            "partner": mcc.partner,
            "configuration_state": mcc.configuration_state,
            "mode": mcc.mode,
            "partner_reachable": mcc.partner_reachable,
        },
        "jobs": len(cluster.jobs),
    }


def _named(request: web.Request) -> Cluster:
    cluster = request.app[FLEET].clusters.get(request.match_info["name"])
    if cluster is None:
        raise Refused(codes.NOT_FOUND, target="name", message="No such simulated cluster.")
    return cluster


def _advance_all(request: web.Request) -> None:
    fleet, now = request.app[FLEET], request.app[CLOCK]()
    for cluster in fleet.clusters.values():
        effects.advance_jobs(fleet, cluster, now)
        effects.expire_lockouts(fleet, cluster, now)


async def sim_fleet(request: web.Request) -> web.Response:
    _advance_all(request)
    clusters = request.app[FLEET].clusters.values()
    return web.json_response(
        {
            "clusters": [cluster_summary(request.app, cluster) for cluster in clusters],
            "lost_answers": sum(cluster.counters.lost_answers for cluster in clusters),
        }
    )


async def sim_cluster(request: web.Request) -> web.Response:
    _advance_all(request)
    cluster = _named(request)
    summary = cluster_summary(request.app, cluster)
    summary["faults"] = dataclasses.asdict(cluster.faults)
    return web.json_response(summary)


FAULT_FIELDS = frozenset(f.name for f in dataclasses.fields(ClusterFaults))
MCC_FIELDS = frozenset({"mode", "configuration_state", "partner_reachable"})
CLUSTER_FIELDS = frozenset(
    {
        "locked",
        "cc_mode",
        "lockout_threshold",
        "wrong_passphrase_streak",
        "passphrase",
        "pending_partner_sync",
    }
)


def _node(cluster: Cluster, name: Any, target: str) -> Node:
    for node in cluster.nodes:
        if node.name == name:
            return node
    raise Refused(codes.INVALID_VALUE, target=target, message=f"No node {name!r} on {cluster.name}.")


NODE_FIELDS = frozenset({"restored", "state", "version"})


def _update_nodes(cluster: Cluster, value: Any) -> None:
    """``{"nodes": {"<node>": {"restored": bool, "state": "up"|"down", "version": "9.17.0"|null}}}``."""
    if not isinstance(value, dict):
        raise Refused(codes.INVALID_VALUE, target="nodes")
    for name, changes in value.items():
        node = _node(cluster, name, f"nodes.{name}")
        if not isinstance(changes, dict) or set(changes) - NODE_FIELDS:
            raise Refused(codes.INVALID_VALUE, target=f"nodes.{name}")
        if "state" in changes:
            if changes["state"] not in ("up", "down"):
                raise Refused(codes.INVALID_VALUE, target=f"nodes.{name}.state")
            node.state = changes["state"]
        if "version" in changes:
            node.version = _version(changes["version"], f"nodes.{name}.version")
        if "restored" in changes:
            for key_id in node.keys:
                key_id.restored = bool(changes["restored"])


def _version(value: Any, target: str) -> tuple[int, int, int] | None:
    if value is None:
        return None
    try:
        parts = [int(part) for part in (value.split(".") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        raise Refused(codes.INVALID_VALUE, target=target) from None
    if len(parts) != 3:
        raise Refused(codes.INVALID_VALUE, target=target)
    return parts[0], parts[1], parts[2]


CERTIFICATE_FIELDS = frozenset({"name", "type", "key_pair_of", "expiry_time", "svm"})


def _install_certificate(cluster: Cluster, value: Any) -> dict[str, Any]:
    """``{"name", "type": client|server_ca, "key_pair_of": <installed certificate's name>, "expiry_time",
    "svm": <data SVM, else the admin SVM>}``: a new certificate with its own key pair, or (``key_pair_of``)
    the same key pair as another (a renewal).
    Its uuid is deterministic (uuid5 of the cluster's uuid and the name)."""
    named = isinstance(value, dict) and isinstance(value.get("name"), str)
    if not isinstance(value, dict) or not named or set(value) - CERTIFICATE_FIELDS:
        raise Refused(codes.INVALID_VALUE, target="install_certificate")
    svm = value.get("svm") or ""
    if svm and cluster.svm_named(svm) is None:
        raise Refused(codes.SVM_NOT_FOUND, target="install_certificate.svm")
    if any(cert.name == value["name"] for cert in cluster.certificates):
        raise Refused(codes.INVALID_VALUE, target="install_certificate.name", message="Already installed.")
    if value.get("type", "client") not in ("client", "server_ca"):
        raise Refused(codes.INVALID_VALUE, target="install_certificate.type")
    cert = CertRef(
        name=value["name"],
        uuid=str(uuid.uuid5(uuid.UUID(cluster.uuid), f"certificate/{value['name']}")),
        type=value.get("type", "client"),
        svm=svm,
    )
    if "expiry_time" in value:
        cert.expiry_time = str(value["expiry_time"])
    if value.get("key_pair_of") is not None:
        twin = next((c for c in cluster.certificates if c.name == value["key_pair_of"]), None)
        if twin is None:
            raise Refused(codes.INVALID_VALUE, target="install_certificate.key_pair_of")
        cert.subject_key_identifier = twin.key_pair
    cluster.certificates.append(cert)
    return {"name": cert.name, "uuid": cert.uuid, "subject_key_identifier": cert.key_pair}


def update_cluster(cluster: Cluster, changes: dict[str, Any]) -> dict[str, Any]:
    """Set state and faults at run time; unknown names are refused, so a typo never passes silently.
    Returns what the caller must learn and cannot read elsewhere: a rebuild's new ``passphrase``, an
    installed ``certificate``."""
    rebuilt: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "faults":
            unknown = set(value) - FAULT_FIELDS
            if unknown:
                raise Refused(codes.UNEXPECTED_ARGUMENT, target=f"faults.{sorted(unknown)[0]}")
            for name, setting in value.items():
                if name == "partner_sync_method" and setting not in (None, "patch", "post", "either"):
                    raise Refused(codes.INVALID_VALUE, target="faults.partner_sync_method")
                if name == "lose_next" and (
                    not isinstance(setting, list) or any(mode not in LOST_MODES for mode in setting)
                ):
                    raise Refused(codes.INVALID_VALUE, target="faults.lose_next")
                is_pair = name == "job_fail" and setting is not None
                setattr(cluster.faults, name, (int(setting[0]), str(setting[1])) if is_pair else setting)
        elif key == "metrocluster":
            if cluster.metrocluster is None or set(value) - MCC_FIELDS:
                raise Refused(codes.INVALID_VALUE, target="metrocluster")
            for name, setting in value.items():
                setattr(cluster.metrocluster, name, setting)
        elif key == "passphrase":
            if cluster.key_manager is None or cluster.key_manager.kind != "onboard":
                raise Refused(codes.INVALID_VALUE, target="passphrase")
            cluster.key_manager.passphrase = value
        elif key == "nodes":
            _update_nodes(cluster, value)
        elif key == "reboot_node":
            effects.reboot_node(_node(cluster, value, "reboot_node"))
        elif key == "answer_name":
            if value is not None and (not isinstance(value, str) or not value):
                raise Refused(codes.INVALID_VALUE, target="answer_name")
            cluster.answer_name = None if value == cluster.name else value
        elif key == "rebuild":
            if value is not True:
                raise Refused(codes.INVALID_VALUE, target="rebuild")
            rebuilt["passphrase"] = effects.rebuild_cluster(cluster)
        elif key == "install_certificate":
            rebuilt["certificate"] = _install_certificate(cluster, value)
        elif key == "version":
            cluster.version = (int(value[0]), int(value[1]), int(value[2]))
        elif key in CLUSTER_FIELDS:
            setattr(cluster, key, value)  # locked=False clears every node (and its streak)
        else:
            raise Refused(codes.UNEXPECTED_ARGUMENT, target=key)
    return rebuilt


async def sim_update(request: web.Request) -> web.Response:
    cluster = _named(request)
    learned = update_cluster(cluster, await read_body(request))
    summary = cluster_summary(request.app, cluster)
    summary["faults"] = dataclasses.asdict(cluster.faults)
    summary.update(learned)  # {"passphrase": NEW} after a rebuild, {"certificate": …} after an install
    return web.json_response(summary)


async def sim_reset_counters(request: web.Request) -> web.Response:
    for cluster in request.app[FLEET].clusters.values():
        old = cluster.counters
        cluster.counters = type(old)(
            inflight=old.inflight,
            max_inflight=old.inflight,
            mutations_inflight=old.mutations_inflight,
            max_mutations_inflight=old.mutations_inflight,
        )
    return web.json_response({})
