"""Serve a simulated fleet, the ready-line protocol, and a child-process handle for demo/bench/tests.

``run_server`` builds (or reloads) a fleet, serves every cluster on its own port, writes the inventory
and secrets, then prints one line on stdout, the contract callers wait for:
``fleet-sim ready: key=value ...`` (values shell-quoted; ``parse_ready_line`` reads it back). Everything
else goes to stderr. ``SimulatorProcess`` runs ``fleet sim serve`` as a child process and waits for
that line; ``fleet sim serve`` itself (``fleet.cli.sim_cmd``) is click glue over ``run_server``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

from aiohttp.typedefs import Middleware

from fleet.errors import FleetError, InputError
from fleet.sim.faults import apply_faults, fault_middleware, parse_faults
from fleet.sim.generate import generate_fleet
from fleet.sim.inventory_out import write_inventory
from fleet.sim.persist import StateSaver, load_fleet
from fleet.sim.server import SimServer, raise_open_file_limit
from fleet.sim.state import Fleet
from fleet.sim.tls import ensure_tls_files, server_ssl_context

READY_PREFIX = "fleet-sim ready:"


@dataclass(frozen=True, slots=True)
class ServeOptions:
    inventory_out: Path
    clusters: int | None = None
    mcc_pairs: int = 0
    seed: int = 0
    faults: str | None = None
    latency_ms: float | None = None
    state: Path | None = None
    secrets_dir: Path | None = None  # default: "secrets" beside the inventory
    tls_dir: Path | None = None  # default: "certs" beside the inventory
    http: bool = False
    base_port: int | None = None  # None: ephemeral ports (recorded in the state for restarts)
    oldest: str | None = None  # the oldest release generated, e.g. "9.6" (default: 9.8)
    svms: int = 0  # data SVMs per cluster (vs1…), some with an SVM-scope external key manager


def parse_ready_line(line: str) -> dict[str, str] | None:
    """The fields of a ready line (``clusters``, ``scheme``, ``ports``, ``inventory``, ``ca``...), or None."""
    if not line.startswith(READY_PREFIX):
        return None
    fields = {}
    for token in shlex.split(line[len(READY_PREFIX) :]):
        key, _, value = token.partition("=")
        fields[key] = value
    return fields


async def run_server(
    options: ServeOptions, *, announce: Callable[[str], None] | None = None, stop: asyncio.Event | None = None
) -> None:
    """Build or reload the fleet, serve it, write inventory and secrets, announce, serve until ``stop``."""
    started = time.perf_counter()
    stop = stop or _stop_on_signals()
    fleet = _load_or_generate(options)
    _check_fd_limit(len(fleet.clusters) + 256)
    base = options.inventory_out.absolute().parent
    tls = None if options.http else ensure_tls_files(options.tls_dir or base / "certs")
    ca_file = tls.ca if tls is not None else None
    ssl_context = server_ssl_context(tls.ca.parent) if tls is not None else None
    saver = StateSaver(fleet, options.state) if options.state else None
    middlewares: list[Middleware] = [fault_middleware(fleet)]
    if saver is not None:
        middlewares.insert(0, saver.middleware)
    server = SimServer(fleet, ssl_context=ssl_context, middlewares=middlewares)
    await server.start()
    try:
        # the server wrote ephemeral ports back into the clusters: the state keeps them for restarts
        addresses = {name: server.address(name) for name in fleet.clusters}
        inventory = write_inventory(
            fleet,
            addresses=addresses,
            path=options.inventory_out,
            secrets_dir=options.secrets_dir or base / "secrets",
            ca_file=ca_file,
        )
        async with contextlib.AsyncExitStack() as stack:
            if saver is not None:
                await saver.save_now(full=True)  # a state file exists from the first moment on
                await stack.enter_async_context(saver)
            (announce or _print_flushed)(
                _ready_line(fleet, inventory, ca_file, options, time.perf_counter() - started)
            )
            await stop.wait()
    finally:
        await server.close()


def _load_or_generate(options: ServeOptions) -> Fleet:
    if options.state is not None and options.state.exists():
        fleet = load_fleet(options.state)
        if options.faults is not None or options.latency_ms is not None:
            print(
                "fleet sim: --faults/--latency-ms ignored: the saved state keeps its faults "
                "(change them at run time through /_sim/)",
                file=sys.stderr,
                flush=True,
            )
        return fleet
    if options.clusters is None:
        raise InputError("give --clusters (or --state with an existing state file)", field="--clusters")
    oldest = _release(options.oldest) if options.oldest else (9, 8)
    try:
        fleet = generate_fleet(
            options.clusters, mcc_pairs=options.mcc_pairs, seed=options.seed, oldest=oldest, svms=options.svms
        )
    except ValueError as exc:
        raise InputError(str(exc), field="--oldest" if "oldest" in str(exc) else "--mcc-pairs") from None
    apply_faults(fleet, parse_faults(options.faults, latency_ms=options.latency_ms), options.seed)
    if options.base_port is not None:
        if options.base_port + len(fleet.clusters) - 1 > 65535:
            raise InputError(f"{len(fleet.clusters)} clusters do not fit above port {options.base_port}")
        for offset, cluster in enumerate(fleet.clusters.values()):
            cluster.port = options.base_port + offset
    return fleet


def _release(text: str) -> tuple[int, int]:
    """``9.6`` → (9, 6)."""
    generation, _, major = text.strip().partition(".")
    if not (generation.isdigit() and major.isdigit()):
        raise InputError(f"{text!r} is not a release like 9.6", field="--oldest")
    return int(generation), int(major)


def _ready_line(fleet: Fleet, inventory: Path, ca: Path | None, options: ServeOptions, took: float) -> str:
    ports = sorted(cluster.port for cluster in fleet.clusters.values())
    fields = {
        "clusters": str(len(fleet.clusters)),
        "scheme": "http" if options.http else "https",
        "host": "127.0.0.1",
        "ports": f"{ports[0]}-{ports[-1]}" if ports else "",
        "inventory": str(inventory),
        "ca": str(ca.absolute()) if ca is not None else "",
        "state": str(options.state.absolute()) if options.state is not None else "",
        "pid": str(os.getpid()),
        "seconds": f"{took:.2f}",
    }
    return f"{READY_PREFIX} " + " ".join(f"{key}={shlex.quote(value)}" for key, value in fields.items())


def _print_flushed(line: str) -> None:
    print(line, flush=True)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


def _check_fd_limit(needed: int) -> None:
    """One listening socket per cluster: fail early and clearly rather than half-way through binding."""
    limit = raise_open_file_limit()
    if limit != resource.RLIM_INFINITY and needed > limit:
        raise InputError(f"{needed} file descriptors needed, the limit is {limit}: raise `ulimit -n`")


ProcessState = Literal["unopened", "open", "closed"]


class SimulatorProcess:
    """``fleet sim serve`` in a child process; ``start`` returns its ready line once it is printed.

    ``ready`` holds that line's fields (``parse_ready_line``). ``timeout`` is checked between lines of
    output, so it bounds a simulator that talks but never gets ready, not one that hangs silently.
    ``stop`` is idempotent: SIGTERM (the simulator saves its state and exits 0), SIGKILL if it has not
    exited after ``stop_timeout``. ``with SimulatorProcess(args) as sim:`` starts and always stops it;
    a handle starts once.
    """

    def __init__(self, args: list[str], *, timeout: float = 60.0, stop_timeout: float = 30.0) -> None:
        self.args = args
        self.timeout = timeout
        self.stop_timeout = stop_timeout
        self.process: subprocess.Popen[str] | None = None
        self.ready_line = ""
        self.ready: dict[str, str] = {}
        self._state: ProcessState = "unopened"

    def start(self) -> str:
        if self._state != "unopened":
            raise RuntimeError(f"SimulatorProcess is {self._state}; build a new one to start again")
        self._state = "open"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fleet", "sim", "serve", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        deadline = time.monotonic() + self.timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            ready = parse_ready_line(line)
            if ready is not None:
                self.ready_line, self.ready = line.strip(), ready
                return self.ready_line
        self.stop()
        raise FleetError("the simulator did not become ready")

    def stop(self) -> None:
        self._state = "closed"
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> SimulatorProcess:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
