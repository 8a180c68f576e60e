"""Every outcome word fleet writes, the sets decisions are made on, and the exit-code table: one place.

The words are ``StrEnum`` members, so they are plain strings in JSON, in the journal and when compared
with ``==``; the report model, budgets, resume and the CLI all read them from here, never spell them.
Exit codes are DESIGN.md's table.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class RunKind(StrEnum):
    ROTATE = "rotate"
    SYNC = "sync"
    APPLY = "apply"
    SWEEP = "sweep"
    PLAN = "plan"


class ClusterOutcome(StrEnum):
    """What happened to one cluster."""

    SUCCEEDED = "succeeded"
    ALREADY_CURRENT = "already_current"
    PARTIAL = "partial"  # the change is in place; some nodes kept stale keys or the check failed
    FAILED = "failed"
    SKIPPED = "skipped"  # deliberately not changed (external KM, pre-check refused, nothing to do)
    NOT_STARTED = "not_started"
    INTERRUPTED = "interrupted"  # in flight when the run stopped: `fleet resume` reconciles it
    SPLIT = "split"  # a MetroCluster site that did not get its partner's new passphrase
    REFUSED = "refused"  # fleet would not touch it: the cluster is not the one the inventory names
    UNCONFIRMED = "unconfirmed"  # a change was sent, its answer lost, nothing settled it: --retry-failed
    BUSY = "busy"  # another run holds the cluster's lease: not touched
    PLANNED = "planned"  # --dry-run: would be changed; only reads were sent


class PairOutcome(StrEnum):
    """What happened to a MetroCluster pair as a whole."""

    ROTATED = "rotated"
    SPLIT = "split"  # one site moved, the other did not: the worst outcome, reported as such
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_STARTED = "not_started"
    REFUSED = "refused"  # a site is not the cluster the inventory names: neither was touched
    UNCONFIRMED = "unconfirmed"  # a site's change may or may not be in place (its answer lost)
    PLANNED = "planned"  # --dry-run: would be rotated; only reads were sent


UnitOutcome = ClusterOutcome | PairOutcome
"""A unit's outcome: its single cluster's, or its pair's."""


class RunOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"  # a failure budget tripped
    PAUSED = "paused"  # the change window closed, or the operator declined the next wave
    INTERRUPTED = "interrupted"  # a signal
    COMPLIANT = "compliant"
    NON_COMPLIANT = "non_compliant"


class ComplianceState(StrEnum):
    """A sweep's verdict on one cluster: what a monitoring system may alert on."""

    COMPLIANT = "compliant"
    NON_COMPLIANT = "non_compliant"  # read, and a critical or warning finding
    UNKNOWN = "unknown"  # not read: see ``Unknown`` for why; never counted as non-compliant


class Unknown(StrEnum):
    """Why a cluster's compliance is unknown."""

    NOT_CHECKED = "not_checked"  # the sweep stopped (signal, budget) before it was started
    INTERRUPTED = "interrupted"  # in flight when the sweep stopped
    UNREACHABLE = "unreachable"  # no answer: connection refused, reset, TLS, timeout
    UNREADABLE = "unreadable"  # it answered, but could not be read (authentication, an ONTAP error, not
    # the cluster the inventory names, the cluster deadline)


class StepStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"  # a mutation whose answer was lost: applied or not, nobody knows yet


class ExitCode(IntEnum):
    """DESIGN.md's exit codes."""

    OK = 0
    FAILED = 1  # some units failed (or a sweep found non-compliant clusters)
    INPUT = 2  # bad input, or a resume refused (already resumed, still running): nothing was touched
    ABORTED = 3  # a failure budget tripped
    PAUSED = 4  # the change window closed or the next wave was declined: `fleet resume` continues
    LOCKED = 5  # another sweep holds the lock; this one contacted nothing
    INTERRUPTED = 130  # SIGINT/SIGTERM


#: Unit outcomes that count against a failure budget and make a run ``failed``.
FAILURE: frozenset[str] = frozenset(
    {
        ClusterOutcome.FAILED,
        ClusterOutcome.PARTIAL,
        ClusterOutcome.SPLIT,
        ClusterOutcome.INTERRUPTED,
        ClusterOutcome.REFUSED,
        ClusterOutcome.UNCONFIRMED,
        ClusterOutcome.BUSY,
    }
)
#: Unit outcomes that reset the consecutive-failure count.
SUCCESS: frozenset[str] = frozenset(
    {ClusterOutcome.SUCCEEDED, ClusterOutcome.ALREADY_CURRENT, PairOutcome.ROTATED}
)
#: A unit that ended like this is done: ``fleet resume`` does not run it again.
FINISHED: frozenset[str] = frozenset(
    {ClusterOutcome.SUCCEEDED, ClusterOutcome.ALREADY_CURRENT, ClusterOutcome.SKIPPED, PairOutcome.ROTATED}
)
#: What ``fleet resume --retry-failed`` runs again.
RETRYABLE: frozenset[str] = frozenset(
    {
        ClusterOutcome.FAILED,
        ClusterOutcome.PARTIAL,
        ClusterOutcome.SPLIT,
        ClusterOutcome.REFUSED,
        ClusterOutcome.UNCONFIRMED,
    }
)

#: How a rollout stop shows in the run's outcome and exit code.
HALTED: dict[str, tuple[RunOutcome, ExitCode]] = {
    "budget": (RunOutcome.ABORTED, ExitCode.ABORTED),
    "window": (RunOutcome.PAUSED, ExitCode.PAUSED),
    "declined": (RunOutcome.PAUSED, ExitCode.PAUSED),
    "halt": (RunOutcome.ABORTED, ExitCode.ABORTED),  # e.g. too many clusters refused a passphrase
}
