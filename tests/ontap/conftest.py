"""Tiny in-process HTTP(S) servers on 127.0.0.1 that count what they see, and fast client pools."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import replace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from ontap_helpers import FAST, Handler, Recorder, Seen, Serve

from fleet.ontap import HttpPool, open_http


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start a server sending every request to ``handler(request, recorder)``; gives (base_url, recorder)."""
    async with AsyncExitStack() as stack:

        async def start(
            handler: Handler, *, ssl_context: ssl.SSLContext | None = None
        ) -> tuple[str, Recorder]:
            recorder = Recorder()

            async def entry(request: web.Request) -> web.StreamResponse:
                recorder.seen.append(
                    Seen(request.method, request.path, dict(request.query), await request.read())
                )
                recorder.inflight += 1
                recorder.max_inflight = max(recorder.max_inflight, recorder.inflight)
                try:
                    return await handler(request, recorder)
                finally:
                    recorder.inflight -= 1

            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", entry)
            server = TestServer(app, host="127.0.0.1")
            await server.start_server(ssl=ssl_context)
            stack.push_async_callback(server.close)
            scheme = "https" if ssl_context else "http"
            return f"{scheme}://127.0.0.1:{server.port}", recorder

        yield start


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
async def make_pool(sleeps: list[float]) -> AsyncIterator[Callable[..., Awaitable[HttpPool]]]:
    """Pools with fast settings; sleeps are recorded (and skipped) unless ``real_sleep=True``."""
    async with AsyncExitStack() as stack:

        async def fake_sleep(seconds: float) -> None:
            sleeps.append(seconds)
            await asyncio.sleep(0)

        async def make(*, real_sleep: bool = False, **overrides: object) -> HttpPool:
            settings = replace(FAST, **overrides)
            sleep = asyncio.sleep if real_sleep else fake_sleep
            return await stack.enter_async_context(open_http(settings, sleep=sleep))

        yield make


@pytest.fixture
async def pool(make_pool: Callable[..., Awaitable[HttpPool]]) -> HttpPool:
    return await make_pool()
