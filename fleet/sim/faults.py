"""Fault injection for the simulator: the ``--faults`` spec, its per-cluster assignment, HTTP-level faults.

Two kinds of faults, as DESIGN.md "Simulator faults" lists them:

* per cluster, drawn once from the seed by ``apply_faults`` (``partial``, ``partial408``, ``jobs``,
  ``jobfail``, ``auth``, ``partner_down``, ``node_down``, ``upgrading`` …): stored in ``Cluster.faults``,
  ``Cluster.metrocluster`` and ``Node``, acted
  on by ``rules``, ``effects`` and the app's authentication, so they survive a restart with the rest of the
  state;
* per request (``latency``, ``slow``, ``hang``, ``reset``, ``http5xx``, ``http429``, ``limit``): rates
  stored in each cluster's ``ClusterFaults`` and acted on by ``fault_middleware``, which counts what it
  injected in ``Counters.injected``. Each cluster draws from its own
  RNG seeded by ``(seed, cluster)``, so one client's sequence of requests to one cluster meets the same
  faults on every run, whatever the other clusters are doing. ``hang``, ``reset`` and ``slow`` strike
  before the request reaches ONTAP: a change they meet never applies.
* answers lost AFTER the change applied (``lost``, ``lost_reset``, ``lost_hang``, ``lost_502``,
  ``lost_503``, ``lost_504``): a rate of each cluster's successful mutations under ``/api/``, drawn
  from a third RNG per cluster, plus ``ClusterFaults.lose_next`` (modes the next successful mutations
  meet, for deterministic tests). The change (or the job that makes it) is complete; only the answer is
  gone. Counted in ``Counters.lost_answers``.

``/_sim/`` (introspection and fault control) is never faulted.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fleet.errors import InputError
from fleet.ontap import codes
from fleet.sim.generate import make_inactive_external
from fleet.sim.http import CLUSTER, Handler
from fleet.sim.rules import error_body
from fleet.sim.state import LOST_MODES, Cluster, ClusterFaults, Fleet

T = TypeVar("T")
Rate = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(ge=0.0)]

# Codes sent with injected 5xx answers. ONTAP documents the statuses (502: application temporarily
# unreachable, 503: server temporarily overloaded) but not the bodies; these codes are our choice.
HTTP_FAULT_CODES: dict[int, int] = {
    500: codes.UNEXPECTED_EXCEPTION,
    502: 65552,  # generic RPC failure: the front end could not reach the application
    503: codes.RESOURCE_LIMIT,
}
PARTIAL_408 = codes.PASSPHRASE_FAILED_SOME_NODES_2
JOB_FAILURE_CODE = codes.PASSPHRASE_CHANGE_FAILED  # what a ``jobfail`` cluster's next job ends with
_HANG_POLL_SECONDS = 0.05
MUTATING_METHODS = frozenset({"POST", "PATCH", "DELETE"})
# What an intermediary (reverse proxy, load balancer) in front of the cluster sends when it gives up on
# the application: an HTML page, not ONTAP's JSON (our choice; real proxies differ in wording only).
_PROXY_REASONS = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
_PROXY_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>simulated load balancer</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class RequestFaults(BaseModel):
    """Per-request fault rates (copied into every cluster's ``ClusterFaults``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: Seconds = 0.0
    jitter_ms: Seconds = 0.0
    slow_rate: Rate = 0.0
    slow_seconds: Seconds = 0.0
    hang_rate: Rate = 0.0
    reset_rate: Rate = 0.0
    http500_rate: Rate = 0.0
    http502_rate: Rate = 0.0
    http503_rate: Rate = 0.0
    http429_rate: Rate = 0.0
    inflight_limit: int = Field(default=0, ge=0)
    lost_rate: Rate = 0.0
    lost_reset_rate: Rate = 0.0
    lost_hang_rate: Rate = 0.0
    lost_502_rate: Rate = 0.0
    lost_503_rate: Rate = 0.0
    lost_504_rate: Rate = 0.0


class ClusterOverride(BaseModel):
    """One cluster's overrides from a YAML fault file; ``None`` = as the fleet-wide draw says."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request: dict[str, float | int] = Field(default_factory=dict)  # RequestFaults field -> value
    partial: list[str] | bool | None = None  # True: draw the nodes; a list: exactly these node names
    partial408: bool | None = None  # partial, answering 65536408
    partial_code: Literal[65536407, 65536408] | None = None  # the code this cluster's partial change answers
    jobs: bool | None = None
    jobfail: bool | None = None
    auth: bool | None = None
    partner_down: bool | None = None
    inactive: bool | None = None  # an inactive external configuration listed first (9.16+)
    partner_post: bool | None = None  # this MetroCluster site takes the partner sync as a POST only
    lose_next: list[str] | None = None  # LOST_MODES the cluster's next successful mutations meet
    node_down: str | bool | None = None  # True: the last node is down; a name: that node
    upgrading: str | bool | None = None  # True: the last node runs the next release; a name: that node
    misnamed: str | bool | None = None  # GET /api/cluster answers another name (True: the next cluster's)


class FaultSpec(BaseModel):
    """A parsed ``--faults`` value: request rates, cluster rates and per-cluster overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request: RequestFaults = RequestFaults()
    partial: Rate = 0.0
    partial408: Rate = 0.0  # like partial, answering 65536408 instead of 65536407
    jobs: Rate = 0.0
    jobfail: Rate = 0.0
    auth: Rate = 0.0
    partner_down: Rate = 0.0
    inactive: Rate = 0.0  # 9.16+ standalone OKM clusters also listing an inactive external configuration
    partner_post: Rate = 0.0  # MetroCluster pairs whose pending site wants POST synchronize, not PATCH
    node_down: Rate = 0.0  # clusters (2+ nodes) with one node down
    upgrading: Rate = 0.0  # clusters (2+ nodes) mid-upgrade: one node on the next release
    misnamed: Rate = 0.0  # clusters whose GET /api/cluster answers another cluster's name
    clusters: dict[str, ClusterOverride] = Field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return self == FaultSpec()


NO_FAULTS = FaultSpec()
_CLUSTER_KINDS = (
    "partial",
    "partial408",
    "jobs",
    "jobfail",
    "auth",
    "partner_down",
    "inactive",
    "partner_post",
    "node_down",
    "upgrading",
    "misnamed",
)
_RATE_KINDS = {"hang": "hang_rate", "reset": "reset_rate", "http500": "http500_rate"}
_RATE_KINDS |= {"http502": "http502_rate", "http503": "http503_rate", "http429": "http429_rate"}
_RATE_KINDS |= {"lost": "lost_rate"}
_RATE_KINDS |= {f"lost_{mode}": f"lost_{mode}_rate" for mode in LOST_MODES}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$")


# ---------------------------------------------------------------- parsing


def parse_faults(value: str | None, *, latency_ms: float | None = None) -> FaultSpec:
    """``--faults``: ``none``, comma-separated ``kind=value`` items, or the path of a YAML file.

    ``latency_ms`` (``--latency-ms``) sets the fixed latency unless the spec sets one itself.
    """
    text = (value or "none").strip()
    path = Path(text)
    if text.endswith((".yml", ".yaml")) or (text and "=" not in text and path.is_file()):
        spec = _parse_file(path)
    elif text.lower() in ("none", ""):
        spec = NO_FAULTS
    else:
        items: dict[str, Any] = {}
        for item in text.split(","):
            kind, sep, raw = item.partition("=")
            if not sep or not kind.strip():
                raise InputError(f"fault item {item.strip()!r} is not kind=value", field="--faults")
            items[kind.strip()] = raw.strip()
        spec = _build(items, source="--faults")
    if latency_ms is not None and spec.request.latency_ms == 0:
        request = spec.request.model_copy(update={"latency_ms": float(latency_ms)})
        spec = spec.model_copy(update={"request": request})
    return spec


def _parse_file(path: Path) -> FaultSpec:
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read fault file: {exc}", file=str(path)) from exc
    if not isinstance(document, dict):
        raise InputError("a fault file is a mapping of kind: value", file=str(path))
    overrides = document.pop("clusters", None) or {}
    if not isinstance(overrides, dict):
        raise InputError("clusters: must map cluster names to fault items", file=str(path), field="clusters")
    spec = _build(document, source=str(path))
    per_cluster = {
        str(name): _build_override(items, source=str(path), where=f"clusters.{name}")
        for name, items in overrides.items()
    }
    return spec.model_copy(update={"clusters": per_cluster})


def _build(items: Mapping[str, Any], *, source: str) -> FaultSpec:
    request: dict[str, float | int] = {}
    cluster_rates: dict[str, float] = {}
    for kind, raw in items.items():
        where = f"faults item {kind}={raw}" if source == "--faults" else f"faults.{kind}"
        try:
            if kind in _CLUSTER_KINDS:
                cluster_rates[kind] = _rate(raw)
            else:
                request |= _request_item(kind, raw)
        except ValueError as exc:
            raise _input_error(source, where, str(exc)) from exc
    try:
        return FaultSpec.model_validate({"request": RequestFaults.model_validate(request), **cluster_rates})
    except ValidationError as exc:
        raise _input_error(source, "faults", _first_error(exc)) from exc


def _build_override(items: Any, *, source: str, where: str) -> ClusterOverride:
    if not isinstance(items, dict):
        raise _input_error(source, where, "must be a mapping of kind: value")
    request: dict[str, float | int] = {}
    flags: dict[str, Any] = {}
    for kind, raw in items.items():
        try:
            if kind in _CLUSTER_KINDS:
                flags[kind] = raw
            elif kind == "lose_next":
                flags[kind] = _lost_modes(raw)
            elif kind == "partial_code":
                flags[kind] = raw
            else:
                request |= _request_item(kind, raw)
        except ValueError as exc:
            raise _input_error(source, f"{where}.{kind}", str(exc)) from exc
    try:
        RequestFaults.model_validate(request)
        return ClusterOverride(request=request, **flags)
    except ValidationError as exc:
        raise _input_error(source, where, _first_error(exc)) from exc


def _request_item(kind: str, raw: Any) -> dict[str, float | int]:
    """One per-request item as ``RequestFaults`` fields; ValueError names what is wrong."""
    text = str(raw).strip()
    if kind == "latency":
        fixed, _, jitter = text.partition("~")
        return {
            "latency_ms": _duration(fixed) * 1000,
            "jitter_ms": _duration(jitter) * 1000 if jitter else 0.0,
        }
    if kind == "slow":
        rate, sep, seconds = text.partition(":")
        if not sep:
            raise ValueError("slow is RATE:DURATION, e.g. slow=0.01:2s")
        return {"slow_rate": _rate(rate), "slow_seconds": _duration(seconds)}
    if kind == "limit":
        if not text.isdigit():
            raise ValueError("limit is a whole number of requests in flight, e.g. limit=4")
        return {"inflight_limit": int(text)}
    if kind in _RATE_KINDS:
        return {_RATE_KINDS[kind]: _rate(text)}
    known = ", ".join(["latency", "slow", "limit", *_RATE_KINDS, *_CLUSTER_KINDS, "none"])
    raise ValueError(f"unknown fault kind {kind!r} (known: {known})")


def _lost_modes(raw: Any) -> list[str]:
    modes = [str(mode) for mode in (raw if isinstance(raw, list) else [raw])]
    unknown = [mode for mode in modes if mode not in LOST_MODES]
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not one of {', '.join(LOST_MODES)}")
    return modes


def _rate(raw: Any) -> float:
    try:
        rate = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{raw!r} is not a rate between 0 and 1") from None
    if not 0.0 <= rate <= 1.0 or math.isnan(rate):
        raise ValueError(f"{raw!r} is not a rate between 0 and 1")
    return rate


def _duration(text: str) -> float:
    """``20ms`` or ``2s`` (a unit is required: a bare number is ambiguous) -> seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text.strip()!r} is not a duration like 20ms or 2s")
    number, unit = float(match.group(1)), match.group(2)
    return number / 1000 if unit == "ms" else number


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"


def _input_error(source: str, where: str, message: str) -> InputError:
    if source == "--faults":
        return InputError(f"{where}: {message}", field="--faults")
    return InputError(message, file=source, field=where)


# ---------------------------------------------------------------- assignment


def apply_faults(fleet: Fleet, spec: FaultSpec, seed: int) -> None:
    """Set every cluster's fault settings from ``spec``, choosing the faulty clusters from ``seed``.

    A cluster rate picks ``ceil(rate * eligible)`` clusters (at least one for any rate above 0), so
    ``partial=0.05`` on 200 clusters is exactly 10. Each kind draws from its own RNG: adding one kind
    never changes which clusters another kind picked. Applying a spec replaces earlier settings.
    """
    unknown = sorted(set(spec.clusters) - set(fleet.clusters))
    if unknown:
        raise InputError(f"fault overrides name unknown clusters: {', '.join(unknown[:5])}", field="clusters")
    names = sorted(fleet.clusters)
    onboard = [n for n in names if _has_onboard(fleet.clusters[n])]
    partial = set(_pick(onboard, spec.partial, seed, "partial"))
    partial408 = set(_pick(onboard, spec.partial408, seed, "partial408"))
    jobs = set(_pick(names, spec.jobs, seed, "jobs"))
    jobfail = set(_pick(names, spec.jobfail, seed, "jobfail"))
    auth = set(_pick(names, spec.auth, seed, "auth"))
    eligible = [
        n for n in onboard if fleet.clusters[n].at_least(16) and fleet.clusters[n].metrocluster is None
    ]
    inactive = set(_pick(eligible, spec.inactive, seed, "inactive"))
    pairs = sorted(
        {tuple(sorted((n, c.metrocluster.partner))) for n, c in fleet.clusters.items() if c.metrocluster}
    )
    down_pairs = _pick(pairs, spec.partner_down, seed, "partner_down")
    post_sites = {name for pair in _pick(pairs, spec.partner_post, seed, "partner_post") for name in pair}
    down_sites = {pair[random.Random(f"{seed}/partner_down/{pair[0]}").randrange(2)] for pair in down_pairs}
    multi_node = [n for n in names if len(fleet.clusters[n].nodes) >= 2]
    node_down = set(_pick(multi_node, spec.node_down, seed, "node_down"))
    upgrading = set(_pick(multi_node, spec.upgrading, seed, "upgrading"))
    misnamed = set(_pick(names, spec.misnamed, seed, "misnamed"))

    for name in names:
        cluster = fleet.clusters[name]
        override = spec.clusters.get(name, ClusterOverride())
        request = spec.request.model_copy(update=override.request)
        faults = cluster.faults
        for field, value in request.model_dump().items():
            setattr(faults, field, value)
        faults.partial_once = True
        faults.lose_next = list(override.lose_next or [])
        is_408 = _flag(override.partial408, name in partial408)
        faults.partial_nodes = _partial_nodes(cluster, override.partial, name in partial or is_408, seed)
        code = override.partial_code or (PARTIAL_408 if is_408 else codes.PASSPHRASE_FAILED_SOME_NODES)
        faults.partial_code = code
        faults.auth_fail = _flag(override.auth, name in auth)
        with_inactive = _flag(override.inactive, name in inactive)
        cluster.inactive_key_manager = make_inactive_external(cluster) if with_inactive else None
        failing_job = _flag(override.jobfail, name in jobfail)
        faults.job_fail = (JOB_FAILURE_CODE, codes.message_for(JOB_FAILURE_CODE)) if failing_job else None
        faults.jobs = _flag(override.jobs, name in jobs) or failing_job  # a job can only fail if there is one
        post = _flag(override.partner_post, name in post_sites) and cluster.metrocluster is not None
        faults.partner_sync_method = "post" if post else None
        if cluster.metrocluster is not None:
            cluster.metrocluster.partner_reachable = not _flag(override.partner_down, name in down_sites)
        down = _chosen_node(cluster, override.node_down, name in node_down, "node_down")
        ahead = _chosen_node(cluster, override.upgrading, name in upgrading, "upgrading")
        cluster.answer_name = _answer_name(names, name, override.misnamed, name in misnamed)
        for node in cluster.nodes:
            node.state = "down" if node.name == down else "up"
            node.version = next_release(cluster.version) if node.name == ahead else None


def _answer_name(names: list[str], name: str, override: str | bool | None, drawn: bool) -> str | None:
    """A misnamed cluster answers the NEXT cluster's name (sorted, wrapping; as if the inventory's address
    pointed at its neighbour), or ``<name>-renamed`` in a fleet of one; a string override is used as is."""
    if isinstance(override, str):
        return override if override != name else None
    if not _flag(override, drawn):
        return None
    if len(names) < 2:
        return f"{name}-renamed"
    return names[(names.index(name) + 1) % len(names)]


def next_release(version: tuple[int, int, int]) -> tuple[int, int, int]:
    """The release a node mid-upgrade already runs: the next minor release line (9.14.1 -> 9.15.0)."""
    return version[0], version[1] + 1, 0


def _chosen_node(cluster: Cluster, override: str | bool | None, drawn: bool, kind: str) -> str | None:
    """The node a node-level fault strikes: a named one, else the LAST node (never the serving node, which
    answers the management requests) when drawn or set True."""
    if isinstance(override, str):
        if override not in {node.name for node in cluster.nodes}:
            raise InputError(f"no node {override} on {cluster.name}", field=f"clusters.{cluster.name}.{kind}")
        return override
    if not _flag(override, drawn) or len(cluster.nodes) < 2:
        return None
    return cluster.nodes[-1].name


def _pick(population: list[T], rate: float, seed: int, kind: str) -> list[T]:
    if rate <= 0 or not population:
        return []
    count = min(len(population), max(1, math.ceil(round(rate * len(population), 9))))
    return random.Random(f"{seed}/{kind}").sample(population, count)


def _partial_nodes(cluster: Cluster, override: list[str] | bool | None, drawn: bool, seed: int) -> list[str]:
    if isinstance(override, list):
        missing = sorted(set(override) - {node.name for node in cluster.nodes})
        if missing:
            raise InputError(
                f"no node {missing[0]} on {cluster.name}", field=f"clusters.{cluster.name}.partial"
            )
        return list(override)
    if not _flag(override, drawn) or not cluster.nodes:
        return []
    rng = random.Random(f"{seed}/partial/{cluster.name}")
    count = rng.randint(1, max(1, len(cluster.nodes) // 2))  # some nodes, never all
    return sorted(node.name for node in rng.sample(cluster.nodes, count))


def _flag(override: bool | None, drawn: bool) -> bool:
    return drawn if override is None else override


def _has_onboard(cluster: Cluster) -> bool:
    return cluster.key_manager is not None and cluster.key_manager.kind == "onboard"


# ---------------------------------------------------------------- per-request faults


def fault_middleware(fleet: Fleet, *, seed: int | None = None) -> Middleware:
    """An aiohttp middleware acting on each cluster's request-level ``ClusterFaults``.

    It runs after the app's own first middleware (which sets ``request[CLUSTER]`` and counts the
    request as in flight) and before authentication, in this order: in-flight limit (429 +
    ``Retry-After``, code 262160), latency, then at most one of hang, reset, 500/502/503, 429, slow.
    """
    base_seed = fleet.seed if seed is None else seed
    rngs: dict[str, random.Random] = {}
    lost_rngs: dict[str, random.Random] = {}

    async def answer(request: web.Request, handler: Handler, cluster: Cluster) -> web.StreamResponse:
        """The handler's answer, unless a lost-answer fault withholds it once the change has applied."""
        response = await handler(request)
        if request.method not in MUTATING_METHODS or not request.path.startswith("/api/"):
            return response
        if not 200 <= response.status < 300:
            return response  # refused: nothing applied, the answer arrives
        rng = lost_rngs.get(cluster.name)
        if rng is None:
            rng = lost_rngs[cluster.name] = random.Random(f"{base_seed}/lost/{cluster.name}")
        mode = _lost_mode(cluster.faults, rng)
        if mode is None:
            return response
        counters = cluster.counters
        counters.lost_answers += 1
        counters.lost_by_mode[mode] = counters.lost_by_mode.get(mode, 0) + 1
        return await _lose(mode, request)

    @web.middleware
    async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        cluster: Cluster | None = request.get(CLUSTER)
        if cluster is None or request.path.startswith("/_sim/"):
            return await handler(request)
        settings = cluster.faults
        if 0 < settings.inflight_limit < cluster.counters.inflight:
            _count_injected(cluster, "429")
            return _too_many_requests(fleet.settings.retry_after_seconds)
        rng = rngs.get(cluster.name)
        if rng is None:
            rng = rngs[cluster.name] = random.Random(f"{base_seed}/requests/{cluster.name}")
        roll, jitter = rng.random(), rng.random()  # always two draws: the sequence never depends on rates
        delay = (settings.latency_ms + jitter * settings.jitter_ms) / 1000
        if delay > 0:
            await asyncio.sleep(delay)
        for kind, rate in _request_fault_rates(settings):
            if roll < rate:
                if kind == "slow":
                    await asyncio.sleep(settings.slow_seconds)
                    break
                _count_injected(cluster, kind)
                if kind == "429":
                    return _too_many_requests(fleet.settings.retry_after_seconds)
                return await _inject(kind, request)
            roll -= rate
        return await answer(request, handler, cluster)

    return faults


def _lost_mode(settings: ClusterFaults, rng: random.Random) -> str | None:
    """The queue first (``lose_next``), then the rates; ``lost`` picks any mode."""
    if settings.lose_next:
        return settings.lose_next.pop(0)
    rates = (
        ("any", settings.lost_rate),
        ("reset", settings.lost_reset_rate),
        ("hang", settings.lost_hang_rate),
        ("502", settings.lost_502_rate),
        ("503", settings.lost_503_rate),
        ("504", settings.lost_504_rate),
    )
    if not any(rate for _, rate in rates):
        return None
    roll, pick = rng.random(), rng.random()
    for mode, rate in rates:
        if roll < rate:
            return LOST_MODES[int(pick * len(LOST_MODES))] if mode == "any" else mode
        roll -= rate
    return None


async def _lose(mode: str, request: web.Request) -> web.StreamResponse:
    """Withhold an answer whose change has applied: reset, hang until the client gives up, or a proxy page."""
    if mode in ("reset", "hang"):
        return await _inject(mode, request)
    status = int(mode)
    page = _PROXY_PAGE.format(status=status, reason=_PROXY_REASONS[status])
    return web.Response(status=status, text=page, content_type="text/html")


def _request_fault_rates(settings: ClusterFaults) -> list[tuple[str, float]]:
    return [
        ("hang", settings.hang_rate),
        ("reset", settings.reset_rate),
        ("500", settings.http500_rate),
        ("502", settings.http502_rate),
        ("503", settings.http503_rate),
        ("429", settings.http429_rate),
        ("slow", settings.slow_rate),
    ]


def _count_injected(cluster: Cluster, kind: str) -> None:
    """Count an injected answer, so a test can compare what fleet says it retried with what was sent."""
    injected = cluster.counters.injected
    injected[kind] = injected.get(kind, 0) + 1


async def _inject(kind: str, request: web.Request) -> web.StreamResponse:
    if kind == "hang":
        await _hang(request)
    if kind in ("hang", "reset"):
        if request.transport is not None:
            request.transport.abort()  # no close_notify, no FIN: the client sees a reset connection
        return web.Response(status=500)  # never sent: aiohttp finds the transport gone and moves on
    status = int(kind)
    return ontap_error_response(status, HTTP_FAULT_CODES[status])


async def _hang(request: web.Request) -> None:
    """Never answer: wait until the client gives up or the server shuts down (no task outlives either)."""
    # aiohttp offers no "connection lost" hook to a handler that has read its body: poll the transport.
    while request.transport is not None and not request.transport.is_closing():  # noqa: ASYNC110
        await asyncio.sleep(_HANG_POLL_SECONDS)


def _too_many_requests(retry_after: int) -> web.Response:
    response = ontap_error_response(429, codes.TOO_MANY_REQUESTS)
    response.headers["Retry-After"] = str(retry_after)
    return response


def ontap_error_response(status: int, code: int) -> web.Response:
    """ONTAP's error body (``code`` is a string on the wire) with the table's message."""
    return web.json_response(error_body(code), status=status)
