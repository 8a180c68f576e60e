"""Run plan, apply and sweep in-process against a simulated fleet: the CLI's code path minus click."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from simfleet import SimFleet

from fleet.cli.policy_cmds import policy_report
from fleet.engine.plans import build_policy_plan
from fleet.engine.run import execute
from fleet.engine.steps.context import RunOptions
from fleet.engine.steps.policy import ApplyWork, SweepWork
from fleet.journal import Journal
from fleet.ontap import HttpSettings
from fleet.policy import Policy
from fleet.report import Report
from fleet.sim.state import KeyManager, KeyServer

FAST_HTTP = HttpSettings(
    concurrency=256, per_cluster=2, request_timeout=5.0, backoff_base=0.01, backoff_max=0.2,
    job_poll_initial=0.05, job_poll_max=0.2,
)  # fmt: skip
MUTATING = ("POST", "PATCH", "DELETE")


async def run_policy(
    sim: SimFleet,
    journal: Journal,
    kind: str,
    policy: Policy,
    *,
    limit: str | None = None,
    probe: bool = False,
    passphrase_ref: str | None = None,
) -> Report:
    work = (
        ApplyWork(policy, datetime.now(UTC))
        if kind == "apply"
        else SweepWork(policy, datetime.now(UTC), plan=kind == "plan", probe=probe)
    )
    plan = await build_policy_plan(
        journal,
        kind=kind,
        inventory_path=sim.inventory,
        limit=limit,
        passphrase_ref=passphrase_ref,
        with_passphrases=kind == "apply" or probe,
        options=RunOptions(concurrency=16),
        http=FAST_HTTP,
        report_options={},
    )
    return policy_report(await execute(plan, work), work.results)


def mutations_seen(sim: SimFleet) -> int:
    """Every mutating request any simulated cluster received (not only those under /api/security)."""
    return sum(c.counters.by_method.get(m, 0) for c in sim.fleet.clusters.values() for m in MUTATING)


def make_external(sim: SimFleet, name: str, servers: list[tuple[str, int]]) -> None:
    cluster = sim.cluster(name)
    assert cluster.key_manager is not None
    cluster.key_manager = KeyManager(
        uuid=cluster.key_manager.uuid,
        kind="external",
        servers=[KeyServer(server, timeout=timeout) for server, timeout in servers],
        client_certificate=cluster.certificates[0],
        server_ca_certificates=[cluster.certificates[1]],
    )


def lose_keys(sim: SimFleet, name: str) -> str:
    """Mark the first node's keys as not restored (what a node added without a sync looks like)."""
    node = sim.cluster(name).nodes[0]
    for key in node.keys:
        key.restored = False
    return node.name


def write_policy(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
