"""Job polling: pure logic with a fake fetch, then every reply shape over loopback HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from ontap_helpers import NEW, OLD, Recorder, Serve, client_for

from fleet.errors import OntapError, OntapTimeout, OntapTransportError
from fleet.ontap import HttpPool, JobGone
from fleet.ontap.jobs import JobPolling, job_uuid_of, wait_for_job
from fleet.secrets import Secret

KM = "/api/security/key-managers/km-1"
JOB_UUID = "94b6e6a7-d426-11eb-a3d5-005056bb5b84"
JOB_LINK = {"job": {"uuid": JOB_UUID, "_links": {"self": {"href": f"/api/cluster/jobs/{JOB_UUID}"}}}}


def fake_fetch(*states: dict[str, Any] | None) -> tuple[Callable[[str], Awaitable[Any]], list[str]]:
    calls: list[str] = []

    async def fetch(uuid: str) -> dict[str, Any] | None:
        calls.append(uuid)
        return states[min(len(calls) - 1, len(states) - 1)]

    return fetch, calls


async def no_sleep(_seconds: float) -> None:
    return None


def test_the_job_uuid_comes_from_the_uuid_or_the_link() -> None:
    assert job_uuid_of(JOB_LINK) == JOB_UUID
    assert job_uuid_of({"job": {"_links": {"self": {"href": f"/api/cluster/jobs/{JOB_UUID}"}}}}) == JOB_UUID
    assert job_uuid_of({"records": []}) is None


async def test_polling_backs_off_from_initial_to_max() -> None:
    fetch, calls = fake_fetch(*[{"state": "running"}] * 6, {"state": "success"})
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    job = await wait_for_job("j", fetch=fetch, polling=JobPolling(0.2, 1.0, 300.0), sleep=sleep)
    assert job["state"] == "success"
    assert len(calls) == 7
    assert slept == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("state", ["failure", "cancelled", "expired"])
async def test_a_job_that_ends_badly_raises_with_its_code(state: str) -> None:
    fetch, _ = fake_fetch(
        {"state": "running"}, {"state": state, "error": {"code": "65536407", "message": "x"}}
    )
    with pytest.raises(OntapError) as caught:
        await wait_for_job("j", fetch=fetch, polling=JobPolling(0.1, 1, 300), sleep=no_sleep, cluster="c1")
    assert caught.value.code == 65536407
    assert caught.value.cluster == "c1"


async def test_a_job_that_never_ends_times_out_with_an_unknown_outcome() -> None:
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    fetch, _ = fake_fetch({"state": "running"})
    with pytest.raises(OntapTimeout) as caught:
        await wait_for_job("j", fetch=fetch, polling=JobPolling(1, 5, 30), sleep=sleep, clock=lambda: now[0])
    assert caught.value.sent is True
    assert now[0] == pytest.approx(30.0)


def job_server(*states: str | None) -> Callable[[web.Request, Recorder], Awaitable[web.StreamResponse]]:
    """PATCH answers 202 + job; the job GETs walk through ``states`` (None = 404)."""

    async def handler(request: web.Request, recorder: Recorder) -> web.StreamResponse:
        if request.method == "PATCH":
            return web.json_response(JOB_LINK, status=202)
        state = states[min(recorder.count("GET") - 1, len(states) - 1)]
        if state is None:
            return web.json_response({"error": {"message": "entry doesn't exist", "code": "4"}}, status=404)
        body: dict[str, Any] = {"uuid": JOB_UUID, "state": state}
        if state == "failure":
            body |= {"message": "The passphrase update failed on some nodes.", "code": 65536407}
        return web.json_response(body)

    return handler


async def rotate(pool: HttpPool, base_url: str) -> Any:
    return await client_for(pool, base_url).change_passphrase("km-1", existing=Secret(OLD), new=Secret(NEW))


async def test_200_with_a_body_is_done(serve: Serve, pool: HttpPool) -> None:
    async def handler(_request: web.Request, _rec: Recorder) -> web.StreamResponse:
        return web.json_response({"num_records": 1})

    url, recorder = await serve(handler)
    reply = await rotate(pool, url)
    assert (reply.status, reply.body, reply.job) == (200, {"num_records": 1}, None)
    assert recorder.count() == 1


async def test_200_with_an_empty_body_is_done(serve: Serve, pool: HttpPool) -> None:
    async def handler(_request: web.Request, _rec: Recorder) -> web.StreamResponse:
        return web.Response(status=200)

    url, _ = await serve(handler)
    assert (await rotate(pool, url)).body == {}


async def test_200_with_a_job_is_polled_to_its_end(serve: Serve, pool: HttpPool) -> None:
    async def handler(request: web.Request, _rec: Recorder) -> web.StreamResponse:
        if request.method == "PATCH":
            return web.json_response(JOB_LINK)
        return web.json_response({"uuid": JOB_UUID, "state": "success"})

    url, recorder = await serve(handler)
    reply = await rotate(pool, url)
    assert reply.status == 200 and reply.job is not None and reply.job["state"] == "success"
    assert [s.path for s in recorder.seen] == [KM, f"/api/cluster/jobs/{JOB_UUID}"]


async def test_202_with_a_job_is_polled_until_success(serve: Serve, pool: HttpPool) -> None:
    url, recorder = await serve(job_server("queued", "running", "running", "success"))
    reply = await rotate(pool, url)
    assert reply.status == 202 and reply.job is not None and reply.job["state"] == "success"
    assert recorder.count("PATCH") == 1 and recorder.count("GET") == 4


async def test_a_failed_job_raises_the_jobs_ontap_code(serve: Serve, pool: HttpPool) -> None:
    url, recorder = await serve(job_server("running", "failure"))
    with pytest.raises(OntapError) as caught:
        await rotate(pool, url)
    assert caught.value.code == 65536407
    assert caught.value.message == "The passphrase update failed on some nodes."
    assert recorder.count("PATCH") == 1


@pytest.mark.parametrize("states", [(None,), ("running", None)], ids=["gone-at-once", "gone-after-running"])
async def test_a_job_that_disappears_is_gone_not_failed(serve: Serve, pool: HttpPool, states: tuple) -> None:
    url, recorder = await serve(job_server(*states))
    with pytest.raises(JobGone) as caught:
        await rotate(pool, url)
    assert caught.value.sent is True and caught.value.job_uuid == JOB_UUID
    assert recorder.count("PATCH") == 1


async def test_job_polls_retry_transient_errors(serve: Serve, pool: HttpPool) -> None:
    async def handler(request: web.Request, recorder: Recorder) -> web.StreamResponse:
        if request.method == "PATCH":
            return web.json_response(JOB_LINK, status=202)
        if recorder.count("GET") == 1:
            return web.Response(status=502, text="<html>bad gateway</html>")
        return web.json_response({"uuid": JOB_UUID, "state": "success"})

    url, recorder = await serve(handler)
    assert (await rotate(pool, url)).job is not None
    assert recorder.count("GET") == 2 and recorder.count("PATCH") == 1


async def test_202_without_a_job_is_an_unknown_outcome(serve: Serve, pool: HttpPool) -> None:
    async def handler(_request: web.Request, _rec: Recorder) -> web.StreamResponse:
        return web.json_response({}, status=202)

    url, _ = await serve(handler)
    with pytest.raises(OntapTransportError) as caught:
        await rotate(pool, url)
    assert caught.value.sent is True
