"""Benchmark a fleet-wide rotation or sweep: wall time, CPU seconds and peak RSS of the fleet process.

Starts `fleet sim serve` in its own process (N clusters, 10% in MetroCluster pairs, optional added
latency), then runs `fleet rotate` as a second process and reads its resource usage from wait4.
Each figure is the median of ``--repeat`` runs, each on a fresh simulator.

    .venv/bin/python bench/rotate_fleet.py --clusters 1000 --latency-ms 0 20 --repeat 3
    .venv/bin/python bench/rotate_fleet.py --command sweep --clusters 2000 --latency-ms 0 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NEW = "Bench-rotation-passphrase-" + "q" * 40
POLICY = "key_manager: onboard\nonboard: {require_all_nodes_keys: true}\nrequire: {status_healthy: true}\n"


def start_sim(workdir: Path, clusters: int, latency_ms: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "fleet", "sim", "serve", "--clusters", str(clusters),
         "--mcc-pairs", str(clusters // 20), "--seed", "1", "--latency-ms", str(latency_ms),
         "--inventory-out", str(workdir / "inventory.yml"), "--secrets-dir", str(workdir / "secrets"),
         "--tls-dir", str(workdir / "tls")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("fleet-sim ready"):
        process.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return process


def fleet_command(command: str, workdir: Path, concurrency: int) -> list[str]:
    common = [
        "-i",
        str(workdir / "inventory.yml"),
        "--journal",
        str(workdir / "journal.db"),
        "--concurrency",
        str(concurrency),
        "--log-format",
        "json",
        "--report",
        str(workdir / "report.json"),
    ]
    if command == "sweep":
        (workdir / "policy.yml").write_text(POLICY)
        return ["sweep", "-p", str(workdir / "policy.yml"), *common]
    return ["rotate", "--new", f"file:{workdir / 'new.okm'}", *common]


def one_run(command: str, clusters: int, latency_ms: float, concurrency: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "new.okm").write_text(NEW)
        sim = start_sim(workdir, clusters, latency_ms)
        try:
            started = time.perf_counter()
            fleet = subprocess.Popen(
                [sys.executable, "-m", "fleet", *fleet_command(command, workdir, concurrency)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            _, status, usage = os.wait4(fleet.pid, 0)
            wall = time.perf_counter() - started
        finally:
            sim.terminate()
            sim.wait(timeout=60)
        report = json.loads((workdir / "report.json").read_text())
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_ms_per_cluster": cpu * 1000 / clusters,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "requests_per_cluster": report["summary"]["requests"] / clusters,
        "clusters_per_s": clusters / wall,
        "exit_code": os.waitstatus_to_exitcode(status),
        "accounted": report["summary"]["total"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--command", choices=["rotate", "sweep"], default="rotate")
    parser.add_argument("--clusters", type=int, nargs="+", default=[1000])
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 20.0])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = []
    for clusters in args.clusters:
        for latency in args.latency_ms:
            runs = [one_run(args.command, clusters, latency, args.concurrency) for _ in range(args.repeat)]
            median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            results.append(
                {
                    "command": args.command,
                    "clusters": clusters,
                    "latency_ms": latency,
                    "median": median,
                    "runs": runs,
                }
            )
            m = median
            print(
                f"{args.command} N={clusters} latency={latency:g}ms"
                f"  wall {m['wall_s']:.2f}s  cpu {m['cpu_s']:.2f}s"
                f" ({m['cpu_ms_per_cluster']:.2f} ms/cluster)  rss {m['peak_rss_mb']:.0f} MB"
                f"  {m['requests_per_cluster']:.1f} req/cluster  {m['clusters_per_s']:.0f} clusters/s"
                f"  accounted {m['accounted']:.0f}",
                flush=True,
            )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
