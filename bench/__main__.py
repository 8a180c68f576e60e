"""``python -m bench``: fleet against its peers, on the same simulated fleet, in the same run (issue 8).

For each N and latency, each repeat runs every tool once, each on a FRESH simulator (a rotation
mutates the fleet), interleaved so slow drift of the machine hits all tools alike. Every result is
checked against the simulator's truth. Peers run only up to their size limits.

    python -m bench --clusters 100 1000 --latency-ms 0 20 --repeat 3
    python -m bench --clusters 100 --latency-ms 0 --repeat 1 --tools fleet-rotate netapp-32 ansible-20
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from bench import peer_ansible, report
from bench.tools import Tool, parse_tool, run_once

DEFAULT_TOOLS = ["fleet-rotate", "fleet-sweep", "netapp-32", "netapp-128", "ansible-20", "ansible-50"]


def applies(tool: Tool, clusters: int, args: argparse.Namespace) -> bool:
    """Peers only where practical: netapp-ontap up to --max-peer-clusters, Ansible at --ansible-clusters."""
    if tool.kind == "netapp":
        return clusters <= args.max_peer_clusters
    if tool.kind == "ansible":
        return clusters in args.ansible_clusters and peer_ansible.ansible_playbook() is not None
    return True


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 20.0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--tools", nargs="+", default=DEFAULT_TOOLS, help="fleet-rotate, fleet-sweep, netapp-W, ansible-F"
    )
    parser.add_argument("--max-peer-clusters", type=int, default=1000, help="Largest N for the netapp peers.")
    parser.add_argument(
        "--ansible-clusters", type=int, nargs="+", default=[100], help="N at which Ansible runs."
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout-s", type=float, default=3600.0, help="Kill a tool run after this long.")
    parser.add_argument("--out", type=Path, default=Path(f"bench/results/{dt.date.today().isoformat()}.json"))
    return parser.parse_args(argv)


def progress(tool: Tool, clusters: int, latency: float, attempt: int, run: dict[str, Any]) -> str:
    rotated = (
        ""
        if run["verified_rotated"] is None
        else f" rotated {run['verified_rotated']}/{run['expected_rotated']}"
    )
    return (
        f"{tool.name} N={clusters} latency={latency:g}ms run {attempt}: wall {run['wall_s']:.2f}s"
        f" cpu {run['cpu_s']:.2f}s ({run['cpu_ms_per_cluster']:.2f} ms/cluster)"
        f" rss {run['peak_rss_mb']:.0f} MB (tree {run['peak_tree_rss_mb']:.0f}) exit {run['exit_code']}"
        f"{rotated} accounted {run['accounted']}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        tools = [parse_tool(name) for name in args.tools]
    except ValueError as exc:
        print(f"python -m bench: {exc}", file=sys.stderr)
        return 2
    if any(tool.kind == "ansible" for tool in tools) and peer_ansible.ansible_playbook() is None:
        print(
            "python -m bench: ansible-playbook is not installed; the Ansible peers are skipped",
            file=sys.stderr,
        )
    results: list[dict[str, Any]] = []
    for clusters in args.clusters:
        for latency in args.latency_ms:
            chosen = [tool for tool in tools if applies(tool, clusters, args)]
            runs: dict[str, list[dict[str, Any]]] = {tool.name: [] for tool in chosen}
            for attempt in range(1, args.repeat + 1):
                for tool in chosen:
                    run = run_once(tool, clusters, latency, args.seed, args.timeout_s)
                    runs[tool.name].append(run)
                    print(progress(tool, clusters, latency, attempt, run), flush=True)
            for tool in chosen:
                results.append(
                    {
                        "tool": tool.name,
                        "clusters": clusters,
                        "latency_ms": latency,
                        "median": report.medians(runs[tool.name]),
                        "runs": runs[tool.name],
                    }
                )
    ratios = report.ratios(results)
    document = {
        "benchmark": "fleet-vs-peers",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": report.machine(),
        "config": {**{key: value for key, value in vars(args).items() if key != "out"}},
        "results": results,
        "ratios": ratios,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print()
    print(report.table(results))
    print()
    print(report.ratio_table(ratios))
    print()
    unverified = _not_all_rotated(results)
    for line in unverified:
        print(line)
    print(f"-> {args.out}")
    return 1 if unverified else 0


def _not_all_rotated(results: list[dict[str, Any]]) -> list[str]:
    """Every rotating tool that left clusters unrotated, loudly: a peer that fails clusters must show."""
    lines = []
    for r in results:
        for index, run in enumerate(r["runs"], 1):
            if run["verified_rotated"] is not None and run["verified_rotated"] != run["expected_rotated"]:
                truth = run["truth"]
                lines.append(
                    f"NOT ALL ROTATED: {r['tool']} N={r['clusters']} {r['latency_ms']:g}ms run {index}:"
                    f" {run['verified_rotated']}/{run['expected_rotated']} hold the new passphrase"
                    f" (pending partner sync {truth['pending_partner_sync']}, locked {truth['locked']})"
                )
    return lines


if __name__ == "__main__":
    sys.exit(main())
