"""``fleet demo``: rehearse a fleet-wide rotation against a simulated estate, end to end.

It starts the ONTAP simulator in its own process (about 200 clusters, MetroCluster pairs, a few
partial-node failures, some slow and 5xx clusters), rotates every cluster to a freshly generated
passphrase kept in a secret store, prints the summary and the report path, sweeps the same fleet
against a compliance policy (read-only; JSON, HTML and Prometheus outputs), and stops the simulator.
Both runs draw one progress bar each on a terminal and log warnings only: the retries a fleet this
faulty needs are in the reports, not on the screen.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from fleet import aio
from fleet.cli.app import main
from fleet.cli.consoles import output_console, terminal_console
from fleet.cli.run_support import default_report_to, drive, fail_input
from fleet.engine.plans import RunPlan, build_plan
from fleet.engine.run import FinishedRun
from fleet.engine.spec import GENERATE, RunSpec
from fleet.engine.work import rotate_work, work_for
from fleet.errors import InputError
from fleet.journal import Journal
from fleet.logs import configure_logging
from fleet.outcomes import RunKind
from fleet.policy import load_policy
from fleet.report import render_summary
from fleet.report.html import write_html
from fleet.report.prom import SweepContext, write_prom
from fleet.sim.serve import SimulatorProcess

DEMO_FAULTS = (
    "partial=0.04,partial408=0.01,slow=0.02:1s,http503=0.01,http500=0.005,jobs=0.1,limit=3,"
    "lost=0.02,inactive=0.3,partner_post=0.3"
)


@main.command()
@click.option(
    "--clusters", default=200, show_default=True, type=click.IntRange(2, 20000), help="Clusters to simulate."
)
@click.option(
    "--mcc-pairs",
    default=10,
    show_default=True,
    type=click.IntRange(0, 10000),
    help="How many of them are MetroCluster pairs.",
)
@click.option("--seed", default=7, show_default=True, type=int, help="Same seed: same fleet, same faults.")
@click.option("--faults", default=DEMO_FAULTS, show_default=True, help="Simulator fault spec.")
@click.option(
    "--workdir",
    default=None,
    type=click.Path(path_type=Path),
    help="Keep the simulator's inventory, secrets, store and journal here (default: a temp dir).",
)
@click.option(
    "--report",
    "report_path",
    default=None,
    type=click.Path(path_type=Path),
    help="The rotation's report file (default reports/<run-id>.json); the sweep's goes beside it.",
)
def demo(
    clusters: int, mcc_pairs: int, seed: int, faults: str, workdir: Path | None, report_path: Path | None
) -> None:
    """Start a simulated fleet, rotate every cluster, sweep it against a policy, print both summaries.

    Example: fleet demo --clusters 50 --workdir /tmp/fleet-demo
    """
    if 2 * mcc_pairs > clusters:
        fail_input(
            InputError(
                f"{mcc_pairs} MetroCluster pairs need {2 * mcc_pairs} clusters, not {clusters}",
                field="--mcc-pairs",
            )
        )
    configure_logging(fmt="json" if not sys.stderr.isatty() else "console", level="warning")
    console, terminal = output_console(), terminal_console()
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
            finished = aio.run(_rotate(inventory, base, report_path, terminal))
            render_summary(finished.report, console, path=finished.path)
            console.print("\n[bold]fleet demo[/]: compliance sweep of the same fleet (read-only)")
            report_dir = report_path.parent if report_path else Path("reports")
            aio.run(_sweep(inventory, base, report_dir, console, terminal))
        finally:
            sim.stop()
    sys.exit(finished.report.run.exit_code)


DEMO_POLICY = """\
key_manager: onboard
onboard: {passphrase_max_age_days: 90, require_all_nodes_keys: true}
require: {status_healthy: true}
metrocluster: {same_key_manager_both_sites: true}
"""


async def _sweep(inventory: Path, base: Path, report_dir: Path, console: Console, terminal: Console) -> None:
    """``fleet sweep`` of the fleet (simulator still up), in this process: one bar, warnings, the summary."""
    policy = base / "policy.yml"
    policy.write_text(DEMO_POLICY)
    spec = RunSpec.create(kind=RunKind.SWEEP, inventory=inventory, policy=policy)
    loaded = load_policy(policy)
    work = work_for(spec, policy=loaded)
    built: list[RunPlan] = []

    async def build(journal: Journal) -> RunPlan:
        built.append(await build_plan(spec, journal))
        return built[0]

    finished = await drive(
        build,
        work,
        journal_path=base / "journal.db",
        report_to=lambda report: report_dir / f"{report.run.id}.json",
        terminal=terminal,
    )
    clusters = built[0].clusters if built else []
    sites = {c.name: c.labels.get("site", "") for c in clusters}
    context = SweepContext(
        labels={c.name: c.labels for c in clusters},
        passphrase_max_age_days=loaded.onboard.passphrase_max_age_days,
    )
    for kind, path in (
        ("html", write_html(finished.report, report_dir / "fleet-demo-sweep.html", sites)),
        ("prom", write_prom(finished.report, report_dir / "fleet-demo-sweep.prom", context)),
    ):
        console.print(f"{kind}     {escape(str(path))}", soft_wrap=True, highlight=False)
    render_summary(finished.report, console, path=finished.path)


async def _rotate(inventory: Path, base: Path, report_path: Path | None, terminal: Console) -> FinishedRun:
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
        terminal=terminal,
    )
