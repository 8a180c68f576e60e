"""The tools under test by name (``fleet-rotate``, ``netapp-32``, ``ansible-20``…) and one measured run.

A run is: a fresh simulator (rotation mutates state, so runs never share one), the tool as a child
process measured by ``measure``, then the simulator's truth. The tool's own account (its report or
summary line) is recorded beside the truth, never instead of it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bench import fleet_runs, peer_ansible
from bench.measure import measure
from bench.simproc import SimOptions, SimProcess, Truth

Kind = Literal["fleet", "netapp", "ansible"]
_NAME = re.compile(r"^(?:fleet-(rotate|sweep-svms|sweep)(-pg)?|(netapp|ansible)-(\d+))$")
SVMS_PER_CLUSTER = 3  # fleet-sweep-svms: data SVMs per simulated cluster (issue 20)


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    kind: Kind
    command: str = "rotate"  # fleet: rotate | sweep | sweep-svms; peers always rotate
    parallelism: int = 0  # netapp: thread-pool workers; ansible: forks
    postgresql: bool = False  # fleet: the journal in PostgreSQL (bench.pgjournal), not a SQLite file

    @property
    def rotates(self) -> bool:
        return self.command == "rotate"


def parse_tool(name: str) -> Tool:
    match = _NAME.match(name)
    if match is None:
        raise ValueError(
            f"unknown tool {name!r}: fleet-rotate[-pg], fleet-sweep[-pg], fleet-sweep-svms[-pg], "
            "netapp-<workers>, ansible-<forks>"
        )
    fleet_command, pg, peer, number = match.groups()
    if fleet_command:
        return Tool(name, "fleet", command=fleet_command, postgresql=bool(pg))
    return Tool(name, peer, parallelism=int(number))  # type: ignore[arg-type]


def new_passphrase_file(workdir: Path) -> tuple[str, Path]:
    """A fresh random passphrase per run (72 characters: enough for Common Criteria clusters), file 0600."""
    value = secrets.token_urlsafe(54)
    path = workdir / "new.okm"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value, path


def _command(
    tool: Tool, workdir: Path, sim: SimProcess, new_file: Path
) -> tuple[list[str], dict[str, str], Any]:
    if tool.kind == "fleet" and tool.postgresql:
        from bench import pgjournal  # the server starts with the first run that needs it

        command = fleet_runs.fleet_command(
            tool.command, workdir, sim.inventory, new_file, journal=pgjournal.fresh_database()
        )
        return command, {**os.environ, **pgjournal.env()}, None
    if tool.kind == "fleet":
        return (
            fleet_runs.fleet_command(tool.command, workdir, sim.inventory, new_file),
            dict(os.environ),
            None,
        )
    if tool.kind == "netapp":
        command = [sys.executable, "-m", "bench.peer_netapp", "--inventory", str(sim.inventory),
                   "--new-file", str(new_file), "--workers", str(tool.parallelism)]  # fmt: skip
        return command, dict(os.environ), None
    executable = peer_ansible.ansible_playbook()
    if executable is None:
        raise RuntimeError("ansible-playbook is not installed")
    project = peer_ansible.write_project(workdir, sim.inventory, new_file, sim.ca)
    return project.command(executable, tool.parallelism), project.env(), project


def _own_account(tool: Tool, workdir: Path, output: str, project: Any) -> dict[str, Any]:
    """What the tool says about itself: fleet's report, the netapp peer's JSON line, Ansible's recap."""
    if tool.kind == "fleet":
        return fleet_runs.read_report(workdir)
    if tool.kind == "netapp":
        lines = [line for line in output.splitlines() if line.startswith("{")]
        own = json.loads(lines[-1]) if lines else {}
        own.pop("failures", None) if not own.get("failed") else None
        counted = sum(own.get(key, 0) for key in ("rotated", "synced", "skipped", "failed"))
        return {**own, "self_requests": own.get("requests"), "accounted": counted}
    counts = peer_ansible.recap(output)
    return {**counts, "skipped": project.skipped, "accounted": counts["hosts"] + project.skipped}


def run_once(
    tool: Tool, clusters: int, latency_ms: float, seed: int = 1, timeout_s: float | None = None
) -> dict[str, Any]:
    """One measured run of ``tool`` on a fresh simulated fleet, checked against the simulator's truth."""
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        workdir = Path(tmp)
        new, new_file = new_passphrase_file(workdir)
        svms = SVMS_PER_CLUSTER if tool.command == "sweep-svms" else 0
        with SimProcess(SimOptions(clusters, latency_ms, seed, svms=svms), workdir) as sim:
            command, env, project = _command(tool, workdir, sim, new_file)
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(Path(__file__).parent.parent), env.get("PYTHONPATH")])
            )
            output_path = workdir / "tool.out"
            server_cpu = _journal_server_cpu(tool)
            with output_path.open("wb") as out:
                measured = measure(command, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout_s)
            sim_cpu = sim.cpu_seconds()
            if server_cpu is not None:
                measured = measured.as_dict() | {
                    "journal_server_cpu_s": _journal_server_cpu(tool) - server_cpu
                }
            else:
                measured = measured.as_dict()
            truth = sim.truth(new if tool.rotates else None)
        own = _own_account(tool, workdir, output_path.read_text(errors="replace"), project)
    return record(tool, clusters, measured, truth, own, sim_cpu)


def _journal_server_cpu(tool: Tool) -> float | None:
    if not tool.postgresql:
        return None
    from bench import pgjournal

    return pgjournal.server_cpu_seconds()


def record(
    tool: Tool, clusters: int, measured: dict[str, Any], truth: Truth, own: dict[str, Any], sim_cpu: float
) -> dict[str, Any]:
    wall, cpu = measured["wall_s"], measured["cpu_s"]
    return {
        **measured,
        "cpu_ms_per_cluster": cpu * 1000 / clusters,
        "requests_per_cluster": truth.requests
        / clusters,  # counted by the simulator, the same for every tool
        "clusters_per_s": clusters / wall if wall else 0.0,
        "verified_rotated": truth.rotated if tool.rotates else None,
        "expected_rotated": truth.onboard if tool.rotates else None,
        "accounted": own.get("accounted"),
        "sim_cpu_s": sim_cpu,
        "mutations": truth.mutations,
        # wrong passphrases the clusters saw: Common Criteria mode locks a cluster out after a few in a row
        "wrong_passphrase_attempts": truth.wrong_passphrase_attempts,
        "truth": truth.as_dict(),
        "own": own,
    }
