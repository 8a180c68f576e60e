"""The one error tree of fleet: every error it raises on purpose, and where each lives.

    FleetError
    ├── InputError              bad CLI, inventory, policy or secret input (exit 2, nothing touched)
    ├── JournalError            fleet.journal: the journal is unusable (locked, damaged, wrong key)
    │   ├── AlreadyResumed      fleet.journal: another `fleet resume` of the same run got there first
    │   └── RunStillRunning     fleet.journal: `fleet resume` of a run its live process still holds
    ├── SecretStoreError        fleet.secrets.store: a store could not read, write or keep a passphrase
    ├── ActionRefused           fleet.engine.steps.policy: an action apply will not send (no passphrase)
    ├── NotThatCluster          fleet.engine.steps.observe: the address answers as another cluster
    └── OntapError              ONTAP answered with an error body (http_status, code, message, target)
        └── OntapTransportError     no usable answer: connect error, reset, bad JSON
            ├── OntapTimeout            no answer in time (also a TimeoutError)
            ├── OntapTlsError           fleet.ontap.http: the certificate was refused; nothing was sent
            ├── ReplyRefused            fleet.ontap.limits: the answer broke a response limit (size, paging)
            └── JobGone                 fleet.ontap.jobs: ONTAP forgot a job before it was seen to end

``FleetError.refusal`` names the safety rule of an error that is fleet refusing on purpose (the report's
``refused`` kind and failures key, with its own next step), so it is never taken for a fleet bug.

Outside the tree, on purpose: ``SweepLocked`` (the CLI's "another sweep holds the lock", exit 5)
and the simulator's ``Refused`` (ONTAP's refusal inside the simulator, never seen by fleet).

``OntapTransportError.sent`` matters for mutations: when it is True the outcome is unknown and the
request must never be re-sent blindly (ONTAP never returns the passphrase; re-read and probe).
Messages never carry secret values: callers pass through the scrubber before anything is shown.
"""

from __future__ import annotations

from typing import Any


class FleetError(Exception):
    """Base of every error fleet raises on purpose."""

    #: The safety rule this error is, when it is an expected refusal (e.g. ``"not_that_cluster"``).
    refusal: str | None = None


class InputError(FleetError):
    """Bad input caught before any cluster is contacted; names the file and the field."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None) -> None:
        self.file = file
        self.field = field
        where = ", ".join(part for part in (file, f"field {field}" if field else None) if part)
        super().__init__(f"{where}: {message}" if where else message)


class OntapError(FleetError):
    """An ONTAP REST error: the HTTP status and ONTAP's error object (``code`` as an int)."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: int | None = None,
        target: str | None = None,
        arguments: list[dict[str, Any]] | None = None,
        cluster: str | None = None,
    ) -> None:
        self.message = message
        self.http_status = http_status
        self.code = code
        self.target = target
        self.arguments = arguments or []
        self.cluster = cluster
        prefix = f"{cluster}: " if cluster else ""
        detail = f" (ONTAP code {code})" if code is not None else ""
        status = f"HTTP {http_status}: " if http_status is not None else ""
        super().__init__(f"{prefix}{status}{message}{detail}")


class OntapTransportError(OntapError):
    """No usable answer from the cluster. ``sent`` is True when the request may have been received."""

    def __init__(self, message: str, *, sent: bool, cluster: str | None = None) -> None:
        self.sent = sent
        super().__init__(message, cluster=cluster)


class OntapTimeout(OntapTransportError, TimeoutError):
    """No answer within the request timeout or the cluster deadline."""
