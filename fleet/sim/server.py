"""Serve a simulated fleet: one listening socket per cluster (its own "management LIF"), one app.

A single ``AppRunner`` owns the app; every cluster's socket is a ``loop.create_server`` sharing the
runner's request-handler factory, so 10,000 clusters cost 10,000 sockets, not 10,000 apps. The app
tells clusters apart by the local port a connection arrived on.
"""

from __future__ import annotations

import asyncio
import resource
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Middleware

from fleet.sim.app import build_app
from fleet.sim.http import HOST, PORTS
from fleet.sim.state import Fleet

ServerState = Literal["unopened", "open", "closed"]
BACKLOG = 128
SHUTDOWN_TIMEOUT = 1.0  # hung requests (the hang fault) must not hold a close for long


def raise_open_file_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit: each cluster holds one socket, plus its clients."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


class SimServer:
    """``async with SimServer(fleet) as server:`` serves every cluster of ``fleet`` on ``host``.

    A cluster whose ``port`` is 0 gets an ephemeral port, written back into ``cluster.port``. The
    server can be started once; ``close()`` is idempotent.
    """

    def __init__(
        self,
        fleet: Fleet,
        *,
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
        middlewares: Sequence[Middleware] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fleet = fleet
        self.host = host
        self.ssl_context = ssl_context
        self.app = build_app(fleet, clock=clock, middlewares=middlewares)
        self.app[HOST] = host
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        self._servers: list[asyncio.Server] = []
        self._state: ServerState = "unopened"

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_context is not None else "http"

    async def start(self) -> None:
        if self._state != "unopened":
            raise RuntimeError(f"SimServer is {self._state}; build a new one to serve again")
        self._state = "open"
        raise_open_file_limit()
        await self._runner.setup()
        loop = asyncio.get_running_loop()
        handler = self._runner.server
        assert handler is not None
        try:
            for cluster in self.fleet.clusters.values():
                sock = self._bind(cluster.port, cluster.name)
                cluster.port = sock.getsockname()[1]
                server = await loop.create_server(handler, sock=sock, ssl=self.ssl_context, backlog=BACKLOG)
                self._servers.append(server)
        except BaseException:
            await self.close()
            raise
        self.app[PORTS].clear()
        self.app[PORTS].update({cluster.port: cluster for cluster in self.fleet.clusters.values()})

    def _bind(self, port: int, name: str) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, port))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot bind {name} to {self.host}:{port}: {exc.strerror}") from exc
        return sock

    def address(self, name: str) -> str:
        """The cluster's management address, ``host:port``."""
        return f"{self.host}:{self.fleet.clusters[name].port}"

    def url(self, name: str) -> str:
        return f"{self.scheme}://{self.address(name)}"

    async def close(self) -> None:
        if self._state == "closed":
            return
        self._state = "closed"
        for server in self._servers:
            server.close()
        self._servers.clear()
        handler = self._runner.server
        if handler is not None:
            handler.pre_shutdown()  # idle keep-alive connections close now, not after the timeout
            await handler.shutdown(SHUTDOWN_TIMEOUT)
        await self._runner.cleanup()

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
