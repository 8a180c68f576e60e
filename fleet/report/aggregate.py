"""Turn per-cluster records into the fleet-wide view: counts, and failures by code, node and cluster.

An auditor asks "what failed where, and what do I do now?". So every failing step and every node
error is counted, in one of two places, by how its cluster ended: under ``failures`` (with the next
step) when the cluster did not end well, under ``recovered`` when fleet retried, reconciled or
remediated it and the cluster ended ``succeeded`` or ``already_current``. Hiding a repaired error
would hide that the estate needed repair; listing it as a failure would send someone to fix what
is fixed.

Requests the ONTAP client sent again within one request after a transient answer (each cluster
record's ``retries``) never made a step fail, so they are no error; they are grouped by cause under
``failures.retried`` for a cluster with a failure outcome or a failure listed, where they explain it
and are never claimed recovered, and under ``recovered.retried`` for every other cluster: one that
ended well, or was skipped (or planned) with nothing left to do, as an external key manager in a
rotation is.

``internal`` means a fleet bug, and nothing else: an unexpected exception, or a cluster that did
not end well without any recorded error. Every expected refusal carries its own key (``refused``
kind, ``REFUSALS``) and a next step.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fleet.ontap.codes import CodeClass, classify, code_info
from fleet.outcomes import FAILURE, ClusterOutcome
from fleet.report.model import (
    CLUSTER_OUTCOMES,
    PAIR_OUTCOMES,
    ClusterRecord,
    Drift,
    ErrorInfo,
    ErrorKind,
    FailureGroup,
    Failures,
    Finding,
    NodeFailure,
    NodeRecord,
    NodeRef,
    PairRecord,
    Recovered,
    RecoveredGroup,
    Report,
    RetryGroup,
    RunInfo,
    Summary,
    WaveRecord,
)

KEYS_MISSING = "keys_missing"
#: A cluster that ended like this ended well: its errors were recovered from, not failures.
ENDED_WELL = frozenset({ClusterOutcome.SUCCEEDED, ClusterOutcome.ALREADY_CURRENT})
#: Outcomes that need a recorded error; one without any is a fleet bug (``internal``).
NEEDS_AN_ERROR = frozenset({ClusterOutcome.FAILED, ClusterOutcome.REFUSED})


@dataclass(frozen=True, slots=True)
class Rule:
    """An expected refusal (or a failure on fleet's own side): what it is, and what to do about it."""

    message: str  # the group's message; each step's error keeps its cluster's own details
    next_step: str


#: Every key that is not a fleet bug although it has no ONTAP code. Never "internal".
REFUSALS: dict[str, Rule] = {
    "not_that_cluster": Rule(
        "The address answers as another cluster than the inventory names; nothing was changed.",
        "Correct the entry's address, or set `ontap_name:` to the name the cluster reports when it is the "
        "same cluster under another name; then rerun on it.",
    ),
    "mcc_partner_unlisted": Rule(
        "ONTAP reports a MetroCluster partner that the inventory does not name; nothing was changed.",
        "Add the partner site to the inventory if it is missing, give both entries `metrocluster_partner:` "
        "naming each other, then rerun with `--limit` naming both sites (a pair is rotated as one unit).",
    ),
    "mcc_partner_mismatch": Rule(
        "The inventory's MetroCluster pairing disagrees with ONTAP's; nothing was changed.",
        "Correct `metrocluster_partner:` on both entries to the partner ONTAP reports (GET "
        "/api/cluster/metrocluster), then rerun with `--limit` naming both sites.",
    ),
    "km_unhealthy": Rule(
        "The key manager is not healthy; nothing was changed.",
        "Fix the key manager's status first (each cluster's reason gives it; nodes missing keys are healed "
        "by `fleet sync` with the current passphrase), then rerun on these clusters.",
    ),
    "refused_before": Rule(
        "The cluster already refused this passphrase; it is never sent again.",
        "Give the reference to the passphrase the cluster has (with a store: its `current` slot), then rerun "
        "on these clusters.",
    ),
    "stale_reference": Rule(
        "The reference is not the passphrase the journal last verified on the cluster; not sent.",
        "Use the reference that gives the journal's fingerprint (each cluster's reason names both; with a "
        "store: its `current` slot), then rerun on these clusters.",
    ),
    "attempt_24h": Rule(
        "A wrong passphrase was already tried on the cluster within 24 hours; not sent (lockout risk).",
        "Correct the reference, then rerun once the 24 hours are over, or now with `--allow-attempt` when "
        "you are sure of it.",
    ),
    "store_pending": Rule(
        "The store's pending slot holds another value than the cluster proved; every slot was left as is.",
        "Another run's candidate is pending: find it with `fleet runs`, let it finish or `fleet resume` it, "
        "then rerun on these clusters.",
    ),
    "no_passphrase": Rule(
        "An action needs a passphrase and no reference gives one; not sent.",
        "Give a passphrase reference (`--passphrase`, or the inventory's `vars.okm_passphrase`), then rerun "
        "on these clusters.",
    ),
    "deadline": Rule(
        "The cluster deadline (--cluster-deadline) passed before the cluster's work ended.",
        "`fleet resume` the run: it reconciles any change in flight; give a longer --cluster-deadline if "
        "these clusters are slow.",
    ),
    "secret_store": Rule(
        "The secret store failed; nothing more was sent to the cluster.",
        "Fix the store (the steps' messages say how: its folder, its permissions, the `cmd:` tool), then "
        "`fleet resume` the run.",
    ),
    "journal": Rule(
        "The journal failed; nothing more was sent to the cluster.",
        "Fix the journal (disk full, permissions, a lock), then `fleet resume` the run.",
    ),
}
REFUSAL_KEYS: tuple[str, ...] = tuple(REFUSALS)

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
    "refused": "fleet refused on purpose (a safety rule; the message says which): correct that, then rerun.",
    "local": "fleet's own journal or secret store failed: fix it, then `fleet resume` the run.",
    "internal": "An unexpected fleet error: file an issue with this report and the run's log attached.",
    KEYS_MISSING: (
        "Some nodes lack keys: run `fleet sync` with the current passphrase on these clusters, then check "
        "that no node reports restored=false keys."
    ),
}


#: What each retry cause means (``fleet.ontap.retry.retry_cause`` names them).
RETRY_CAUSES: dict[str, str] = {
    "http_429": "429 Too Many Requests: ONTAP's request limit",
    "http_503": "503 Service Unavailable",
    "http_500": "500 Internal Server Error to a read",
    "http_502": "502 Bad Gateway to a read",
    "http_504": "504 Gateway Timeout to a read",
    "connect": "no connection: nothing was sent",
    "timeout": "a read timed out",
    "transport": "a read's connection broke",
}


def failure_key(error: ErrorInfo) -> str:
    """The by_code key: ONTAP's code as a string, else a stable key from the error kind and HTTP status."""
    if error.code is not None:
        return str(error.code)
    if error.key:
        return error.key
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
    if key in REFUSALS:
        return REFUSALS[key].next_step
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
    kinds: Counter[ErrorKind] = field(default_factory=Counter)
    count: int = 0
    clusters: set[str] = field(default_factory=set)
    nodes: set[tuple[str, str]] = field(default_factory=set)
    remediated: set[str] = field(default_factory=set)


class _Collector:
    def __init__(self) -> None:
        self.groups: defaultdict[str, _Group] = defaultdict(_Group)
        self.by_cluster: defaultdict[str, set[str]] = defaultdict(set)
        self.by_node: dict[tuple[str, str], tuple[set[str], int | None]] = {}
        self.retries: Counter[str] = Counter()
        self.retried_on: defaultdict[str, set[str]] = defaultdict(set)

    def add(
        self,
        cluster: ClusterRecord,
        key: str,
        message: str,
        node: NodeRecord | None = None,
        kind: ErrorKind | None = None,
    ) -> None:
        group = self.groups[key]
        group.messages[message] += 1
        if kind is not None:
            group.kinds[kind] += 1
        group.count += 1
        group.clusters.add(cluster.name)
        if cluster.remediated:
            group.remediated.add(cluster.name)
        self.by_cluster[cluster.name].add(key)
        if node is not None:
            group.nodes.add((cluster.name, node.name))
            codes, _ = self.by_node.setdefault((cluster.name, node.name), (set(), node.keys_missing))
            codes.add(key)

    def add_retries(self, cluster: ClusterRecord) -> None:
        """Count what the cluster's client sent again, by cause; kept apart from the errors."""
        for cause, count in cluster.retries.items():
            if count > 0:
                self.retries[cause] += count
                self.retried_on[cause].add(cluster.name)

    def failures(self) -> Failures:
        by_code = {key: _freeze(key, self.groups[key]) for key in sorted(self.groups)}
        by_node = [
            NodeFailure(cluster=cluster, node=node, codes=sorted(codes), keys_missing=missing)
            for (cluster, node), (codes, missing) in sorted(self.by_node.items())
        ]
        return Failures(
            by_code=by_code, by_node=by_node, by_cluster=self._by_cluster(), retried=self._retried()
        )

    def recovered(self) -> Recovered:
        by_code = {key: RecoveredGroup(**_where(key, group)) for key, group in sorted(self.groups.items())}
        return Recovered(by_code=by_code, by_cluster=self._by_cluster(), retried=self._retried())

    def _by_cluster(self) -> dict[str, list[str]]:
        return {name: sorted(keys) for name, keys in sorted(self.by_cluster.items())}

    def _retried(self) -> dict[str, RetryGroup]:
        return {
            cause: RetryGroup(
                cause=cause,
                message=RETRY_CAUSES.get(cause, f"sent again after {cause}"),
                count=count,
                clusters=sorted(self.retried_on[cause]),
            )
            for cause, count in sorted(self.retries.items())
        }


def _message(key: str, group: _Group) -> str:
    info = code_info(int(key)) if key.isdigit() else None
    if info is not None:
        return info.message
    if key in REFUSALS:
        return REFUSALS[key].message
    # the most frequent message; ties broken alphabetically so the report is reproducible
    return min(group.messages.items(), key=lambda item: (-item[1], item[0]))[0]


def _freeze(key: str, group: _Group) -> FailureGroup:
    kind = min(group.kinds.items(), key=lambda item: (-item[1], item[0]))[0] if group.kinds else None
    return FailureGroup(**_where(key, group), next_step=next_step_for(key), kind=kind)


def _where(key: str, group: _Group) -> dict[str, Any]:
    """What a failure group and a recovered group both say of one code: how often, and where."""
    return {
        "code": key,
        "message": _message(key, group),
        "count": group.count,
        "clusters": sorted(group.clusters),
        "nodes": [NodeRef(cluster=c, node=n) for c, n in sorted(group.nodes)],
        "remediated_clusters": sorted(group.remediated),
    }


def _collect_cluster(collector: _Collector, cluster: ClusterRecord) -> None:
    ended_well = cluster.outcome in ENDED_WELL
    step_keys: list[str] = []
    for step in cluster.steps:
        error = step.error
        if error is None:
            continue  # a failed note without an error is explained by the cluster's other errors, or below
        if ended_well and error.kind == "refused":
            continue  # a safety rule that skipped one step of a cluster that ended well: nothing to recover
        key = failure_key(error)
        collector.add(cluster, key, error.message, kind=error.kind)
        step_keys.append(key)
    # Nodes with missing keys but no error of their own belong to the partial failure that left them
    # behind (65536407 does not name its nodes; fleet found them by asking each node).
    partial_keys = sorted({k for k in step_keys if k.isdigit() and classify(int(k)) is CodeClass.PARTIAL})
    for node in cluster.nodes:
        if node.error is not None:
            collector.add(cluster, failure_key(node.error), node.error.message, node, kind=node.error.kind)
        elif node.keys_missing:
            for key in partial_keys or [KEYS_MISSING]:
                collector.add(cluster, key, f"{node.keys_missing} keys missing on the node", node)
    if cluster.outcome in NEEDS_AN_ERROR and cluster.name not in collector.by_cluster:
        # Every expected way to fail records its error: one that did not is a fleet bug.
        failed = next((step for step in cluster.steps if step.status == "failed"), None)
        detail = failed.detail if failed is not None else None
        message = detail or cluster.reason or "failed without a recorded error"
        collector.add(cluster, "internal", message, kind="internal")


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
    failed, recovered = _Collector(), _Collector()
    for cluster in cluster_list:
        _collect_cluster(recovered if cluster.outcome in ENDED_WELL else failed, cluster)
        failing = cluster.outcome in FAILURE or cluster.name in failed.by_cluster
        (failed if failing else recovered).add_retries(cluster)
    return Report(
        run=run,
        summary=_summary(run, cluster_list, pair_list),
        failures=failed.failures(),
        recovered=recovered.recovered(),
        clusters=cluster_list,
        pairs=pair_list,
        waves=sorted(waves, key=lambda w: w.index),
        findings=sorted(findings, key=lambda f: (f.cluster, f.rule)),
        drift=drift,
    )
