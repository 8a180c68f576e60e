"""``fleet sim serve``: run a simulated estate of ONTAP clusters until SIGTERM/SIGINT.

The one line printed on stdout once every cluster listens is the contract tests and ``fleet demo``
wait for: ``fleet-sim ready: key=value ...`` (values shell-quoted; ``parse_ready_line`` reads it back).
Everything else goes to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shlex
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from fleet import aio
from fleet.cli.app import main
from fleet.errors import InputError
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
    ca_file = None if options.http else ensure_tls_files(options.tls_dir or base / "certs").ca
    ssl_context = None if options.http else server_ssl_context(ca_file.parent)  # type: ignore[union-attr]
    saver = StateSaver(fleet, options.state) if options.state else None
    middlewares = [fault_middleware(fleet)] if saver is None else [saver.middleware, fault_middleware(fleet)]
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
            click.echo(
                "fleet sim: --faults/--latency-ms ignored: the saved state keeps its faults "
                "(change them at run time through /_sim/)",
                err=True,
            )
        return fleet
    if options.clusters is None:
        raise InputError("give --clusters (or --state with an existing state file)", field="--clusters")
    try:
        fleet = generate_fleet(options.clusters, mcc_pairs=options.mcc_pairs, seed=options.seed)
    except ValueError as exc:
        raise InputError(str(exc), field="--mcc-pairs") from None
    apply_faults(fleet, parse_faults(options.faults, latency_ms=options.latency_ms), options.seed)
    if options.base_port is not None:
        if options.base_port + len(fleet.clusters) - 1 > 65535:
            raise InputError(f"{len(fleet.clusters)} clusters do not fit above port {options.base_port}")
        for offset, cluster in enumerate(fleet.clusters.values()):
            cluster.port = options.base_port + offset
    return fleet


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


@click.group(name="sim")
def sim_group() -> None:
    """Run the ONTAP REST simulator: a whole estate of clusters in one process."""


_FILE = click.Path(path_type=Path, dir_okay=False)
_DIR = click.Path(path_type=Path, file_okay=False)


@sim_group.command(name="serve")
@click.option("--clusters", type=click.IntRange(min=1), help="Clusters to generate (unless --state exists).")
@click.option(
    "--mcc-pairs", type=click.IntRange(min=0), default=0, show_default=True, help="MetroCluster pairs."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed: same fleet, same faults.")
@click.option("--faults", help="none | kind=value,... (e.g. latency=20ms~5ms,http503=0.01,limit=4) | FILE")
@click.option("--latency-ms", type=click.FloatRange(min=0), help="Fixed latency added to every request.")
@click.option("--state", type=_FILE, help="Save the fleet here; reload it if the file exists.")
@click.option("--inventory-out", required=True, type=_FILE, help="Inventory to write for the fleet.")
@click.option("--secrets-dir", type=_DIR, help="Secret files [default: secrets/ beside the inventory].")
@click.option("--tls-dir", type=_DIR, help="CA and certificate [default: certs/ beside the inventory].")
@click.option("--http", is_flag=True, help="Plain HTTP instead of HTTPS.")
@click.option("--base-port", type=click.IntRange(min=1, max=65535), help="First port [default: ephemeral].")
def serve(**params: object) -> None:
    """Serve simulated clusters on 127.0.0.1 until SIGTERM/SIGINT, then save the state and exit 0."""
    options = ServeOptions(**params)  # type: ignore[arg-type]
    try:
        aio.run(run_server(options))
    except InputError as exc:
        click.echo(f"fleet sim serve: {exc}", err=True)
        raise click.exceptions.Exit(InputError.exit_code) from None
    except OSError as exc:  # typically a port already in use
        click.echo(f"fleet sim serve: {exc}", err=True)
        raise click.exceptions.Exit(1) from None


main.add_command(sim_group)

if __name__ == "__main__":  # `python -m fleet.cli.sim_cmd serve ...` works before the group is wired in
    sim_group(prog_name="fleet sim")
