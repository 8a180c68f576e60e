"""The retry policy as pure logic, driven by a fake ``send`` (no network)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from fleet.errors import OntapTimeout, OntapTransportError
from fleet.ontap import Backoff, OntapTlsError, retry_after
from fleet.ontap.http import RawReply
from fleet.ontap.retry import RetryPolicy, retry_cause, send_with_retries

POLICY = RetryPolicy(retries=3, backoff=Backoff(0.5, 8.0))


ONTAP_BUSY = b'{"error": {"message": "busy", "code": "262160"}}'


def reply(status: int, body: bytes = ONTAP_BUSY, **headers: str) -> RawReply:
    return RawReply(status, CIMultiDictProxy(CIMultiDict(headers)), body)


class FakeSend:
    """Plays a script of replies/exceptions, one per call, and counts the calls."""

    def __init__(self, *script: RawReply | Exception) -> None:
        self.script = list(script)
        self.calls = 0

    async def __call__(self) -> RawReply:
        item = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if isinstance(item, Exception):
            raise item
        return item


async def run(
    send: FakeSend,
    *,
    idempotent: bool,
    sleeps: list[float] | None = None,
    retried: dict[str, int] | None = None,
) -> RawReply:
    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    return await send_with_retries(
        send, idempotent=idempotent, policy=POLICY, sleep=sleep, rng=random.Random(7), retried=retried
    )


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    backoff, rng = Backoff(0.25, 2.0), random.Random(1)
    for attempt, ceiling in [(0, 0.25), (1, 0.5), (2, 1.0), (3, 2.0), (10, 2.0), (500, 2.0)]:
        delays = [backoff.delay(attempt, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # jitter spreads over the whole range


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after({"Retry-After": "7"}) == 7.0
    now = 1_700_000_000.0
    date = format_datetime(datetime.fromtimestamp(now + 30, UTC), usegmt=True)
    assert retry_after({"Retry-After": date}, now=now) == pytest.approx(30.0)
    past = format_datetime(datetime.fromtimestamp(now - 30, UTC), usegmt=True)
    assert retry_after({"Retry-After": past}, now=now) == 0.0
    assert retry_after({}) is None
    assert retry_after({"Retry-After": "soon"}) is None


async def test_429_and_ontaps_own_503_are_resent_even_for_a_mutation() -> None:
    send = FakeSend(reply(429), reply(503), reply(200))
    assert (await run(send, idempotent=False)).status == 200
    assert send.calls == 3


@pytest.mark.parametrize(
    "body", [b"<html><body>503 Service Unavailable</body></html>", b"", b'{"message": "x"}']
)
async def test_a_503_from_a_proxy_is_never_resent_for_a_mutation(body: bytes) -> None:
    """A load balancer's 503 may come after ONTAP applied the change: its outcome is unknown."""
    mutation = FakeSend(reply(503, body), reply(200))
    assert (await run(mutation, idempotent=False)).status == 503
    assert mutation.calls == 1
    read = FakeSend(reply(503, body), reply(200))
    assert (await run(read, idempotent=True)).status == 200


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_server_errors_are_resent_for_reads_only(status: int) -> None:
    read = FakeSend(reply(status), reply(200))
    assert (await run(read, idempotent=True)).status == 200
    assert read.calls == 2
    mutation = FakeSend(reply(status), reply(200))
    assert (await run(mutation, idempotent=False)).status == status
    assert mutation.calls == 1


async def test_retries_run_out_and_the_last_reply_is_returned() -> None:
    send = FakeSend(reply(503))
    assert (await run(send, idempotent=True)).status == 503
    assert send.calls == POLICY.retries + 1


async def test_retry_after_is_honoured_capped_and_jittered() -> None:
    sleeps: list[float] = []
    await run(FakeSend(reply(429, **{"Retry-After": "3"}), reply(503, **{"Retry-After": "3600"}), reply(200)),
              idempotent=False, sleeps=sleeps)  # fmt: skip
    first, second = sleeps
    assert 3.0 <= first <= 3.0 + 0.5  # the header, plus jitter up to the first backoff step
    assert 8.0 <= second <= 8.0 + 1.0  # capped at backoff.cap, plus jitter


async def test_connect_errors_are_resent_for_mutations() -> None:
    send = FakeSend(OntapTransportError("refused", sent=False), reply(200))
    assert (await run(send, idempotent=False)).status == 200
    assert send.calls == 2


@pytest.mark.parametrize(
    "error",
    [OntapTransportError("reset", sent=True), OntapTimeout("slow", sent=True)],
    ids=["reset", "timeout"],
)
async def test_a_mutation_that_may_have_been_processed_is_never_resent(error: Exception) -> None:
    send = FakeSend(error, reply(200))
    with pytest.raises(type(error)) as caught:
        await run(send, idempotent=False)
    assert caught.value.sent is True
    assert send.calls == 1


async def test_a_read_that_was_reset_or_timed_out_is_resent() -> None:
    send = FakeSend(OntapTransportError("reset", sent=True), OntapTimeout("slow", sent=True), reply(200))
    assert (await run(send, idempotent=True)).status == 200
    assert send.calls == 3


async def test_tls_failures_are_never_resent() -> None:
    send = FakeSend(OntapTlsError("bad certificate", sent=False), reply(200))
    with pytest.raises(OntapTlsError):
        await run(send, idempotent=True)
    assert send.calls == 1


async def test_non_transient_errors_come_back_at_once() -> None:
    for status in (400, 401, 403, 404):
        send = FakeSend(reply(status), reply(200))
        assert (await run(send, idempotent=True)).status == status
        assert send.calls == 1


async def test_each_resend_is_counted_by_its_cause_and_the_last_answer_is_not() -> None:
    retried: dict[str, int] = {}
    refused, slow = OntapTransportError("refused", sent=False), OntapTimeout("slow", sent=True)
    script = (refused, slow, reply(429), reply(503))
    assert (await run(FakeSend(*script), idempotent=True, retried=retried)).status == 503  # retries ran out
    assert retried == {"connect": 1, "timeout": 1, "http_429": 1}
    await run(FakeSend(OntapTransportError("reset", sent=True), reply(504), reply(200)), idempotent=True,
              retried=retried)  # fmt: skip
    assert retried == {"connect": 1, "timeout": 1, "http_429": 1, "transport": 1, "http_504": 1}


def test_retry_causes_are_the_reports_stable_names() -> None:
    assert retry_cause(reply(429)) == "http_429"
    assert retry_cause(OntapTimeout("connect timeout", sent=False)) == "connect"  # nothing reached it
    assert retry_cause(OntapTimeout("read timeout", sent=True)) == "timeout"
    assert retry_cause(OntapTransportError("reset", sent=True)) == "transport"
