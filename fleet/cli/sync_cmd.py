"""``fleet sync``: sync OKM keys where nodes miss them; set up a MetroCluster partner site."""

from __future__ import annotations

from pathlib import Path

import click

from fleet.cli.app import main
from fleet.cli.run_support import run_and_exit, run_options
from fleet.engine.plans import build_sync_plan, http_settings
from fleet.engine.run import RunPlan
from fleet.engine.steps.context import RunOptions
from fleet.engine.steps.sync import sync_work
from fleet.journal import Journal


@main.command()
@run_options
@click.option(
    "--passphrase",
    "passphrase_ref",
    default=None,
    help="Reference to the passphrase to sync with (default: the inventory's vars.okm_passphrase).",
)
@click.option(
    "--backup-dir",
    default=None,
    type=click.Path(path_type=Path),
    help="Write each synced cluster's OKM key backup here (files 0600).",
)
def sync(
    inventory: Path,
    limit: str | None,
    concurrency: int,
    per_cluster: int,
    request_timeout: float,
    cluster_deadline: float | None,
    report_path: Path | None,
    journal_path: Path | None,
    insecure: bool,
    log_format: str,
    passphrase_ref: str | None,
    backup_dir: Path | None,
) -> None:
    """Sync onboard keys to nodes that miss them (PATCH), or create OKM on a MetroCluster partner (POST)."""
    options = {
        "inventory": str(inventory),
        "limit": limit,
        "passphrase": passphrase_ref,
        "concurrency": concurrency,
        "per_cluster": per_cluster,
        "timeout": request_timeout,
        "insecure": insecure,
    }

    async def build_plan(journal: Journal) -> RunPlan:
        return await build_sync_plan(
            journal,
            inventory_path=inventory,
            limit=limit,
            passphrase_ref=passphrase_ref,
            options=RunOptions(
                concurrency=concurrency, backup_dir=backup_dir, cluster_deadline=cluster_deadline
            ),
            http=http_settings(concurrency, per_cluster, request_timeout, cluster_deadline, insecure),
            report_options=options,
        )

    run_and_exit(
        build_plan, sync_work, journal_path=journal_path, report_path=report_path, log_format=log_format
    )
