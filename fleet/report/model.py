"""The run report, ``fleet.report/v1``: what an auditor reads after a run.

Pydantic models so the report is validated both when it is built and when it is read back; the
JSON Schema beside this module (``schema.json``) is generated from them, never written by hand.
Every model forbids unknown keys: a report that does not match the schema is not a fleet report.
Changing a field's name or meaning needs a new schema id and a migration note in the README.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from fleet.outcomes import (
    ClusterOutcome,
    ComplianceState,
    PairOutcome,
    RunKind,
    RunOutcome,
    StepStatus,
    Unknown,
)

SCHEMA_ID = "fleet.report/v1"

ErrorKind = Literal["ontap", "transport", "timeout", "auth", "input", "refused", "local", "internal"]
"""``refused``: fleet would not act, on purpose (a safety rule; ``key`` says which); ``local``: fleet's
own journal or secret store failed; ``internal``: a fleet bug. The rest: what went wrong on the cluster's
side."""
Severity = Literal["critical", "warning", "info"]

CLUSTER_OUTCOMES: tuple[str, ...] = tuple(outcome.value for outcome in ClusterOutcome)
PAIR_OUTCOMES: tuple[str, ...] = tuple(outcome.value for outcome in PairOutcome)


class _Record(BaseModel):
    """Frozen and strict: a report is a record of what happened, not a working object."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorInfo(_Record):
    """One error as fleet saw it; ``code`` is ONTAP's code as an int, None when ONTAP gave none."""

    code: int | None
    message: str
    target: str | None = None
    http_status: int | None = None
    kind: ErrorKind = "ontap"
    key: str | None = Field(
        default=None,
        description="A stable name for an error without an ONTAP code, e.g. the safety rule of a refusal "
        '("mcc_partner_unlisted"); the failures key.',
    )


class StepRecord(_Record):
    name: str
    status: StepStatus
    started_at: datetime
    duration_ms: int = Field(ge=0)
    http_status: int | None = None
    error: ErrorInfo | None = None
    detail: str | None = None


class NodeRecord(_Record):
    """Per-node truth: 65536407 does not name the nodes, so fleet asks each node and records it here."""

    name: str
    uuid: str | None = None
    keys_missing: int | None = None
    error: ErrorInfo | None = None


class ClusterRecord(_Record):
    name: str
    address: str
    outcome: ClusterOutcome
    reason: str | None = None
    uuid: str | None = Field(
        default=None,
        description="The uuid the cluster at this address reported (GET /api/cluster): the journal's "
        "identity key.",
    )
    ontap_version: str | None = None
    partner: str | None = None
    steps: list[StepRecord] = Field(default_factory=list)
    nodes: list[NodeRecord] = Field(default_factory=list)
    key_backup_sha256: str | None = None
    passphrase_fingerprint: str | None = Field(
        default=None,
        description="The passphrase the cluster proved it holds (after a rotation: the new one), as the "
        "journal's keyed fingerprint; never a plain hash of the passphrase.",
    )
    previous_passphrase_fingerprint: str | None = Field(
        default=None,
        description="The passphrase the cluster held before this change replaced it (the journal's from_fp), "
        "keyed like passphrase_fingerprint; None when the run changed no passphrase on the cluster.",
    )
    remediated: bool = False
    requests: int = Field(default=0, ge=0)
    retries: dict[str, int] = Field(
        default_factory=dict,
        description="Requests fleet's ONTAP client sent again within one request after a transient answer, "
        "by cause (see RetryGroup.cause); already counted in requests. Empty: nothing was sent again.",
    )
    wave: int | None = None


class PairRecord(_Record):
    """A MetroCluster pair: ``split`` means one site moved and the other did not."""

    name: str
    sites: tuple[str, str]
    first: str
    outcome: PairOutcome
    reason: str | None = None
    remediation: str | None = None
    fingerprints: dict[str, str | None] = Field(default_factory=dict)


class RunInfo(_Record):
    id: str
    kind: RunKind
    started_at: datetime
    finished_at: datetime
    outcome: RunOutcome
    exit_code: int
    fleet_version: str
    inventory: str
    options: dict[str, Any] = Field(default_factory=dict)
    stop_reason: str | None = None
    operator: str | None = Field(
        default=None,
        description="Who ran it: user@host, the effective OS user and the host (never from the environment).",
    )
    host: str | None = Field(default=None, description="The host the run ran on.")
    change_id: str | None = Field(default=None, description="The change ticket given with --change-id.")


class Summary(_Record):
    total: int
    by_outcome: dict[str, int] = Field(description="Every cluster outcome, zeros included.")
    pairs: dict[str, int] = Field(description="Every pair outcome, zeros included.")
    duration_s: float
    clusters_per_second: float
    requests: int


class NodeRef(_Record):
    cluster: str
    node: str


class FailureGroup(_Record):
    """All occurrences of one failure code: where it happened and what to do next."""

    code: str = Field(description='ONTAP code as a string, or a stable key such as "http_401" or "timeout".')
    message: str
    count: int = Field(
        description="Occurrences on clusters that did not end well: every failing step and every node error."
    )
    clusters: list[str]
    nodes: list[NodeRef]
    remediated_clusters: list[str] = Field(
        description="Clusters fleet tried to remediate (a sync) that still did not end well."
    )
    next_step: str
    kind: ErrorKind | None = Field(
        default=None, description="The errors' kind: refused = a safety rule fleet keeps on purpose."
    )


class NodeFailure(_Record):
    cluster: str
    node: str
    codes: list[str]
    keys_missing: int | None = None


class RetryGroup(_Record):
    """One cause of requests sent again after a transient answer: how many, and on which clusters."""

    cause: str = Field(
        description='Why: "http_429" (ONTAP: too many requests), "http_503" (service unavailable: '
        'ONTAP\'s own error, or for a read also a proxy\'s), "http_500", "http_502", "http_504" (reads '
        'only), "connect" (no connection could be made: nothing was sent), "timeout" or "transport" (a read '
        "whose answer was lost: read again). A mutation is only ever sent again when the cluster certainly "
        "did not process it."
    )
    message: str
    count: int = Field(ge=1, description="Requests sent again for this cause, on these clusters together.")
    clusters: list[str] = Field(description="Each cluster's own count is its record's retries.")


class Failures(_Record):
    """Errors that left a cluster not succeeded: what still needs doing."""

    by_code: dict[str, FailureGroup] = Field(default_factory=dict)
    by_node: list[NodeFailure] = Field(default_factory=list)
    by_cluster: dict[str, list[str]] = Field(default_factory=dict)
    retried: dict[str, RetryGroup] = Field(
        default_factory=dict,
        description="Requests sent again after a transient answer, by cause, on clusters with a failure "
        "outcome or a failure listed here: how the failures came about, not failures of their own (not in "
        "by_code or by_cluster), and never recovered.",
    )


class RecoveredGroup(_Record):
    """All occurrences of one code on clusters that still ended well: nothing is left to do for them."""

    code: str
    message: str
    count: int = Field(description="Occurrences: every failed step and every node error on those clusters.")
    clusters: list[str]
    nodes: list[NodeRef] = Field(default_factory=list)
    remediated_clusters: list[str] = Field(
        default_factory=list, description="Clusters where fleet's own sync repaired what the error left."
    )


class Recovered(_Record):
    """Errors fleet retried, reconciled or remediated within the run, on clusters that ended well, and the
    requests its client sent again after a transient answer there (``retried``).

    Kept apart from ``failures`` (nothing to do) but never dropped: they show the estate needed repair.
    """

    by_code: dict[str, RecoveredGroup] = Field(default_factory=dict)
    by_cluster: dict[str, list[str]] = Field(default_factory=dict)
    retried: dict[str, RetryGroup] = Field(
        default_factory=dict,
        description="Requests fleet's ONTAP client sent again within one request after a transient answer, "
        "by cause, on clusters with nothing left to do (ended well, or skipped or planned without a "
        "failure): each a transient answer, not a failed step, so not in by_code or by_cluster.",
    )


class WaveRecord(_Record):
    index: int
    size: int
    units: list[str]
    started_at: datetime
    finished_at: datetime | None = None
    outcome: str
    failures: int = 0


class Finding(_Record):
    """One compliance finding of a sweep: a rule a cluster does not meet."""

    cluster: str
    rule: str
    severity: Severity
    observed: JsonValue = None
    expected: JsonValue = None
    message: str
    svm: str | None = Field(
        default=None, description="The data SVM whose own key manager the finding is about (cluster/svm)."
    )

    @property
    def subject(self) -> str:
        """What the finding names: ``cluster`` or ``cluster/svm``."""
        return self.cluster if self.svm is None else f"{self.cluster}/{self.svm}"


class CertificateExpiry(_Record):
    """A certificate a key manager uses, with when it expires (sweeps with ``certificates:``)."""

    cluster: str
    svm: str | None = Field(default=None, description="The data SVM; none for the admin SVM (cluster scope).")
    name: str
    type: str
    expiry_time: datetime


class Drift(_Record):
    """Findings compared with an earlier sweep (``fleet sweep --since REPORT``)."""

    new: list[Finding] = Field(default_factory=list)
    resolved: list[Finding] = Field(default_factory=list)
    unchanged: list[Finding] = Field(default_factory=list)


class ClusterCompliance(_Record):
    """One cluster's verdict in a sweep (or plan)."""

    state: ComplianceState
    unknown: Unknown | None = Field(
        default=None, description="Why the state is unknown; the cluster's `reason` says it in words."
    )
    passphrase_verified_at: datetime | None = Field(
        default=None,
        description="Onboard clusters: when the journal last verified the cluster's passphrase (a rotation, "
        "or a sync); the passphrase age is measured from it. None: the journal never verified it.",
    )


class Compliance(_Record):
    """A sweep's (or plan's) verdict per cluster, and whether it checked every selected cluster."""

    complete: bool = Field(
        description="Every selected cluster was checked (an unreachable one counts as checked); false: the "
        "sweep stopped early and clusters it never checked are unknown. A partial sweep is never a drift "
        "baseline and does not replace the Prometheus textfile unless --publish-partial."
    )
    by_state: dict[str, int] = Field(description="Clusters per state, zeros included.")
    clusters: dict[str, ClusterCompliance]


class ChangeCluster(_Record):
    """A cluster of the change's original selection, where the whole change left it."""

    name: str
    outcome: ClusterOutcome
    run: str = Field(description="The run of the lineage that produced this final outcome.")
    reason: str | None = None
    wave: int | None = None
    passphrase_fingerprint: str | None = None


class ChangePair(_Record):
    name: str
    outcome: PairOutcome
    run: str = Field(description="The run of the lineage that produced this final outcome.")
    reason: str | None = None
    remediation: str | None = None


class Change(_Record):
    """One change that took several runs (a rollout resumed night after night), as one record.

    Every cluster of the first run's selection is listed once, with the outcome of the last run
    that acted on it; a cluster a later run did not start keeps its earlier outcome.
    """

    runs: list[str] = Field(description="The lineage, oldest first; the last is this report's run.")
    complete: bool = Field(
        description="Every run of the lineage has a report; false: some outcomes are the journal's."
    )
    by_outcome: dict[str, int] = Field(description="Final cluster outcomes over the change, zeros included.")
    clusters: list[ChangeCluster]
    pairs: list[ChangePair] = Field(default_factory=list)


class Report(_Record):
    """The whole report. ``schema`` is spelled ``schema_`` in Python: BaseModel owns ``schema``."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        title="fleet run report",
    )

    schema_: Literal["fleet.report/v1"] = Field(default="fleet.report/v1", alias="schema")
    run: RunInfo
    summary: Summary
    failures: Failures
    recovered: Recovered = Field(default_factory=Recovered)
    clusters: list[ClusterRecord]
    pairs: list[PairRecord] = Field(default_factory=list)
    waves: list[WaveRecord] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    drift: Drift | None = None
    compliance: Compliance | None = Field(
        default=None, description="Sweeps and plans: each cluster compliant, non_compliant or unknown."
    )
    certificates: list[CertificateExpiry] = Field(
        default_factory=list, description="Sweeps: every certificate a key manager uses, with its expiry."
    )
    change: Change | None = Field(
        default=None, description="Set on a resumed run's report: the whole change, every run of it."
    )
