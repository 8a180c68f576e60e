"""Turns what happens to one cluster into its report row, step by step, as it happens."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fleet.errors import FleetError, InputError, OntapError, OntapTimeout, OntapTransportError
from fleet.inventory import Cluster
from fleet.journal import JournalError
from fleet.ontap import ReplyRefused, WouldSend
from fleet.outcomes import ClusterOutcome, StepStatus
from fleet.report import ClusterRecord, ErrorInfo, NodeRecord, StepRecord
from fleet.report.model import ErrorKind
from fleet.secrets.store import SecretStoreError


def refusal(key: str, message: str) -> ErrorInfo:
    """An expected safety refusal: fleet would not act, on purpose (the report's ``refused`` kind)."""
    return ErrorInfo(code=None, message=message, kind="refused", key=key)


def error_info(exc: BaseException) -> ErrorInfo:
    """The report's view of an error: ONTAP's code and message, what went wrong on the wire, a safety
    rule fleet keeps (``refused``), fleet's own journal or store (``local``); ``internal`` is a bug."""
    if isinstance(exc, OntapTimeout):
        return ErrorInfo(code=None, message=str(exc), kind="timeout")
    if isinstance(exc, OntapTransportError):
        return ErrorInfo(code=None, message=str(exc), kind="transport")
    if isinstance(exc, OntapError):
        kind: ErrorKind = "auth" if exc.http_status == 401 else "ontap"
        return ErrorInfo(
            code=exc.code, message=exc.message, target=exc.target, http_status=exc.http_status, kind=kind
        )
    if isinstance(exc, FleetError) and exc.refusal:
        return refusal(exc.refusal, str(exc))
    if isinstance(exc, SecretStoreError):
        return ErrorInfo(code=None, message=str(exc), kind="local", key="secret_store")
    if isinstance(exc, JournalError):
        return ErrorInfo(code=None, message=str(exc), kind="local", key="journal")
    if isinstance(exc, InputError):
        return ErrorInfo(code=None, message=str(exc), kind="input")
    if isinstance(exc, TimeoutError):  # the cluster deadline (asyncio.timeout) cancelled the work
        return ErrorInfo(code=None, message="the cluster deadline passed", kind="timeout", key="deadline")
    return ErrorInfo(code=None, message=f"{type(exc).__name__}: {exc}", kind="internal")


def failure_reason(exc: OntapError) -> str:
    """A one-line reason for the report from an error that ended a cluster's work."""
    if isinstance(exc, ReplyRefused):
        return f"the cluster's answer broke a response limit: {exc.message}"
    if isinstance(exc, OntapTransportError):
        return f"no usable answer from the cluster: {exc.message}"
    if exc.http_status == 401:
        return "authentication failed (HTTP 401): check the inventory's username and password"
    return exc.message if exc.code is None else f"{exc.message} (ONTAP code {exc.code})"


@dataclass(slots=True)
class StepHandle:
    """What a step may add while it runs: a short detail, or the HTTP status it ended with."""

    detail: str | None = None
    http_status: int | None = None
    status: StepStatus = StepStatus.OK


@dataclass(slots=True)
class ClusterRecorder:
    cluster: Cluster
    steps: list[StepRecord] = field(default_factory=list)
    nodes: list[NodeRecord] = field(default_factory=list)
    ontap_version: str | None = None
    key_backup_sha256: str | None = None
    passphrase_fingerprint: str | None = None
    previous_passphrase_fingerprint: str | None = None  # set only when this change replaced it
    remediated: bool = False
    wave: int | None = None
    uuid: str | None = None  # what the cluster said it is (the journal's identity key)

    @asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[StepHandle]:
        """Time a step; an exception is recorded as the step's error and re-raised."""
        handle = StepHandle()
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        try:
            yield handle
        except OntapError as exc:
            self._add(name, StepStatus.FAILED, started_at, started, handle, error_info(exc), exc.http_status)
            raise
        except WouldSend as would:  # a dry run stops here: nothing was sent, nothing failed
            handle.detail = f"dry run: {would}"
            self._add(name, StepStatus.SKIPPED, started_at, started, handle, None, None)
            raise
        except Exception as exc:
            self._add(name, StepStatus.FAILED, started_at, started, handle, error_info(exc), None)
            raise
        self._add(name, handle.status, started_at, started, handle, None, handle.http_status)

    def note(
        self, name: str, status: StepStatus, detail: str | None = None, error: ErrorInfo | None = None
    ) -> None:
        """Record a step that sends nothing (a decision, a skip)."""
        now = datetime.now(UTC)
        self.steps.append(
            StepRecord(name=name, status=status, started_at=now, duration_ms=0, detail=detail, error=error)
        )

    def reread_failed(self, exc: FleetError) -> str:
        """Record that the read after a lost answer failed; return why, for the cluster's reason."""
        why = failure_reason(exc) if isinstance(exc, OntapError) else str(exc)
        self.note("reread", StepStatus.FAILED, f"the re-read failed ({why})", error=error_info(exc))
        return why

    def _add(
        self,
        name: str,
        status: StepStatus,
        started_at: datetime,
        started: float,
        handle: StepHandle,
        error: ErrorInfo | None,
        http_status: int | None,
    ) -> None:
        self.steps.append(
            StepRecord(
                name=name,
                status=status,
                started_at=started_at,
                duration_ms=int((time.perf_counter() - started) * 1000),
                http_status=http_status,
                error=error,
                detail=handle.detail,
            )
        )

    def finish(
        self, outcome: ClusterOutcome, reason: str | None, *, partner: str | None = None, requests: int = 0
    ) -> ClusterRecord:
        return ClusterRecord(
            name=self.cluster.name,
            address=self.cluster.address,
            outcome=outcome,
            reason=reason,
            uuid=self.uuid,
            ontap_version=self.ontap_version,
            partner=partner if partner is not None else self.cluster.metrocluster_partner,
            steps=self.steps,
            nodes=self.nodes,
            key_backup_sha256=self.key_backup_sha256,
            passphrase_fingerprint=self.passphrase_fingerprint,
            previous_passphrase_fingerprint=self.previous_passphrase_fingerprint,
            remediated=self.remediated,
            requests=requests,
            wave=self.wave,
        )
