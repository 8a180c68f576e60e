"""``fleet sim serve``: run a simulated estate of ONTAP clusters until SIGTERM/SIGINT.

Click glue over ``fleet.sim.serve``, which owns the serve loop and the ready-line protocol (the one
line on stdout that tests, bench and ``fleet demo`` wait for).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from fleet import aio
from fleet.cli.app import main
from fleet.errors import InputError
from fleet.sim.serve import ServeOptions, run_server


@click.group(name="sim")
def sim_group() -> None:
    """Run the ONTAP REST simulator: a whole estate of clusters in one process.

    Example: fleet sim serve --clusters 20 --inventory-out sim/inventory.yml
    """


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
@click.option("--http", is_flag=True, help="Plain HTTP, not HTTPS (fleet then needs --allow-http).")
@click.option("--base-port", type=click.IntRange(min=1, max=65535), help="First port [default: ephemeral].")
@click.option("--oldest", help="Oldest ONTAP release generated, 9.6 to 9.16 [default: 9.8].")
@click.option(
    "--svms",
    type=click.IntRange(min=0, max=50),
    default=0,
    show_default=True,
    help="Data SVMs per cluster (vs1…); about 60% get their own external (KMIP) key manager.",
)
def serve(**params: Any) -> None:
    """Serve simulated clusters on 127.0.0.1 until SIGTERM/SIGINT, then save the state and exit 0.

    Example: fleet sim serve --clusters 20 --mcc-pairs 2 --inventory-out inv.yml
    """
    options = ServeOptions(**params)
    try:
        aio.run(run_server(options))
    except InputError as exc:
        click.echo(f"fleet sim serve: {exc}", err=True)
        raise click.exceptions.Exit(InputError.exit_code) from None
    except OSError as exc:  # typically a port already in use
        click.echo(f"fleet sim serve: {exc}", err=True)
        raise click.exceptions.Exit(1) from None


main.add_command(sim_group)

if __name__ == "__main__":  # `python -m fleet.cli.sim_cmd serve ...`, as tests and bench start it
    sim_group(prog_name="fleet sim")
