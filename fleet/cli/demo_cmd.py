"""``fleet demo``: rehearse a fleet-wide rotation against a simulated estate, end to end.

It starts the ONTAP simulator in its own process (about 200 clusters, MetroCluster pairs, a few
partial-node failures, some slow and 5xx clusters), rotates every cluster to a freshly generated
passphrase kept in a secret store, prints the summary and the report path, and stops the simulator.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import click
from rich.console import Console

from fleet import aio
from fleet.cli.app import main
from fleet.cli.run_support import default_report_to, drive
from fleet.engine.plans import RunPlan, build_plan
from fleet.engine.run import FinishedRun
from fleet.engine.spec import GENERATE, RunSpec
from fleet.engine.work import rotate_work
from fleet.journal import Journal
from fleet.logs import configure_logging
from fleet.outcomes import RunKind
from fleet.report import render_summary
from fleet.sim.serve import SimulatorProcess

DEMO_FAULTS = (
    "partial=0.04,partial408=0.01,slow=0.02:1s,http503=0.01,http500=0.005,jobs=0.1,limit=3,"
    "lost=0.02,inactive=0.3,partner_post=0.3"
)


@main.command()
@click.option("--clusters", default=200, show_default=True, type=click.IntRange(2, 20000))
@click.option("--mcc-pairs", default=10, show_default=True, type=click.IntRange(0, 10000))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--faults", default=DEMO_FAULTS, show_default=True, help="Simulator fault spec.")
@click.option(
    "--workdir",
    default=None,
    type=click.Path(path_type=Path),
    help="Keep the simulator's inventory, secrets, store and journal here (default: a temp dir).",
)
@click.option("--report", "report_path", default=None, type=click.Path(path_type=Path))
def demo(
    clusters: int, mcc_pairs: int, seed: int, faults: str, workdir: Path | None, report_path: Path | None
) -> None:
    """Start a simulated fleet, rotate every cluster, print the summary and the report path."""
    configure_logging(fmt="json" if not sys.stderr.isatty() else "console", level="warning")
    console = Console()
    with tempfile.TemporaryDirectory(prefix="fleet-demo-") as tmp:
        base = workdir or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        inventory = base / "inventory.yml"
        sim = SimulatorProcess(
            [
                "--clusters",
                str(clusters),
                "--mcc-pairs",
                str(mcc_pairs),
                "--seed",
                str(seed),
                "--faults",
                faults,
                "--inventory-out",
                str(inventory),
                "--secrets-dir",
                str(base / "secrets"),
                "--oldest",
                "9.6",
                "--tls-dir",
                str(base / "tls"),
            ]
        )
        console.print(
            f"[bold]fleet demo[/]: starting {clusters} simulated clusters ({mcc_pairs} MetroCluster pairs)"
        )
        console.print(sim.start(), soft_wrap=True, highlight=False)
        try:
            finished = aio.run(_rotate(inventory, base, report_path, console))
            render_summary(finished.report, console, path=finished.path)
            console.print("\n[bold]fleet demo[/]: compliance sweep of the same fleet (read-only)")
            _sweep(inventory, base, (report_path.parent if report_path else Path("reports")))
        finally:
            sim.stop()
    sys.exit(finished.report.run.exit_code)


DEMO_POLICY = """\
key_manager: onboard
onboard: {passphrase_max_age_days: 90, require_all_nodes_keys: true}
require: {status_healthy: true}
metrocluster: {same_key_manager_both_sites: true}
"""


def _sweep(inventory: Path, base: Path, report_dir: Path) -> int:
    """``fleet sweep`` as cron would run it, against the simulator still up; returns its exit code."""
    policy = base / "policy.yml"
    policy.write_text(DEMO_POLICY)
    command = [
        sys.executable, "-m", "fleet", "sweep", "-i", str(inventory), "-p", str(policy),
        "--journal", str(base / "journal.db"), "--report-dir", str(report_dir),
        "--html", str(report_dir / "fleet-demo-sweep.html"),
        "--prom", str(report_dir / "fleet-demo-sweep.prom"),
    ]  # fmt: skip
    return subprocess.run(command, check=False).returncode


async def _rotate(inventory: Path, base: Path, report_path: Path | None, console: Console) -> FinishedRun:
    spec = RunSpec.create(
        kind=RunKind.ROTATE,
        inventory=inventory,
        new=GENERATE,
        store=str(base / "store"),
        backup_dir=base / "backups",
    )

    async def build(journal: Journal) -> RunPlan:
        return await build_plan(spec, journal)

    return await drive(
        build,
        rotate_work,
        journal_path=base / "journal.db",
        report_to=default_report_to(report_path),
        console=console,
    )
