"""``fleet sync``: sync OKM keys where nodes miss them; set up a MetroCluster partner site."""

from __future__ import annotations

from typing import Any

from fleet.cli import options
from fleet.cli.app import main
from fleet.cli.run_support import run_spec_and_exit
from fleet.outcomes import RunKind


@main.command()
@options.apply_options(options.run)
@options.passphrase(
    "Reference to the passphrase to sync with (default: the inventory's vars.okm_passphrase)."
)
@options.backup_dir
@options.dry_run
def sync(**given: Any) -> None:
    """Sync onboard keys to nodes that miss them (PATCH), or create OKM on a MetroCluster partner (POST).

    Example: fleet sync -i estate.yml --passphrase file:/secure/okm --limit cl-02
    """
    run_spec_and_exit(RunKind.SYNC, given)
