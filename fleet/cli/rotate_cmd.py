"""``fleet rotate``: rotate the Onboard Key Manager passphrase on every selected cluster."""

from __future__ import annotations

from typing import Any

import click

from fleet.cli import options
from fleet.cli.app import main
from fleet.cli.run_support import run_spec_and_exit
from fleet.outcomes import RunKind


@main.command()
@options.apply_options(options.run)
@click.option(
    "--current",
    "current",
    default=None,
    help="Reference to the current passphrase (default: the inventory's vars.okm_passphrase).",
)
@click.option("--new", "new", required=True, help="Reference to the new passphrase, or 'generate'.")
@click.option(
    "--store",
    "store",
    default=None,
    help="Secret store for generated passphrases: DIR, file:DIR or cmd:COMMAND.",
)
@click.option(
    "--charset",
    type=click.Choice(["console", "alnum", "ascii"]),
    default=None,
    help="Characters of generated passphrases: console (letters and digits without look-alikes, "
    "and - _ . + = :; safe to type at a boot console), alnum, or ascii.  [default: console]",
)
@options.backup_dir
@options.dry_run
@click.option(
    "--no-remediate",
    "remediate",
    flag_value=False,
    default=True,
    help="Report nodes that kept stale keys; do not sync them.",
)
@click.option(
    "--first-site", default=None, help="MetroCluster: rotate the site with this label first (key=value)."
)
def rotate(**given: Any) -> None:
    """Rotate the OKM passphrase fleet-wide; MetroCluster pairs site A first, then the partner sync.

    Example: fleet rotate -i estate.yml --new generate --store /secure/okm-store
    """
    run_spec_and_exit(RunKind.ROTATE, given)
