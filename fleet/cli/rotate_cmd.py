"""``fleet rotate``: rotate the Onboard Key Manager passphrase on every selected cluster."""

from __future__ import annotations

from pathlib import Path

import click

from fleet.cli.app import main
from fleet.cli.run_support import run_and_exit, run_options
from fleet.engine.plans import GENERATE, build_rotation_plan, http_settings
from fleet.engine.run import RunPlan
from fleet.engine.steps.context import RunOptions
from fleet.engine.work import rotate_work
from fleet.journal import Journal


@main.command()
@run_options
@click.option(
    "--current",
    "current_ref",
    default=None,
    help="Reference to the current passphrase (default: the inventory's vars.okm_passphrase).",
)
@click.option("--new", "new_ref", required=True, help="Reference to the new passphrase, or 'generate'.")
@click.option(
    "--store",
    "store_spec",
    default=None,
    help="Secret store for generated passphrases: DIR, file:DIR or cmd:COMMAND.",
)
@click.option(
    "--backup-dir",
    default=None,
    type=click.Path(path_type=Path),
    help="Write each cluster's OKM key backup here (files 0600).",
)
@click.option("--no-remediate", is_flag=True, help="Report nodes that kept stale keys; do not sync them.")
@click.option(
    "--first-site", default=None, help="MetroCluster: rotate the site with this label first (key=value)."
)
def rotate(
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
    current_ref: str | None,
    new_ref: str,
    store_spec: str | None,
    backup_dir: Path | None,
    no_remediate: bool,
    first_site: str | None,
) -> None:
    """Rotate the OKM passphrase fleet-wide; MetroCluster pairs site A first, then the partner sync."""
    options = {
        "inventory": str(inventory),
        "limit": limit,
        "current": current_ref,
        "new": new_ref,
        "store": store_spec,
        "concurrency": concurrency,
        "per_cluster": per_cluster,
        "timeout": request_timeout,
        "cluster_deadline": cluster_deadline,
        "backup_dir": str(backup_dir) if backup_dir else None,
        "remediate": not no_remediate,
        "insecure": insecure,
        "first_site": first_site,
    }

    async def build_plan(journal: Journal) -> RunPlan:
        return await build_rotation_plan(
            journal,
            inventory_path=inventory,
            limit=limit,
            current_ref=current_ref,
            new_ref=new_ref,
            store_spec=store_spec,
            options=RunOptions(
                concurrency=concurrency,
                remediate=not no_remediate,
                backup_dir=backup_dir,
                cluster_deadline=cluster_deadline,
                generated=new_ref == GENERATE,
                first_site=first_site,
            ),
            http=http_settings(concurrency, per_cluster, request_timeout, cluster_deadline, insecure),
            report_options=options,
        )

    run_and_exit(
        build_plan, rotate_work, journal_path=journal_path, report_path=report_path, log_format=log_format
    )
