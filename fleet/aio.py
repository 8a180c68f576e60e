"""The event loop fleet's commands run on: uvloop where it is installed, asyncio's own otherwise.

uvloop (libuv, compiled) cuts the event loop's and the TLS transport's share of a fleet-wide run, the
biggest CPU cost after the TLS handshakes themselves: about 10% of the CPU and 20% of the memory of
a 1,000-cluster rotation. ``FLEET_EVENT_LOOP=asyncio`` falls back to the standard loop (to rule the
loop out when chasing a problem).
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
GC_YOUNG_THRESHOLD = 20_000


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None for asyncio's default loop."""
    if os.environ.get("FLEET_EVENT_LOOP", "auto") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the fastest loop available.

    A run allocates millions of short-lived objects (requests, replies, coroutines); collecting the
    youngest generation every 700 allocations, Python's default, costs more than it finds.
    """
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
