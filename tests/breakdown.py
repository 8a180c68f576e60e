"""Middlewares that break one simulated cluster's answers at a chosen moment of a change."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware

from fleet.sim.faults import MUTATING_METHODS
from fleet.sim.http import CLUSTER


@dataclass
class Breakdown:
    """A middleware between fleet and one simulated cluster: it resets the connection of the first
    change before ONTAP sees it (``drop_first_change``; the first ``drop_changes`` changes), or of
    every request once ``down_after`` changes went through, and counts the changes that reached it.
    ``cluster`` may be set after the simulator starts: it is read at each request."""

    cluster: str
    drop_first_change: bool = False
    drop_changes: int = 0
    down_after: int | None = None
    changes: list[str] = field(default_factory=list)

    def middleware(self) -> Middleware:
        @web.middleware
        async def breakdown(request, handler):
            cluster = request.get(CLUSTER)
            if cluster is None or cluster.name != self.cluster:
                return await handler(request)
            changed_before = len(self.changes)
            if request.method in MUTATING_METHODS:
                self.changes.append(f"{request.method} {request.path}")
            first_change = request.method in MUTATING_METHODS and not changed_before
            dropped = request.method in MUTATING_METHODS and changed_before < self.drop_changes
            if (
                dropped
                or (self.drop_first_change and first_change)
                or (self.down_after is not None and changed_before >= self.down_after)
            ):
                request.transport.abort()  # what a reset looks like to the client
                return web.Response(status=500)
            return await handler(request)

        return breakdown


@dataclass
class SyncRefusal:
    """A middleware that answers ``cluster``'s ``refuse_nth`` PATCH (1-based, counted from when
    ``cluster`` is set) with a definite ONTAP error, 65537248 "failed to sync", before ONTAP sees it."""

    cluster: str
    refuse_nth: int = 1
    patches: list[str] = field(default_factory=list)

    def middleware(self) -> Middleware:
        @web.middleware
        async def refuse(request, handler):
            cluster = request.get(CLUSTER)
            if cluster is None or cluster.name != self.cluster or request.method != "PATCH":
                return await handler(request)
            self.patches.append(request.path)
            if len(self.patches) == self.refuse_nth:
                body = {"error": {"message": "Failed to sync the Onboard Key Manager", "code": "65537248"}}
                return web.json_response(body, status=500)
            return await handler(request)

        return refuse
