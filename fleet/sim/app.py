"""The simulator's aiohttp app: ONTAP's REST paths over ``rules``, one app for every cluster.

Handlers parse (query and body), call a rule, render. The cluster a request is for comes from the
local port the connection arrived on (each cluster has its own "management LIF"), so 10,000 clusters
share one app and one set of routes. Middlewares, outermost first: resolve the cluster and count,
the caller's extra middlewares (faults), authentication, ONTAP error bodies.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import fnmatch
import functools
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from fleet.ontap import codes
from fleet.sim import rules
from fleet.sim.rules import Refused, Reply
from fleet.sim.state import Cluster, ClusterFaults, Fleet, Job, KeyManager, KeyServer, Node

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LOGGER = logging.getLogger(__name__)
FLEET = web.AppKey("fleet", Fleet)
CLOCK = web.AppKey("clock", Callable[[], float])
HOST = web.AppKey("host", str)  # what introspection shows as each cluster's address host
PORTS = web.AppKey("ports", dict[int, Cluster])
CLUSTER = web.RequestKey("cluster", Cluster)  # the cluster a request is for

SECRET_NAMES = frozenset({"passphrase", "existing_passphrase", "password"})
COLLECTION_PARAMS = frozenset({"fields", "max_records", "return_records", "return_timeout", "order_by"})
INSTANCE_PARAMS = frozenset({"fields"})
MUTATION_PARAMS = frozenset({"return_timeout", "return_records"})
MUTATING_METHODS = frozenset({"POST", "PATCH", "DELETE"})
HEALTHY_MESSAGE = "No action needed at this time."
BACKUP_RULE = "-" * 26


# --- middlewares -----------------------------------------------------------------------------------------


def _cluster_for(app: web.Application, port: int | None) -> Cluster | None:
    ports = app[PORTS]
    cluster = ports.get(port) if port is not None else None
    if cluster is None:
        fleet = app[FLEET]
        ports.clear()
        ports.update({c.port: c for c in fleet.clusters.values() if c.port})
        cluster = ports.get(port) if port is not None else None
        if cluster is None and len(fleet.clusters) == 1:
            cluster = next(iter(fleet.clusters.values()))  # an in-process TestServer on an unknown port
    return cluster


def _set_cluster(request: web.Request, cluster: Cluster) -> None:
    request[CLUSTER] = cluster  # the typed key every later middleware (faults, auth) reads


@web.middleware
async def resolve_cluster(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Find the cluster from the connection's local port, count the request, let due jobs finish."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    port = sockname[1] if isinstance(sockname, tuple) and len(sockname) >= 2 else None
    cluster = _cluster_for(request.app, port)
    if cluster is None:
        return _json(Reply.error(codes.NOT_FOUND, message="No simulated cluster listens on this address."))
    _set_cluster(request, cluster)
    fleet, now = request.app[FLEET], request.app[CLOCK]()
    rules.advance_jobs(fleet, cluster, now)
    if request.path.startswith("/_sim/"):
        return await handler(request)
    counters = cluster.counters
    counters.requests += 1
    counters.by_method[request.method] = counters.by_method.get(request.method, 0) + 1
    mutation = request.method in MUTATING_METHODS and request.path.startswith("/api/security")
    counters.inflight += 1
    counters.max_inflight = max(counters.max_inflight, counters.inflight)
    if mutation:
        counters.mutations += 1
        counters.mutations_inflight += 1
        counters.max_mutations_inflight = max(counters.max_mutations_inflight, counters.mutations_inflight)
    try:
        return await handler(request)
    finally:
        counters.inflight -= 1
        if mutation:
            counters.mutations_inflight -= 1


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """HTTP basic auth against the cluster's admin account; ``/_sim/`` needs none (it is not ONTAP)."""
    if request.path.startswith("/_sim/"):
        return await handler(request)
    cluster: Cluster = request[CLUSTER]
    if cluster.faults.auth_fail or not _credentials_match(request.headers.get("Authorization", ""), cluster):
        response = _json(Reply.error(codes.USER_NOT_AUTHORIZED, status=401))
        response.headers["WWW-Authenticate"] = 'Basic realm="ONTAP"'
        return response
    return await handler(request)


def _credentials_match(header: str, cluster: Cluster) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(username, cluster.username) & hmac.compare_digest(password, cluster.password)


@web.middleware
async def ontap_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as ONTAP's error body: refusals, unknown paths and methods, crashes."""
    try:
        return await handler(request)
    except Refused as refusal:
        return _json(Reply.error(refusal.code, target=refusal.target, message=refusal.message))
    except web.HTTPNotFound:
        return _json(Reply.error(codes.NOT_FOUND, message="API not found"))
    except web.HTTPMethodNotAllowed:
        return _json(Reply.error(codes.NOT_SUPPORTED))
    except web.HTTPException:
        raise
    except Exception:
        LOGGER.exception("simulator handler failed: %s %s", request.method, request.path)
        return _json(Reply.error(codes.UNEXPECTED_EXCEPTION))


# --- query parameters, field selection and filters -------------------------------------------------------


def check_query(request: web.Request, allowed: Iterable[str]) -> None:
    """Secrets in the URL → 262202; anything the operation does not take → 262179 (both name the target)."""
    allowed = set(allowed)
    for name in request.query:
        if name.rsplit(".", 1)[-1] in SECRET_NAMES:
            raise Refused(codes.SECRET_IN_URL, target=name)
    for name in request.query:
        if name not in allowed and not name.startswith("start."):
            raise Refused(codes.UNEXPECTED_ARGUMENT, target=name, message=f'Unexpected argument "{name}".')


@dataclasses.dataclass(frozen=True, slots=True)
class Shape:
    """How one kind of record answers ``fields=``: key fields always, expensive ones only when named,
    ``hidden`` ones left out of an instance GET's default (but in ``*``)."""

    keys: tuple[str, ...]
    expensive: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    filters: frozenset[str] = frozenset()


def _tree(paths: Iterable[str]) -> dict[str, Any]:
    """Dotted paths as a tree whose ``True`` leaves mean "the whole subtree" (a parent beats its children)."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        *parents, last = path.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if child is True:
                break
            node = child
        else:
            node[last] = True
    return tree


def _project(value: Any, tree: dict[str, Any] | bool) -> Any:
    if tree is True:
        return value
    if isinstance(value, list):
        return [_project(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: _project(value[key], sub) for key, sub in tree.items() if key in value}


def _strip(value: Any, paths: Iterable[str]) -> Any:
    """A copy of ``value`` without the given dotted paths (through lists)."""

    def walk(item: Any, tree: dict[str, Any]) -> Any:
        if isinstance(item, list):
            return [walk(element, tree) for element in item]
        if not isinstance(item, dict):
            return item
        return {
            key: walk(sub, tree[key]) if key in tree else sub
            for key, sub in item.items()
            if tree.get(key) is not True
        }

    return walk(value, _tree(paths))


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def select_fields(record: dict[str, Any], fields: str | None, shape: Shape, *, collection: bool) -> dict:
    """ONTAP's ``fields=``: nothing → keys (collection) or all but expensive/hidden (instance); ``*`` → all
    but expensive; ``**`` → everything; names (``a`` or ``a.b``) → those, expensive ones included."""
    always = (*shape.keys, "_links")
    if fields is None:
        if collection:
            return _project(record, _tree(always))
        return _strip(record, (*shape.expensive, *shape.hidden))
    names = [name.strip() for name in fields.split(",") if name.strip()]
    if "**" in names:
        return record
    base = _strip(record, shape.expensive) if "*" in names else {}
    named = [name for name in names if name not in ("*", "**")]
    return _merge(base, _project(record, _tree((*always, *named))))


def _values(record: Any, path: list[str]) -> list[Any]:
    if isinstance(record, list):
        return [value for item in record for value in _values(item, path)]
    if not path:
        return [record]
    if not isinstance(record, dict) or path[0] not in record:
        return []
    return _values(record[path[0]], path[1:])


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def matches(record: dict[str, Any], name: str, query: str) -> bool:
    """ONTAP query syntax, the common part: ``a|b`` alternatives, ``!`` negation, ``*`` wildcards."""
    values = [_text(value) for value in _values(record, name.split("."))]
    for alternative in query.split("|"):
        negate = alternative.startswith("!")
        pattern = alternative[1:] if negate else alternative
        hit = any(fnmatch.fnmatchcase(value.lower(), pattern.lower()) for value in values)
        if hit != negate:
            return True
    return False


def _flag(request: web.Request, name: str, default: bool) -> bool:
    raw = request.query.get(name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        raise Refused(codes.INVALID_VALUE, target=name)
    return raw.lower() == "true"


def collection(request: web.Request, records: list[dict[str, Any]], shape: Shape) -> web.Response:
    """Filter, order, limit and project a collection the way ONTAP's collection GETs do."""
    check_query(request, COLLECTION_PARAMS | shape.filters)
    for name, query in request.query.items():
        if name in shape.filters:
            records = [record for record in records if matches(record, name, query)]
    order_by = request.query.get("order_by")
    if order_by:
        field_name, _, direction = order_by.partition(" ")
        records.sort(
            key=lambda record: [_text(v) for v in _values(record, field_name.split("."))],
            reverse=direction.strip().lower() == "desc",
        )
    max_records = request.query.get("max_records")
    if max_records is not None:
        if not max_records.isdigit():
            raise Refused(codes.INVALID_VALUE, target="max_records")
        records = records[: int(max_records)]
    body: dict[str, Any] = {"num_records": len(records), "_links": {"self": {"href": request.path_qs}}}
    if _flag(request, "return_records", True):
        fields = request.query.get("fields")
        body["records"] = [select_fields(record, fields, shape, collection=True) for record in records]
    return web.json_response(body)


def instance(request: web.Request, record: dict[str, Any], shape: Shape) -> web.Response:
    check_query(request, INSTANCE_PARAMS)
    return web.json_response(select_fields(record, request.query.get("fields"), shape, collection=False))


# --- records ---------------------------------------------------------------------------------------------


def _self(href: str) -> dict[str, Any]:
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


def _cert_record(cert: Any) -> dict[str, Any]:
    return {"name": cert.name, "uuid": cert.uuid, "_links": _self(f"/api/security/certificates/{cert.uuid}")}


def key_server_record(cluster: Cluster, km: KeyManager, server: KeyServer) -> dict[str, Any]:
    record: dict[str, Any] = {
        "server": server.server,
        "timeout": server.timeout,
        "username": server.username or "",
        "connectivity": {
            "cluster_availability": all(s != "not_responding" for s in server.node_states.values())
        },
        "_links": _self(f"/api/security/key-managers/{km.uuid}/key-servers/{server.server}"),
    }
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
    record.pop("connectivity")
    record.pop("create_remove_timeout", None)
    if "secondary_key_servers" in record:
        record["secondary_key_servers"] = ", ".join(record["secondary_key_servers"])
    return record


def key_manager_record(fleet: Fleet, cluster: Cluster, km: KeyManager) -> dict[str, Any]:
    """The full record, expensive fields included; ``select_fields`` decides what leaves."""
    record: dict[str, Any] = {
        "uuid": km.uuid,
        "scope": "cluster",
        "onboard": {"enabled": km.kind == "onboard"},
        "status": key_manager_status(fleet, cluster),
        "volume_encryption": {"supported": True, "code": 0, "message": ""},
        "is_default_data_at_rest_encryption_disabled": False,
        "_links": _self(f"/api/security/key-managers/{km.uuid}"),
    }
    if km.kind == "onboard":
        record["onboard"]["key_backup"] = key_backup(cluster, km)
    else:
        record["external"] = {
            "client_certificate": _cert_record(km.client_certificate) if km.client_certificate else None,
            "server_ca_certificates": [_cert_record(cert) for cert in km.server_ca_certificates],
            "servers": [_embedded_server(cluster, km, server) for server in km.servers],
        }
    if cluster.at_least(16):
        record["enabled"] = km.enabled
        config_uuid = str(uuid.uuid5(uuid.UUID(km.uuid), "configuration"))
        record["configuration"] = {"name": "default", "uuid": config_uuid}
    return record


def key_id_record(cluster: Cluster, km: KeyManager, node: Node, key: Any) -> dict[str, Any]:
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
        "_links": _self(f"/api/security/key-managers/{km.uuid}/keys/{node.uuid}/key-ids/{key.key_id}"),
    }
    if cluster.at_least(15):
        record["security_key_manager"] = {"uuid": km.uuid}
    return record


def job_record(app: web.Application, job: Job) -> dict[str, Any]:
    record: dict[str, Any] = {
        "uuid": job.uuid,
        "description": job.description,
        "state": job.state,
        "message": job.message,
        "code": job.code,
        "start_time": wall_time(app, job.start_time),
        "_links": _self(f"/api/cluster/jobs/{job.uuid}"),
    }
    if job.end_time is not None:
        record["end_time"] = wall_time(app, job.end_time)
    if job.state == "failure":
        record["error"] = {"code": str(job.code), "message": job.message}
    return record


KEY_MANAGER_SHAPE = Shape(
    keys=("uuid",),
    expensive=("status",),
    hidden=("onboard.key_backup",),
    filters=frozenset(
        {
            "uuid",
            "scope",
            "svm.name",
            "svm.uuid",
            "onboard.enabled",
            "onboard.key_backup",
            "status.code",
            "status.message",
            "external.servers.server",
            "external.servers.username",
            "external.servers.timeout",
            "external.servers.secondary_key_servers",
            "external.client_certificate.uuid",
            "external.client_certificate.name",
            "external.server_ca_certificates.uuid",
            "external.server_ca_certificates.name",
            "is_default_data_at_rest_encryption_disabled",
            "volume_encryption.supported",
            "volume_encryption.code",
            "volume_encryption.message",
            "policy",
            "enabled",
            "configuration.uuid",
            "configuration.name",
        }
    ),
)
KEY_SERVER_SHAPE = Shape(
    keys=("server",),
    expensive=("connectivity",),
    filters=frozenset(
        {"server", "timeout", "username", "secondary_key_servers", "create_remove_timeout"}
        | {"connectivity.cluster_availability", "connectivity.node_states.state"}
    ),
)
KEY_ID_FILTERS = frozenset(
    {
        "key_server",
        "encryption_algorithm",
        "node.name",
        "policy",
        "key_tag",
        "key_manager",
        "crn",
        "key_store_type",
        "key_type",
        "key_user",
        "key_store",
        "restored",
        "key_id",
    }
)
NODE_SHAPE = Shape(keys=("uuid", "name"), filters=frozenset({"uuid", "name", "state"}))
PLAIN_SHAPE = Shape(keys=())


# --- ONTAP handlers --------------------------------------------------------------------------------------


def _ctx(request: web.Request) -> tuple[Fleet, Cluster, float]:
    return request.app[FLEET], request[CLUSTER], request.app[CLOCK]()


def _json(reply: Reply) -> web.Response:
    return web.json_response(reply.body, status=reply.status, headers=reply.headers or None)


async def read_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Refused(codes.INVALID_JSON) from None
    if not isinstance(body, dict):
        raise Refused(codes.INVALID_JSON)
    return body


def _key_manager(cluster: Cluster, km_uuid: str, *, not_found: int = codes.NOT_FOUND) -> KeyManager:
    km = cluster.key_manager
    if km is None or km.uuid != km_uuid:
        raise Refused(not_found, target="uuid")
    return km


def _gate(cluster: Cluster, major: int, minor: int = 0) -> None:
    """Paths newer than the cluster's release do not exist there."""
    if not cluster.at_least(major, minor):
        raise web.HTTPNotFound()


async def get_cluster(request: web.Request) -> web.Response:
    _, cluster, _ = _ctx(request)
    generation, major, minor = cluster.version
    record = {
        "name": cluster.name,
        "uuid": cluster.uuid,
        "version": {"full": cluster.version_full, "generation": generation, "major": major, "minor": minor},
        "_links": _self("/api/cluster"),
    }
    check_query(request, {"fields", "return_timeout"})
    return web.json_response(
        select_fields(record, request.query.get("fields"), PLAIN_SHAPE, collection=False)
    )


async def get_nodes(request: web.Request) -> web.Response:
    _, cluster, _ = _ctx(request)
    records = [
        {
            "uuid": node.uuid,
            "name": node.name,
            "state": "up",
            "_links": _self(f"/api/cluster/nodes/{node.uuid}"),
        }
        for node in cluster.nodes
    ]
    return collection(request, records, NODE_SHAPE)


async def get_metrocluster(request: web.Request) -> web.Response:
    fleet, cluster, _ = _ctx(request)
    _gate(cluster, 8)
    check_query(request, {"fields", "return_timeout"})
    local_cluster = {"name": cluster.name, "uuid": cluster.uuid, "_links": _self("/api/cluster")}
    mcc = cluster.metrocluster
    if mcc is None:
        record: dict[str, Any] = {
            "local": {
                "cluster": local_cluster,
                "configuration_state": "not_configured",
                "mode": "not_configured",
                "partner_cluster_reachable": False,
                "periodic_check_enabled": False,
            },
            "_links": _self("/api/cluster/metrocluster"),
        }
    else:
        partner = fleet.partner_of(cluster)
        reachable = mcc.partner_reachable and partner is not None
        remote: dict[str, Any] = {"configuration_state": "not_reachable", "mode": "not_reachable"}
        if partner is not None:
            remote["cluster"] = {
                "name": partner.name,
                "uuid": partner.uuid,
                "_links": _self(f"/api/cluster/peers/{partner.uuid}/cluster"),
            }
            if reachable and partner.metrocluster is not None:
                remote["configuration_state"] = partner.metrocluster.configuration_state
                remote["mode"] = partner.metrocluster.mode
        remote["periodic_check_enabled"] = True
        record = {
            "local": {
                "cluster": local_cluster,
                "configuration_state": mcc.configuration_state,
                "mode": mcc.mode,
                "partner_cluster_reachable": reachable,
                "periodic_check_enabled": True,
            },
            "remote": remote,
            "_links": _self("/api/cluster/metrocluster"),
        }
    return web.json_response(
        select_fields(record, request.query.get("fields"), PLAIN_SHAPE, collection=False)
    )


async def get_job(request: web.Request) -> web.Response:
    _, cluster, _ = _ctx(request)
    job = cluster.jobs.get(request.match_info["uuid"])
    if job is None:
        raise Refused(codes.NOT_FOUND, target="uuid")
    return instance(request, job_record(request.app, job), Shape(keys=("uuid",)))


async def list_key_managers(request: web.Request) -> web.Response:
    fleet, cluster, _ = _ctx(request)
    km = cluster.key_manager
    records = [key_manager_record(fleet, cluster, km)] if km is not None else []
    return collection(request, records, KEY_MANAGER_SHAPE)


async def get_key_manager(request: web.Request) -> web.Response:
    fleet, cluster, _ = _ctx(request)
    km = _key_manager(cluster, request.match_info["uuid"])
    return instance(request, key_manager_record(fleet, cluster, km), KEY_MANAGER_SHAPE)


async def post_key_manager(request: web.Request) -> web.Response:
    fleet, cluster, now = _ctx(request)
    check_query(request, MUTATION_PARAMS | {"create_inactive"})
    return _json(rules.create_key_manager(fleet, cluster, await read_body(request), now))


async def patch_key_manager(request: web.Request) -> web.Response:
    fleet, cluster, now = _ctx(request)
    check_query(request, MUTATION_PARAMS | {"validate_certificates"})
    body = await read_body(request)
    return _json(rules.patch_key_manager(fleet, cluster, request.match_info["uuid"], body, now))


async def delete_key_manager(request: web.Request) -> web.Response:
    fleet, cluster, now = _ctx(request)
    check_query(request, MUTATION_PARAMS)
    return _json(rules.delete_key_manager(fleet, cluster, request.match_info["uuid"], now))


def _external(cluster: Cluster, km_uuid: str) -> KeyManager:
    km = _key_manager(cluster, km_uuid)
    if km.kind != "external":
        raise Refused(codes.EXTERNAL_NOT_ENABLED)
    return km


async def list_key_servers(request: web.Request) -> web.Response:
    _, cluster, _ = _ctx(request)
    km = _external(cluster, request.match_info["uuid"])
    return collection(request, [key_server_record(cluster, km, s) for s in km.servers], KEY_SERVER_SHAPE)


async def get_key_server(request: web.Request) -> web.Response:
    _, cluster, _ = _ctx(request)
    km = _external(cluster, request.match_info["uuid"])
    for server in km.servers:
        if server.server == request.match_info["server"]:
            return instance(request, key_server_record(cluster, km, server), KEY_SERVER_SHAPE)
    raise Refused(codes.KEY_SERVER_NOT_CONFIGURED, target="server")


async def post_key_servers(request: web.Request) -> web.Response:
    fleet, cluster, now = _ctx(request)
    check_query(request, MUTATION_PARAMS)
    body = await read_body(request)
    return _json(rules.add_key_servers(fleet, cluster, request.match_info["uuid"], body, now))


async def patch_key_server(request: web.Request) -> web.Response:
    fleet, cluster, now = _ctx(request)
    check_query(request, MUTATION_PARAMS)
    body = await read_body(request)
    match = request.match_info
    return _json(rules.modify_key_server(fleet, cluster, match["uuid"], match["server"], body, now))


async def delete_key_server(request: web.Request) -> web.Response:
    fleet, cluster, now = _ctx(request)
    check_query(request, MUTATION_PARAMS | {"force"})
    match = request.match_info
    return _json(rules.delete_key_server(fleet, cluster, match["uuid"], match["server"], now))


def _key_ids_target(request: web.Request) -> tuple[Cluster, KeyManager, Node]:
    _, cluster, _ = _ctx(request)
    _gate(cluster, 11)
    km = _key_manager(cluster, request.match_info["km_uuid"], not_found=codes.NOT_A_KEY_MANAGER)
    for node in cluster.nodes:
        if node.uuid == request.match_info["node_uuid"]:
            return cluster, km, node
    raise Refused(codes.NOT_FOUND, target="node.uuid")


async def list_key_ids(request: web.Request) -> web.Response:
    cluster, km, node = _key_ids_target(request)
    filters = KEY_ID_FILTERS if cluster.at_least(12) else frozenset()  # query filters arrived in 9.12
    records = [key_id_record(cluster, km, node, key) for key in node.keys]
    return collection(request, records, Shape(keys=("key_id", "node.uuid"), filters=filters))


async def get_key_id(request: web.Request) -> web.Response:
    cluster, km, node = _key_ids_target(request)
    for key in node.keys:
        if key.key_id == request.match_info["key_id"]:
            return instance(request, key_id_record(cluster, km, node, key), Shape(keys=("key_id",)))
    raise Refused(codes.NOT_FOUND, target="key_id")


# --- key stores (9.10+): what policy sweeps check; one record per cluster-scope key manager ------------

KEY_STORE_SHAPE = Shape(keys=("uuid",), filters=frozenset({"type", "location", "scope", "enabled", "state"}))


def key_store_record(cluster: Cluster, km: KeyManager) -> dict[str, Any]:
    """``enabled`` and ``configuration`` arrived in 9.14, ``state`` in 9.16 (ontap-notes §1.8)."""
    onboard = km.kind == "onboard"
    store_uuid = str(uuid.uuid5(uuid.UUID(km.uuid), "key-store"))
    record: dict[str, Any] = {
        "uuid": store_uuid,
        "type": "okm" if onboard else "kmip",
        "location": "onboard" if onboard else "external",
        "scope": "cluster",
        "_links": _self(f"/api/security/key-stores/{store_uuid}"),
    }
    if cluster.at_least(14):
        record["enabled"] = km.enabled
        config_uuid = str(uuid.uuid5(uuid.UUID(km.uuid), "configuration"))
        record["configuration"] = {"name": "default", "uuid": config_uuid}
    if cluster.at_least(16):
        record["state"] = "active" if km.enabled else "disabling"
    return record


async def list_key_stores(request: web.Request) -> web.Response:
    _, cluster, _ = _ctx(request)
    _gate(cluster, 10)
    km = cluster.key_manager
    records = [key_store_record(cluster, km)] if km is not None else []
    return collection(request, records, KEY_STORE_SHAPE)


# --- introspection (/_sim/): the truth ONTAP never shows, and fault control ------------------------------


def fingerprint(secret: str | None) -> str | None:
    return hashlib.sha256(secret.encode()).hexdigest() if secret is not None else None


def cluster_summary(app: web.Application, cluster: Cluster) -> dict[str, Any]:
    km, counters, mcc = cluster.key_manager, cluster.counters, cluster.metrocluster
    return {
        "name": cluster.name,
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
        "wrong_passphrase_attempts": cluster.wrong_passphrase_total,
        "wrong_passphrase_streak": cluster.wrong_passphrase_streak,
        "locked": cluster.locked,
        "key_manager": km.kind if km is not None else None,
        "cc_mode": cluster.cc_mode,
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
        rules.advance_jobs(fleet, cluster, now)


async def sim_fleet(request: web.Request) -> web.Response:
    _advance_all(request)
    clusters = request.app[FLEET].clusters.values()
    return web.json_response({"clusters": [cluster_summary(request.app, cluster) for cluster in clusters]})


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


def update_cluster(cluster: Cluster, changes: dict[str, Any]) -> None:
    """Set state and faults at run time; unknown names are refused, so a typo never passes silently."""
    for key, value in changes.items():
        if key == "faults":
            unknown = set(value) - FAULT_FIELDS
            if unknown:
                raise Refused(codes.UNEXPECTED_ARGUMENT, target=f"faults.{sorted(unknown)[0]}")
            for name, setting in value.items():
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
            for node in cluster.nodes:
                for key_id in node.keys:
                    key_id.restored = value.get(node.name, {}).get("restored", key_id.restored)
        elif key == "version":
            cluster.version = (int(value[0]), int(value[1]), int(value[2]))
        elif key in CLUSTER_FIELDS:
            setattr(cluster, key, value)
            if key == "locked" and not value:
                cluster.wrong_passphrase_streak = 0
        else:
            raise Refused(codes.UNEXPECTED_ARGUMENT, target=key)


async def sim_update(request: web.Request) -> web.Response:
    cluster = _named(request)
    update_cluster(cluster, await read_body(request))
    summary = cluster_summary(request.app, cluster)
    summary["faults"] = dataclasses.asdict(cluster.faults)
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


# --- the app ---------------------------------------------------------------------------------------------

KM = "/api/security/key-managers"


def build_app(
    fleet: Fleet, *, clock: Callable[[], float] = time.monotonic, middlewares: Sequence[Middleware] = ()
) -> web.Application:
    """One app for the whole fleet; ``middlewares`` (faults) run after the cluster is known, before auth."""
    app = web.Application(middlewares=[resolve_cluster, *middlewares, authenticate, ontap_errors])
    app[FLEET] = fleet
    app[CLOCK] = clock
    app[HOST] = "127.0.0.1"
    app[PORTS] = {}
    app.router.add_routes(
        [
            web.get("/api/cluster", get_cluster, allow_head=False),
            web.get("/api/cluster/nodes", get_nodes, allow_head=False),
            web.get("/api/cluster/metrocluster", get_metrocluster, allow_head=False),
            web.get("/api/cluster/jobs/{uuid}", get_job, allow_head=False),
            web.get(KM, list_key_managers, allow_head=False),
            web.post(KM, post_key_manager),
            web.get(KM + "/{uuid}", get_key_manager, allow_head=False),
            web.patch(KM + "/{uuid}", patch_key_manager),
            web.delete(KM + "/{uuid}", delete_key_manager),
            web.get(KM + "/{uuid}/key-servers", list_key_servers, allow_head=False),
            web.post(KM + "/{uuid}/key-servers", post_key_servers),
            web.get(KM + "/{uuid}/key-servers/{server}", get_key_server, allow_head=False),
            web.patch(KM + "/{uuid}/key-servers/{server}", patch_key_server),
            web.delete(KM + "/{uuid}/key-servers/{server}", delete_key_server),
            web.get(KM + "/{km_uuid}/keys/{node_uuid}/key-ids", list_key_ids, allow_head=False),
            web.get(KM + "/{km_uuid}/keys/{node_uuid}/key-ids/{key_id}", get_key_id, allow_head=False),
            web.get("/api/security/key-stores", list_key_stores, allow_head=False),
            web.get("/_sim/fleet", sim_fleet, allow_head=False),
            web.get("/_sim/clusters/{name}", sim_cluster, allow_head=False),
            web.post("/_sim/clusters/{name}", sim_update),
            web.post("/_sim/reset-counters", sim_reset_counters),
        ]
    )
    return app
