"""Sweeps as cron runs them, for the monitoring tests: the CLI in a subprocess, held or interrupted."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from loopback_http import Quiet, serving
from policykit import lose_keys, write_policy
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from fleet.outcomes import ExitCode
from fleet.report import Report, load_report
from fleet.sim.http import CLUSTER

ENV = {**os.environ, "COLUMNS": "200"}
MONITORED_POLICY = (
    "key_manager: onboard\nonboard: {passphrase_max_age_days: 90, require_all_nodes_keys: true}\n"
)
#: Every metric family a sweep writes (with samples, in ``monitored_sweep``'s sweep).
WRITTEN = {
    "fleet_cluster_compliance_state",
    "fleet_cluster_reachable",
    "fleet_findings",
    "fleet_passphrase_age_seconds",
    "fleet_passphrase_verified_timestamp_seconds",
    "fleet_policy_passphrase_max_age_seconds",
    "fleet_last_successful_rotation_timestamp_seconds",
    "fleet_last_complete_sweep_timestamp_seconds",
    "fleet_sweep_timestamp_seconds",
    "fleet_sweep_duration_seconds",
    "fleet_sweep_complete",
}


async def run_fleet(*args: str, cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet", *args, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=ENV,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, out.decode(), err.decode()


class Gate:
    """While armed, every request to one simulated cluster waits until the gate opens."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.armed = False
        self.reached = asyncio.Event()
        self.opened = asyncio.Event()

    @web.middleware
    async def middleware(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        cluster = request.get(CLUSTER)
        if self.armed and cluster is not None and cluster.name == self.name:
            self.reached.set()
            await self.opened.wait()
        return await handler(request)


async def interrupted_sweep(gate: Gate, *args: str, cwd: Path) -> tuple[int, str, str]:
    """A sweep (one unit at a time) stopped by SIGINT while it reads ``gate.name``.

    The held cluster finishes once the signal is handled; every cluster after it is never started.
    """
    gate.armed = True
    gate.reached.clear()
    gate.opened.clear()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet", *args, "--concurrency", "1", cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=ENV,
    )  # fmt: skip
    talk = asyncio.ensure_future(process.communicate())
    reached = asyncio.ensure_future(gate.reached.wait())
    try:
        await asyncio.wait({talk, reached}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if not reached.done():  # the sweep ended (or hangs) before it reached the held cluster
            reached.cancel()
            if process.returncode is None:
                process.kill()
            out, err = await talk
            raise AssertionError(f"the sweep never reached {gate.name}: {out.decode()}{err.decode()}")
        process.send_signal(signal.SIGINT)
        await asyncio.sleep(1.0)  # the run has stopped admitting units
    finally:
        gate.opened.set()
        gate.armed = False
    out, err = await asyncio.wait_for(talk, timeout=120)
    return process.returncode or 0, out.decode(), err.decode()


def samples(prom: Path) -> dict[str, list[Sample]]:
    """Metric family name → its samples, as Prometheus' own parser reads the file."""
    return {family.name: family.samples for family in text_string_to_metric_families(prom.read_text())}


def by_cluster(found: list[Sample], **match: str) -> dict[str, float]:
    """Sample values by their ``cluster`` label, for the samples whose labels include ``match``."""
    return {
        s.labels["cluster"]: s.value for s in found if all(s.labels.get(k) == v for k, v in match.items())
    }


@dataclass
class Swept:
    report: Report
    prom: Path
    journal: Path
    rotated: list[str]
    unreachable: str
    lost: str
    onboard: list[str]


async def monitored_sweep(sim_fleet, tmp_path: Path) -> Swept:  # type: ignore[no-untyped-def]
    """Rotate two clusters, lose keys on one, make one unreachable, sweep: every metric has samples."""
    sim = await sim_fleet(clusters=8, seed=7)
    onboard = sim.onboard_names()
    rotated, lost, unreachable = onboard[:2], onboard[-1], onboard[2]
    journal = tmp_path / "j.db"
    code, out, err = await run_fleet(
        "rotate", "-i", str(sim.inventory), "--new", "generate", "--store", str(tmp_path / "store"),
        "--limit", ",".join(rotated), "--journal", str(journal), "--report", str(tmp_path / "rotate.json"),
        cwd=tmp_path,
    )  # fmt: skip
    assert code == ExitCode.OK, out + err
    if sim.cluster(lost).version[1] < 12:
        lost = next(n for n in reversed(onboard) if sim.cluster(n).version[1] >= 12 and n not in rotated)
    lose_keys(sim, lost)
    sim.unreachable([unreachable])
    policy = write_policy(tmp_path / "policy.yml", MONITORED_POLICY)
    prom = tmp_path / "textfile" / "fleet.prom"
    code, out, err = await run_fleet(
        "sweep", "-i", str(sim.inventory), "-p", str(policy), "--limit", "key_manager=onboard",
        "--journal", str(journal), "--report", str(tmp_path / "sweep.json"), "--prom", str(prom),
        "--timeout", "5", cwd=tmp_path,
    )  # fmt: skip
    assert code == ExitCode.FAILED, out + err
    for secret in sim.secret_values():
        assert secret not in prom.read_text()
    report = load_report(tmp_path / "sweep.json")
    return Swept(report, prom, journal, rotated, unreachable, lost, onboard)


def _missing(program: str, package: str) -> None:
    """Skip (locally) naming the Debian package, or fail (in CI, which installs it)."""
    message = f"{program} not found: apt-get install -y --no-install-recommends {package} (Debian package)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; .ci/run installs it, CI never skips this test")
    pytest.skip(message)


def promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Debian's promtool, run on ``args``."""
    if shutil.which("promtool") is None:
        _missing("promtool", "prometheus")
    return subprocess.run(
        ["promtool", *args],
        input=stdin.decode() if stdin else None,
        capture_output=True,
        text=True,
        timeout=60,
    )


@dataclass
class PrometheusServer:
    """Debian's Prometheus on loopback, scraping one target every second into a throwaway TSDB."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_prometheus(folder: Path, target: str) -> PrometheusServer:
    """Prometheus scraping ``target`` (host:port, path /metrics) as job ``node``, ready to be queried."""
    if shutil.which("prometheus") is None:
        _missing("prometheus", "prometheus")
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: node\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    port = _free_port()
    log = folder / "prometheus.log"
    with log.open("wb") as stderr:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={folder / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    server = PrometheusServer(f"http://127.0.0.1:{port}", process, log)
    for _ in range(300):
        if process.poll() is not None:
            raise AssertionError(f"prometheus exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=5) as ready:
                if ready.status == 200:
                    return server
        except OSError:  # not listening yet, or 503 while it loads
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"prometheus never became ready: {log.read_text()[-2000:]}")


@contextmanager
def serve_textfile(prom: Path) -> Iterator[str]:
    """What node-exporter's textfile collector serves at /metrics: ``prom`` as it is at each scrape
    (nothing before it exists). Yields the scrape target, ``127.0.0.1:PORT``."""

    class Metrics(Quiet):
        def do_GET(self) -> None:
            body = prom.read_bytes() if prom.exists() else b""
            self.send_response(200 if self.path == "/metrics" else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Metrics) as address:
        yield address
