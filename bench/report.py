"""Results: the machine they came from, medians of the runs, fleet/peer ratios and the markdown table.

Medians, not means: one run disturbed by the rest of a 2-core machine should not move the figure.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

PACKAGES = ("fleet", "aiohttp", "asyncpg", "netapp-ontap", "ansible-core", "ansible", "requests")
MEDIAN_KEYS = (
    "wall_s", "cpu_s", "cpu_ms_per_cluster", "peak_rss_mb", "peak_tree_rss_mb", "requests_per_cluster",
    "clusters_per_s", "verified_rotated", "expected_rotated", "accounted", "sim_cpu_s", "mutations",
    "wrong_passphrase_attempts", "exit_code", "journal_server_cpu_s",
)  # fmt: skip


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _collection_version() -> str | None:
    """The bundled ``netapp.ontap`` collection's version, from its MANIFEST.json."""
    try:
        import ansible_collections.netapp.ontap as collection  # optional: only to record its version
    except ImportError:
        return None
    manifest = Path(next(iter(collection.__path__))) / "MANIFEST.json"
    return json.loads(manifest.read_text())["collection_info"]["version"] if manifest.exists() else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return done.stdout.strip() or None


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {**{name: _version(name) for name in PACKAGES}, "netapp.ontap": _collection_version()},
        "git_commit": _git_commit(),
    }


def medians(runs: list[dict[str, Any]]) -> dict[str, float | None]:
    result: dict[str, float | None] = {}
    for key in MEDIAN_KEYS:
        values = [run[key] for run in runs if run.get(key) is not None]
        result[key] = statistics.median(values) if values else None
    return result


def ratios(results: list[dict[str, Any]], baseline: str = "fleet-rotate") -> list[dict[str, Any]]:
    """fleet/peer per (N, latency): below 1 means fleet uses less (CPU per cluster) or finishes sooner."""
    out = []
    for base in (r for r in results if r["tool"] == baseline):
        for peer in results:
            same = (peer["clusters"], peer["latency_ms"]) == (base["clusters"], base["latency_ms"])
            if not same or peer["tool"].startswith("fleet-"):
                continue
            b, p = base["median"], peer["median"]
            out.append(
                {
                    "clusters": base["clusters"],
                    "latency_ms": base["latency_ms"],
                    "peer": peer["tool"],
                    "cpu_per_cluster_fleet_over_peer": _ratio(
                        b["cpu_ms_per_cluster"], p["cpu_ms_per_cluster"]
                    ),
                    "wall_fleet_over_peer": _ratio(b["wall_s"], p["wall_s"]),
                }
            )
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 4) if a is not None and b else None


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| tool | N | latency ms | wall s | CPU s | CPU ms/cluster | peak RSS MB (tree) | req/cluster "
        "| clusters/s | rotated (verified/expected) | accounted | wrong passphrases | exit |"
    )
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in results:
        m = r["median"]
        rotated = (
            "–"
            if m["verified_rotated"] is None
            else f"{m['verified_rotated']:.0f}/{m['expected_rotated']:.0f}"
        )
        cells = [
            r["tool"], str(r["clusters"]), f"{r['latency_ms']:g}", _fmt(m["wall_s"]), _fmt(m["cpu_s"]),
            _fmt(m["cpu_ms_per_cluster"]), f"{_fmt(m['peak_rss_mb'], 0)} ({_fmt(m['peak_tree_rss_mb'], 0)})",
            _fmt(m["requests_per_cluster"], 1), _fmt(m["clusters_per_s"], 1), rotated,
            _fmt(m["accounted"], 0), _fmt(m["wrong_passphrase_attempts"], 0), _fmt(m["exit_code"], 0),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratio_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| N | latency ms | peer | CPU/cluster fleet÷peer | wall fleet÷peer |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        cpu, wall = row["cpu_per_cluster_fleet_over_peer"], row["wall_fleet_over_peer"]
        lines.append(
            f"| {row['clusters']} | {row['latency_ms']:g} | {row['peer']} | {_fmt(cpu, 3)}"
            f"{f' (peer {1 / cpu:.1f}×)' if cpu else ''} | {_fmt(wall, 3)} |"
        )
    return "\n".join(lines)
