"""Turn per-cluster records into the fleet-wide view: counts, and failures by code, node and cluster.

An auditor asks "what failed where, and what do I do now?". So every failing step and every node
error is counted, also when fleet remediated it afterwards (the cluster is then listed under
``remediated_clusters`` too): hiding a repaired failure would hide that the estate needed repair.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from fleet.ontap.codes import CodeClass, classify, code_info
from fleet.report.model import (
    CLUSTER_OUTCOMES,
    PAIR_OUTCOMES,
    ClusterRecord,
    Drift,
    ErrorInfo,
    FailureGroup,
    Failures,
    Finding,
    NodeFailure,
    NodeRecord,
    NodeRef,
    PairRecord,
    Report,
    RunInfo,
    Summary,
    WaveRecord,
)

KEYS_MISSING = "keys_missing"

# What to do next when the failure has no ONTAP code (or one the code table gives no advice for).
_DEFAULT_NEXT_STEPS: dict[str, str] = {
    "http_401": "Check the inventory's credentials for these clusters, then rerun on them.",
    "http_403": "Grant the inventory's user the security role on these clusters, then rerun on them.",
    "http_429": "The clusters were busy: rerun later, or with a lower --per-cluster.",
    "http_503": "The clusters' REST service was unavailable: check cluster health, then rerun on them.",
    "timeout": (
        "The clusters did not answer in time: check reachability and load. A change that timed out may "
        "have been applied; rerun (or `fleet resume`) so fleet re-reads and probes, never resends blindly."
    ),
    "transport": "Check reachability and TLS (the inventory's CA file) for these clusters, then rerun.",
    "auth": "Check the inventory's credentials for these clusters, then rerun on them.",
    "input": "Fix the input named in the message; no cluster was changed by it.",
    "internal": "An unexpected fleet error: file an issue with this report and the run's log attached.",
    KEYS_MISSING: (
        "Some nodes lack keys: run `fleet sync` with the current passphrase on these clusters, then check "
        "that no node reports restored=false keys."
    ),
}


def failure_key(error: ErrorInfo) -> str:
    """The by_code key: ONTAP's code as a string, else a stable key from the error kind and HTTP status."""
    if error.code is not None:
        return str(error.code)
    if error.kind == "timeout":
        return "timeout"
    if error.http_status is not None:
        return f"http_{error.http_status}"
    return error.kind


def next_step_for(key: str) -> str:
    """Advice from the shared code table when it has some, else a default for the kind of failure."""
    info = code_info(int(key)) if key.isdigit() else None
    if info is not None and info.next_step:
        return info.next_step
    if key in _DEFAULT_NEXT_STEPS:
        return _DEFAULT_NEXT_STEPS[key]
    if key.startswith("http_5"):
        return "The clusters' REST service failed: check cluster health, then rerun on them."
    if key.startswith("http_"):
        return "The request was refused: check the message and the inventory for these clusters, then rerun."
    return f"See NetApp's ONTAP error table for code {key}; correct it on the clusters, then rerun on them."


@dataclass
class _Group:
    """A failure group while it is being collected (mutable; frozen into a FailureGroup at the end)."""

    messages: Counter[str] = field(default_factory=Counter)
    count: int = 0
    clusters: set[str] = field(default_factory=set)
    nodes: set[tuple[str, str]] = field(default_factory=set)
    remediated: set[str] = field(default_factory=set)


class _Collector:
    def __init__(self) -> None:
        self.groups: defaultdict[str, _Group] = defaultdict(_Group)
        self.by_cluster: defaultdict[str, set[str]] = defaultdict(set)
        self.by_node: dict[tuple[str, str], tuple[set[str], int | None]] = {}

    def add(self, cluster: ClusterRecord, key: str, message: str, node: NodeRecord | None = None) -> None:
        group = self.groups[key]
        group.messages[message] += 1
        group.count += 1
        group.clusters.add(cluster.name)
        if cluster.remediated:
            group.remediated.add(cluster.name)
        self.by_cluster[cluster.name].add(key)
        if node is not None:
            group.nodes.add((cluster.name, node.name))
            codes, _ = self.by_node.setdefault((cluster.name, node.name), (set(), node.keys_missing))
            codes.add(key)

    def failures(self) -> Failures:
        by_code = {key: _freeze(key, self.groups[key]) for key in sorted(self.groups)}
        by_node = [
            NodeFailure(cluster=cluster, node=node, codes=sorted(codes), keys_missing=missing)
            for (cluster, node), (codes, missing) in sorted(self.by_node.items())
        ]
        by_cluster = {name: sorted(keys) for name, keys in sorted(self.by_cluster.items())}
        return Failures(by_code=by_code, by_node=by_node, by_cluster=by_cluster)


def _freeze(key: str, group: _Group) -> FailureGroup:
    info = code_info(int(key)) if key.isdigit() else None
    if info is not None:
        message = info.message
    else:  # the most frequent message; ties broken alphabetically so the report is reproducible
        message = min(group.messages.items(), key=lambda item: (-item[1], item[0]))[0]
    return FailureGroup(
        code=key,
        message=message,
        count=group.count,
        clusters=sorted(group.clusters),
        nodes=[NodeRef(cluster=c, node=n) for c, n in sorted(group.nodes)],
        remediated_clusters=sorted(group.remediated),
        next_step=next_step_for(key),
    )


def _collect_cluster(collector: _Collector, cluster: ClusterRecord) -> None:
    step_keys: list[str] = []
    for step in cluster.steps:
        if step.error is not None and step.status in ("failed", "unknown"):
            key = failure_key(step.error)
            collector.add(cluster, key, step.error.message)
            step_keys.append(key)
        elif step.status == "failed":
            collector.add(cluster, "internal", step.detail or f"step {step.name} failed without an error")
            step_keys.append("internal")
    # Nodes with missing keys but no error of their own belong to the partial failure that left them
    # behind (65536407 does not name its nodes; fleet found them by asking each node).
    partial_keys = sorted({k for k in step_keys if k.isdigit() and classify(int(k)) is CodeClass.PARTIAL})
    for node in cluster.nodes:
        if node.error is not None:
            collector.add(cluster, failure_key(node.error), node.error.message, node)
        elif node.keys_missing:
            for key in partial_keys or [KEYS_MISSING]:
                collector.add(cluster, key, f"{node.keys_missing} keys missing on the node", node)
    if cluster.outcome == "failed" and cluster.name not in collector.by_cluster:
        collector.add(cluster, "internal", cluster.reason or "failed without a recorded error")


def _summary(run: RunInfo, clusters: list[ClusterRecord], pairs: list[PairRecord]) -> Summary:
    by_outcome = dict.fromkeys(CLUSTER_OUTCOMES, 0) | Counter(c.outcome for c in clusters)
    by_pair = dict.fromkeys(PAIR_OUTCOMES, 0) | Counter(p.outcome for p in pairs)
    duration_s = max((run.finished_at - run.started_at).total_seconds(), 0.0)
    return Summary(
        total=len(clusters),
        by_outcome=by_outcome,
        pairs=by_pair,
        duration_s=round(duration_s, 3),
        clusters_per_second=round(len(clusters) / duration_s, 3) if duration_s > 0 else 0.0,
        requests=sum(c.requests for c in clusters),
    )


def build_report(
    run: RunInfo,
    clusters: Iterable[ClusterRecord],
    pairs: Iterable[PairRecord] = (),
    waves: Iterable[WaveRecord] = (),
    findings: Iterable[Finding] = (),
    drift: Drift | None = None,
) -> Report:
    """Build the report, computing ``summary`` and ``failures``; every list is sorted for stable diffs."""
    cluster_list = sorted(clusters, key=lambda c: c.name)
    pair_list = sorted(pairs, key=lambda p: p.name)
    collector = _Collector()
    for cluster in cluster_list:
        _collect_cluster(collector, cluster)
    return Report(
        run=run,
        summary=_summary(run, cluster_list, pair_list),
        failures=collector.failures(),
        clusters=cluster_list,
        pairs=pair_list,
        waves=sorted(waves, key=lambda w: w.index),
        findings=sorted(findings, key=lambda f: (f.cluster, f.rule)),
        drift=drift,
    )
