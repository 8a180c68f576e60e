"""Benchmark the simulator as fleet meets it: start-up time and RSS of `fleet sim serve` for N clusters,
and requests/s of ``GET /api/security/key-managers`` over keep-alive, verified HTTPS from one client.

Targets on a 2-core machine: 10,000 clusters up in < 20 s and < 1.5 GB; >= 2,000 requests/s.
Each figure is the median of ``--repeat`` runs (a fresh simulator each time).

    .venv/bin/python -m bench.sim_throughput [--clusters 10000] [--concurrency 256] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp
import psutil
import yaml

from fleet.sim.serve import parse_ready_line
from fleet.sim.tls import client_ssl_context

PATH = "/api/security/key-managers"
TARGETS = {"startup_seconds": 20.0, "rss_mb": 1500.0, "requests_per_second": 2000.0}


@dataclass(frozen=True, slots=True)
class Run:
    startup_seconds: float
    rss_mb: float
    requests_per_second: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float


async def one_run(clusters: int, concurrency: int, seconds: float, workdir: Path) -> Run:
    """Start a fresh simulator, wait for its ready line, measure RSS, then hammer it with GETs."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet.cli.sim_cmd", "serve", "--clusters", str(clusters), "--seed", "1",
        "--inventory-out", str(workdir / "inventory.yml"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 120)
        startup = time.perf_counter() - started
        ready = parse_ready_line(line.decode())
        if ready is None:
            raise RuntimeError(f"simulator did not start: {line!r}")
        rss_mb = psutil.Process(process.pid).memory_info().rss / 2**20
        targets = await asyncio.to_thread(read_targets, Path(ready["inventory"]), concurrency)
        count, errors, latencies = await load(targets, Path(ready["ca"]), concurrency, seconds)
    finally:
        process.terminate()
        await process.wait()
    latencies.sort()
    return Run(
        startup_seconds=round(startup, 2),
        rss_mb=round(rss_mb, 1),
        requests_per_second=round(count / seconds, 1),
        requests=count,
        errors=errors,
        p50_ms=round(latencies[len(latencies) // 2] * 1000, 2) if latencies else 0.0,
        p99_ms=round(latencies[int(len(latencies) * 0.99)] * 1000, 2) if latencies else 0.0,
    )


def read_targets(inventory: Path, count: int) -> list[tuple[str, dict[str, str]]]:
    """The first ``count`` clusters' URL and credentials, from the inventory the simulator wrote."""
    document = yaml.load(inventory.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    secrets = inventory.parent / "secrets"
    targets = []
    for entry in document["clusters"][:count]:
        password = (secrets / f"{entry['name']}.password").read_text()
        headers = {"Authorization": aiohttp.encode_basic_auth("admin", password)}
        targets.append((f"https://{entry['address']}{PATH}", headers))
    return targets


async def load(
    targets: list[tuple[str, dict[str, str]]], ca: Path, concurrency: int, seconds: float
) -> tuple[int, int, list[float]]:
    """``concurrency`` workers, each on its own cluster (so keep-alive connections are reused)."""
    connector = aiohttp.TCPConnector(ssl=client_ssl_context(ca), limit=concurrency, limit_per_host=0)
    counts = [0, 0]
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(index: int, until: float, record: bool) -> None:
            url, headers = targets[index % len(targets)]
            while (now := time.perf_counter()) < until:
                try:
                    async with session.get(url, headers=headers) as response:
                        await response.read()
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
                if record:
                    counts[0 if ok else 1] += 1
                    latencies.append(time.perf_counter() - now)

        warm_until = time.perf_counter() + 1.0  # TLS handshakes and pool fill-up are not throughput
        await asyncio.gather(*(worker(i, warm_until, False) for i in range(concurrency)))
        until = time.perf_counter() + seconds
        await asyncio.gather(*(worker(i, until, True) for i in range(concurrency)))
    return counts[0], counts[1], latencies


def median_run(runs: list[Run]) -> dict[str, float]:
    return {key: statistics.median(getattr(run, key) for run in runs) for key in asdict(runs[0])}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=Path("reports/bench-sim-throughput.json"))
    args = parser.parse_args()
    runs = []
    for attempt in range(1, args.repeat + 1):
        with tempfile.TemporaryDirectory(prefix="fleet-bench-") as workdir:
            run = await one_run(args.clusters, args.concurrency, args.seconds, Path(workdir))
        print(f"run {attempt}: {json.dumps(asdict(run))}", flush=True)
        runs.append(run)
    median = median_run(runs)
    met = {
        "startup_seconds": median["startup_seconds"] < TARGETS["startup_seconds"],
        "rss_mb": median["rss_mb"] < TARGETS["rss_mb"],
        "requests_per_second": median["requests_per_second"] >= TARGETS["requests_per_second"],
    }
    result = {
        "benchmark": "sim_throughput",
        "clusters": args.clusters,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
        "median": median,
        "targets": TARGETS,
        "met": met,
        "runs": [asdict(run) for run in runs],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"median: {json.dumps(median)}  targets met: {met}  -> {args.json}")
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
