"""What every handler module of the simulator shares: the app's keys, body reading and JSON replies.

The app serves the whole fleet; its keys hold the fleet, the clock, the host introspection shows and
the port → cluster map, and each request carries the cluster it is for (set by ``app.resolve_cluster``
from the local port the connection arrived on).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from fleet.ontap import codes
from fleet.sim.rules import Refused, Reply
from fleet.sim.state import Cluster, Fleet

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

FLEET = web.AppKey("fleet", Fleet)
CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("clock")
HOST = web.AppKey("host", str)  # what introspection shows as each cluster's address host
PORTS = web.AppKey("ports", dict[int, Cluster])
CLUSTER = web.RequestKey("cluster", Cluster)  # the cluster a request is for


def ctx(request: web.Request) -> tuple[Fleet, Cluster, float]:
    """The fleet, the request's cluster and the simulator clock's ``now``."""
    return request.app[FLEET], request[CLUSTER], request.app[CLOCK]()


def json_reply(reply: Reply) -> web.Response:
    return web.json_response(reply.body, status=reply.status, headers=reply.headers or None)


async def read_body(request: web.Request) -> dict[str, Any]:
    """The JSON object a request carries (``{}`` when empty); anything else is ONTAP's invalid JSON."""
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
