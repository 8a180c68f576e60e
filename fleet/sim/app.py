"""The simulator's aiohttp app: ONTAP's REST paths over ``rules``, one app for every cluster.

Handlers parse (query and body), call a rule, let ``effects`` act on its decision, render. The
cluster a request is for comes from the local port the connection arrived on (each cluster has its
own "management LIF"), so 10,000 clusters share one app and one set of routes. Middlewares, outermost
first: resolve the cluster, count the request and let due jobs end; the caller's extra middlewares
(faults); authentication; ONTAP error bodies. Query handling lives in ``query``, records in
``records``, the ``/_sim/`` endpoints in ``introspect``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import time
from collections.abc import Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

from fleet.ontap import codes
from fleet.sim import effects, releases, rules
from fleet.sim.http import CLOCK, CLUSTER, FLEET, HOST, PORTS, Handler, ctx, json_reply, read_body
from fleet.sim.introspect import sim_cluster, sim_fleet, sim_reset_counters, sim_update
from fleet.sim.query import (
    Shape,
    check_fields_param,
    check_query,
    collection,
    instance,
    mutation_query,
    return_timeout,
    select_fields,
)
from fleet.sim.records import (
    CERTIFICATE_SHAPE,
    CLUSTER_SHAPE,
    JOB_SHAPE,
    KEY_ID_SHAPE,
    KEY_IDS_SHAPE,
    KEY_MANAGER_SHAPE,
    KEY_SERVER_SHAPE,
    KEY_STORE_SHAPE,
    METROCLUSTER_SHAPE,
    NODE_SHAPE,
    SVM_SHAPE,
    certificate_record,
    cluster_record,
    every_key_manager,
    job_record,
    key_id_record,
    key_manager_record,
    key_managers,
    key_server_record,
    key_store_record,
    metrocluster_record,
    node_record,
    svm_record,
)
from fleet.sim.rules import Refused, Reply
from fleet.sim.state import Cluster, Fleet, KeyManager, Node

LOGGER = logging.getLogger(__name__)
MUTATING_METHODS = frozenset({"POST", "PATCH", "DELETE"})


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
        return json_reply(
            Reply.error(codes.NOT_FOUND, message="No simulated cluster listens on this address.")
        )
    _set_cluster(request, cluster)
    fleet, now = request.app[FLEET], request.app[CLOCK]()
    effects.advance_jobs(fleet, cluster, now)
    effects.expire_lockouts(fleet, cluster, now)
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
        response = json_reply(Reply.error(codes.USER_NOT_AUTHORIZED, status=401))
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
    except Refused as refused:
        return json_reply(refused.refusal.reply())
    except web.HTTPNotFound:
        return json_reply(Reply.error(codes.NOT_FOUND, message="API not found"))
    except web.HTTPMethodNotAllowed:
        return json_reply(Reply.error(codes.NOT_SUPPORTED))
    except web.HTTPException:
        raise
    except Exception:
        LOGGER.exception("simulator handler failed: %s %s", request.method, request.path)
        return json_reply(Reply.error(codes.UNEXPECTED_EXCEPTION))


# --- ONTAP handlers --------------------------------------------------------------------------------------


async def answer_change(request: web.Request, decision: rules.Decision) -> web.Response:
    """Act on a decision; with ``SimSettings.honour_return_timeout``, a change running as a job is waited
    for up to ``return_timeout`` seconds (0–120, default 0): finished in time → 200 + the job link
    (success; ANS has seen this), or the job's error as a synchronous change would answer it
    (UNCONFIRMED); still running → 202 + job link, as before."""
    fleet, cluster, now = ctx(request)
    wait_up_to = return_timeout(request)
    reply = effects.enact(fleet, cluster, decision, now)
    job_link = reply.body.get("job") if reply.status in (200, 202) else None
    honour = fleet.settings.honour_return_timeout and wait_up_to > 0
    job = cluster.jobs.get(job_link["uuid"]) if isinstance(job_link, dict) and honour else None
    if job is None:
        return json_reply(reply)
    wait = min(float(wait_up_to), max(job.ends_at - now, 0.0))
    if wait > 0:
        await asyncio.sleep(wait)  # the simulator's clock runs at wall speed (tests move a fake one by hand)
    effects.advance_jobs(fleet, cluster, request.app[CLOCK]())
    if job.state == "success":
        return json_reply(Reply(200, reply.body, reply.headers))
    if job.state == "failure":
        return json_reply(Reply.error(job.code, message=job.message))
    return json_reply(reply)


def _key_manager(cluster: Cluster, km_uuid: str, *, not_found: int = codes.NOT_FOUND) -> KeyManager:
    km = cluster.key_manager
    if km is None or km.uuid != km_uuid:
        raise Refused(not_found, target="uuid")
    return km


def _gate(cluster: Cluster, introduced: releases.Release) -> None:
    """Paths newer than the cluster's release do not exist there: ONTAP's answer to an unknown path."""
    if not cluster.at_least(*introduced):
        raise web.HTTPNotFound()


def _single(request: web.Request, record: dict[str, object], shape: Shape) -> web.Response:
    """A singleton resource (``/api/cluster``, ``/api/cluster/metrocluster``): ``fields`` and
    ``return_timeout`` only."""
    check_query(request, {"fields", "return_timeout"})
    check_fields_param(request, shape.resource)
    return web.json_response(select_fields(record, request.query.get("fields"), shape, collection=False))


async def get_cluster(request: web.Request) -> web.Response:
    _, cluster, _ = ctx(request)
    return _single(request, cluster_record(cluster), CLUSTER_SHAPE)


async def get_nodes(request: web.Request) -> web.Response:
    _, cluster, _ = ctx(request)
    return collection(request, [node_record(cluster, node) for node in cluster.nodes], NODE_SHAPE)


async def get_metrocluster(request: web.Request) -> web.Response:
    fleet, cluster, _ = ctx(request)
    _gate(cluster, releases.METROCLUSTER)
    return _single(request, metrocluster_record(fleet, cluster), METROCLUSTER_SHAPE)


async def get_job(request: web.Request) -> web.Response:
    _, cluster, _ = ctx(request)
    job = cluster.jobs.get(request.match_info["uuid"])
    if job is None:
        raise Refused(codes.NOT_FOUND, target="uuid")
    return instance(request, job_record(request.app, cluster, job), JOB_SHAPE)


async def list_key_managers(request: web.Request) -> web.Response:
    fleet, cluster, _ = ctx(request)
    records = [key_manager_record(fleet, cluster, km, svm) for svm, km in every_key_manager(cluster)]
    return collection(request, records, KEY_MANAGER_SHAPE)


async def get_key_manager(request: web.Request) -> web.Response:
    fleet, cluster, _ = ctx(request)
    for svm, km in every_key_manager(cluster):
        if km.uuid == request.match_info["uuid"]:
            return instance(request, key_manager_record(fleet, cluster, km, svm), KEY_MANAGER_SHAPE)
    raise Refused(codes.NOT_FOUND, target="uuid")


async def post_key_manager(request: web.Request) -> web.Response:
    fleet, cluster, _ = ctx(request)
    mutation_query(request, "create_inactive")
    return await answer_change(request, rules.create_key_manager(fleet, cluster, await read_body(request)))


async def patch_key_manager(request: web.Request) -> web.Response:
    fleet, cluster, _ = ctx(request)
    mutation_query(request, "validate_certificates")
    body = await read_body(request)
    return await answer_change(
        request, rules.patch_key_manager(fleet, cluster, request.match_info["uuid"], body)
    )


async def delete_key_manager(request: web.Request) -> web.Response:
    fleet, cluster, _ = ctx(request)
    mutation_query(request)
    return await answer_change(request, rules.delete_key_manager(fleet, cluster, request.match_info["uuid"]))


def _external(cluster: Cluster, km_uuid: str) -> KeyManager:
    """An external key manager of any scope (the admin SVM's or a data SVM's)."""
    for _, km in every_key_manager(cluster):
        if km.uuid == km_uuid and km.enabled:
            break
    else:
        raise Refused(codes.NOT_FOUND, target="uuid")
    if km.kind != "external":
        raise Refused(codes.EXTERNAL_NOT_ENABLED)
    return km


async def list_key_servers(request: web.Request) -> web.Response:
    _, cluster, _ = ctx(request)
    km = _external(cluster, request.match_info["uuid"])
    return collection(request, [key_server_record(cluster, km, s) for s in km.servers], KEY_SERVER_SHAPE)


async def get_key_server(request: web.Request) -> web.Response:
    _, cluster, _ = ctx(request)
    km = _external(cluster, request.match_info["uuid"])
    for server in km.servers:
        if server.server == request.match_info["server"]:
            return instance(request, key_server_record(cluster, km, server), KEY_SERVER_SHAPE)
    raise Refused(codes.KEY_SERVER_NOT_CONFIGURED, target="server")


async def post_key_servers(request: web.Request) -> web.Response:
    fleet, cluster, now = ctx(request)
    mutation_query(request)
    body = await read_body(request)
    decision = rules.add_key_servers(fleet, cluster, request.match_info["uuid"], body)
    return json_reply(effects.enact(fleet, cluster, decision, now))


async def patch_key_server(request: web.Request) -> web.Response:
    fleet, cluster, now = ctx(request)
    mutation_query(request)
    body = await read_body(request)
    match = request.match_info
    decision = rules.modify_key_server(fleet, cluster, match["uuid"], match["server"], body)
    return json_reply(effects.enact(fleet, cluster, decision, now))


async def delete_key_server(request: web.Request) -> web.Response:
    fleet, cluster, now = ctx(request)
    mutation_query(request, "force")
    match = request.match_info
    decision = rules.delete_key_server(fleet, cluster, match["uuid"], match["server"])
    return json_reply(effects.enact(fleet, cluster, decision, now))


def _key_ids_target(request: web.Request) -> tuple[Cluster, KeyManager, Node]:
    _, cluster, _ = ctx(request)
    _gate(cluster, releases.KEY_IDS)
    km = _key_manager(cluster, request.match_info["km_uuid"], not_found=codes.NOT_A_KEY_MANAGER)
    for node in cluster.nodes:
        if node.uuid == request.match_info["node_uuid"]:
            return cluster, km, node
    raise Refused(codes.NOT_FOUND, target="node.uuid")


async def list_key_ids(request: web.Request) -> web.Response:
    cluster, km, node = _key_ids_target(request)
    records = [key_id_record(cluster, km, node, key) for key in node.keys]
    return collection(request, records, KEY_IDS_SHAPE)


async def get_key_id(request: web.Request) -> web.Response:
    cluster, km, node = _key_ids_target(request)
    for key in node.keys:
        if key.key_id == request.match_info["key_id"]:
            return instance(request, key_id_record(cluster, km, node, key), KEY_ID_SHAPE)
    raise Refused(codes.NOT_FOUND, target="key_id")


async def list_certificates(request: web.Request) -> web.Response:
    _, cluster, _ = ctx(request)
    _gate(cluster, releases.CERTIFICATES)
    records = [certificate_record(cluster, cert) for cert in cluster.certificates]
    return collection(request, records, CERTIFICATE_SHAPE)


async def get_certificate(request: web.Request) -> web.Response:
    _, cluster, _ = ctx(request)
    _gate(cluster, releases.CERTIFICATES)
    for cert in cluster.certificates:
        if cert.uuid == request.match_info["uuid"]:
            return instance(request, certificate_record(cluster, cert), CERTIFICATE_SHAPE)
    raise Refused(codes.NOT_FOUND, target="uuid")


async def list_svms(request: web.Request) -> web.Response:
    _, cluster, _ = ctx(request)
    _gate(cluster, releases.SVMS)
    return collection(request, [svm_record(svm) for svm in cluster.svms], SVM_SHAPE)


async def get_svm(request: web.Request) -> web.Response:
    _, cluster, _ = ctx(request)
    _gate(cluster, releases.SVMS)
    for svm in cluster.svms:
        if svm.uuid == request.match_info["uuid"]:
            return instance(request, svm_record(svm), SVM_SHAPE)
    raise Refused(codes.NOT_FOUND, target="uuid")


async def list_key_stores(request: web.Request) -> web.Response:
    _, cluster, _ = ctx(request)
    _gate(cluster, releases.KEY_STORES)
    records = [key_store_record(cluster, km) for km in key_managers(cluster)]
    return collection(request, records, KEY_STORE_SHAPE)


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
            web.get("/api/security/certificates", list_certificates, allow_head=False),
            web.get("/api/security/certificates/{uuid}", get_certificate, allow_head=False),
            web.get("/api/svm/svms", list_svms, allow_head=False),
            web.get("/api/svm/svms/{uuid}", get_svm, allow_head=False),
            web.get("/_sim/fleet", sim_fleet, allow_head=False),
            web.get("/_sim/clusters/{name}", sim_cluster, allow_head=False),
            web.post("/_sim/clusters/{name}", sim_update),
            web.post("/_sim/reset-counters", sim_reset_counters),
        ]
    )
    return app
