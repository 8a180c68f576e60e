"""Which failures are sent again, and after how long.

Only transient failures are retried, and a mutation only when ONTAP certainly did not process it:
the connection was never made, ONTAP answered 429, or ONTAP itself answered 503 (its own error
body: it rejects those before processing). A 503 without ONTAP's error body came from something in
between (a proxy or load balancer) that may have passed the request on: like a timeout or a reset
after sending, its outcome is unknown, and re-sending a passphrase change blindly could lock a
Common Criteria cluster, so it is raised to the caller instead.
``send_with_retries`` takes the one-exchange ``send`` as a seam so tests drive it with a tiny fake.

Each re-send is counted by its cause (``retry_cause``) in the caller's ``retried`` mapping, so the
report can say what the logs say: a night of 503s that fleet rode out is not "nothing happened".
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import structlog

from fleet.errors import OntapTimeout, OntapTransportError
from fleet.ontap.http import OntapTlsError, RawReply, Sleep
from fleet.ontap.limits import ReplyRefused

log = structlog.get_logger(__name__)

REJECTED_BEFORE_PROCESSING = frozenset({429, 503})  # safe to re-send, even a mutation, if ONTAP said it
TRANSIENT_FOR_READS = frozenset({500, 502, 504})  # a GET changes nothing: re-send freely


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: spreads retries of thousands of clusters apart."""

    base: float
    cap: float

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt + 1`` (attempt counts from 0)."""
        return rng.uniform(0.0, min(self.cap, self.base * 2 ** min(attempt, 32)))


def retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or HTTP-date), None when absent or bad."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT; be lenient with a missing zone
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def from_ontap(reply: RawReply) -> bool:
    """Is the body ONTAP's own error object (``{"error": {"code": "…", …}}``), not a proxy's page?"""
    try:
        body = json.loads(reply.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and isinstance(error.get("code"), str)


def retry_cause(failure: RawReply | OntapTransportError) -> str:
    """The stable name of why a request was re-sent, as the report's ``retries`` spell it.

    ``http_<status>`` for a reply (429, 503; 500, 502, 504 only for reads); ``connect`` when the
    request never left (no connection: nothing reached the cluster); for a read whose answer was
    lost after it was sent, ``timeout`` or ``transport``. The same words as the failure keys.
    """
    if isinstance(failure, RawReply):
        return f"http_{failure.status}"
    if not failure.sent:
        return "connect"
    return "timeout" if isinstance(failure, OntapTimeout) else "transport"


def _count(retried: MutableMapping[str, int] | None, failure: RawReply | OntapTransportError) -> str:
    """Count one re-send by its cause; a dict increment, on the (rare) retry path only."""
    cause = retry_cause(failure)
    if retried is not None:
        retried[cause] = retried.get(cause, 0) + 1
    return cause


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int
    backoff: Backoff

    def should_resend(self, reply: RawReply, *, idempotent: bool) -> bool:
        """Whether this reply is transient for this kind of request."""
        if idempotent:
            return reply.status in REJECTED_BEFORE_PROCESSING or reply.status in TRANSIENT_FOR_READS
        if reply.status == 429:
            return True
        return reply.status == 503 and from_ontap(reply)

    def wait(self, reply: RawReply, attempt: int, rng: random.Random) -> float:
        """``Retry-After`` (capped: a cluster must not park a worker forever) plus jitter, else back off.

        The jitter matters: requests refused together with the same ``Retry-After`` would otherwise
        all come back at the same instant and be refused together again.
        """
        asked = retry_after(reply.headers)
        jitter = self.backoff.delay(attempt, rng)
        return jitter if asked is None else min(asked, self.backoff.cap) + jitter


async def send_with_retries(
    send: Callable[[], Awaitable[RawReply]],
    *,
    idempotent: bool,
    policy: RetryPolicy,
    sleep: Sleep,
    rng: random.Random,
    what: str = "",
    cluster: str | None = None,
    retried: MutableMapping[str, int] | None = None,
) -> RawReply:
    """Send until a non-transient reply or the retries are used up; the last reply is returned as is.

    Each retry is logged (``ontap_retry``, at info) with ``what`` was sent and to which ``cluster``,
    and counted in ``retried`` by its cause (``retry_cause``): a reply that is returned or an error
    that is raised is not a retry, only the ones sent again are.

    Raises the transport error when it is not retryable: TLS trust failures, a reply refused for
    its size (the cluster would send it again), anything after the request was sent when not
    ``idempotent``, and the last error once retries run out.
    """
    named = {"cluster": cluster} if cluster else {}  # else the log context's cluster, if any
    attempt = 0
    while True:
        try:
            reply = await send()
        except (OntapTlsError, ReplyRefused):
            raise
        except OntapTransportError as exc:
            if attempt >= policy.retries or (exc.sent and not idempotent):
                raise
            delay = policy.backoff.delay(attempt, rng)
            log.info(
                "ontap_retry",
                **named,
                request=what,
                cause=_count(retried, exc),
                reason=type(exc).__name__,
                attempt=attempt + 1,
                delay=round(delay, 3),
            )
        else:
            if attempt >= policy.retries or not policy.should_resend(reply, idempotent=idempotent):
                return reply
            delay = policy.wait(reply, attempt, rng)
            log.info(
                "ontap_retry",
                **named,
                request=what,
                cause=_count(retried, reply),
                http_status=reply.status,
                attempt=attempt + 1,
                delay=round(delay, 3),
            )
        await sleep(delay)
        attempt += 1
