"""Following ONTAP jobs to the end: a mutation is done only when its job is.

ONTAP answers a slow POST/PATCH/DELETE with 202 + ``{"job": {...}}`` (or 200 + job when
``return_timeout`` ran out with the job still tracked); ``/api/cluster/jobs/{uuid}`` then reports
``queued | running | paused | success | failure`` (clients also see ``cancelled``/``expired``). ONTAP
deletes a job 300 s after it ends, so a 404 does not say how the job finished: that is ``JobGone``,
an unknown outcome the engine must verify by reading state, never by re-sending.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fleet.errors import OntapError, OntapTimeout, OntapTransportError
from fleet.ontap.http import Sleep

JobRecord = dict[str, Any]
FetchJob = Callable[[str], Awaitable[JobRecord | None]]  # None: the job answered 404

SUCCEEDED = "success"
FAILED = frozenset({"failure", "error", "cancelled", "expired"})  # "error": older docs' wording
JOB_FIELDS = "uuid,state,message,code,error,description,start_time,end_time"


class JobGone(OntapTransportError):
    """The job vanished (404) before fleet saw it end: the change may or may not have been applied."""

    def __init__(self, message: str, *, job_uuid: str, cluster: str | None = None) -> None:
        self.job_uuid = job_uuid
        super().__init__(message, sent=True, cluster=cluster)


@dataclass(frozen=True, slots=True)
class JobPolling:
    """Poll quickly at first (most jobs end in a second), then back off to ``maximum`` seconds."""

    initial: float
    maximum: float
    timeout: float


def job_uuid_of(body: Mapping[str, Any]) -> str | None:
    """The job's uuid from a mutation reply body, from ``job.uuid`` or its ``_links.self.href``."""
    job = body.get("job")
    if not isinstance(job, Mapping):
        return None
    uuid = job.get("uuid")
    if isinstance(uuid, str) and uuid:
        return uuid
    href = job.get("_links", {}).get("self", {}).get("href")
    if isinstance(href, str) and href.rstrip("/"):
        return href.rstrip("/").rsplit("/", 1)[-1]
    return None


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def job_failure(job: Mapping[str, Any], *, cluster: str | None) -> OntapError:
    """The OntapError for a job that ended badly, with ONTAP's code and message when it gave them."""
    found = job.get("error")
    error: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    state = job.get("state")
    message = error.get("message") or job.get("message") or f"the job ended in state {state!r}"
    return OntapError(
        str(message),
        code=_as_int(error.get("code", job.get("code"))),
        target=error.get("target"),
        arguments=error.get("arguments") if isinstance(error.get("arguments"), list) else None,
        cluster=cluster,
    )


async def wait_for_job(
    uuid: str,
    *,
    fetch: FetchJob,
    polling: JobPolling,
    sleep: Sleep,
    clock: Callable[[], float] = time.monotonic,
    cluster: str | None = None,
) -> JobRecord:
    """Poll the job until it ends; return it on success, raise OntapError / JobGone / OntapTimeout."""
    deadline = clock() + polling.timeout
    delay = polling.initial
    seen = False
    while True:
        job = await fetch(uuid)
        if job is None:
            when = "after it was seen running" if seen else "before fleet saw it"
            raise JobGone(
                f"job {uuid} disappeared (404) {when}; its outcome is unknown: read the state again",
                job_uuid=uuid,
                cluster=cluster,
            )
        seen = True
        state = job.get("state")
        if state == SUCCEEDED:
            return job
        if state in FAILED:
            raise job_failure(job, cluster=cluster)
        remaining = deadline - clock()
        if remaining <= 0:
            raise OntapTimeout(
                f"job {uuid} still {state} after {polling.timeout:g} s; its outcome is unknown",
                sent=True,
                cluster=cluster,
            )
        await sleep(min(delay, remaining))
        delay = min(polling.maximum, max(delay * 2, 0.01))
