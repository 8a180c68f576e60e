"""The client over real loopback HTTP against tiny servers: retries, caps, error mapping, secrets."""

from __future__ import annotations

import asyncio
import base64
import socket
import time
import traceback
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from ontap_helpers import NEW, OLD, PASSWORD, Recorder, Serve, client_for, ontap_error

from fleet.errors import OntapError, OntapTimeout, OntapTransportError
from fleet.ontap import HttpPool, ReplyRefused
from fleet.secrets import Secret

KM = "/api/security/key-managers/km-1"
MakePool = Callable[..., Awaitable[HttpPool]]


def answer(
    *replies: Callable[[], web.StreamResponse],
) -> Callable[[web.Request, Recorder], Awaitable[web.StreamResponse]]:
    """A handler answering request N with ``replies[N]`` (the last one repeats)."""

    async def handler(_request: web.Request, recorder: Recorder) -> web.StreamResponse:
        return replies[min(recorder.count() - 1, len(replies) - 1)]()

    return handler


def ok() -> web.StreamResponse:
    return web.json_response({"name": "cl-0001"})


def status(code: int, **headers: str) -> Callable[[], web.StreamResponse]:
    return lambda: web.json_response(
        {"error": {"message": "busy", "code": "262160"}}, status=code, headers=headers
    )


async def reset_connection(request: web.Request, _recorder: Recorder) -> web.StreamResponse:
    """The request arrived, then the connection dies before any answer."""
    assert request.transport is not None
    request.transport.abort()
    await asyncio.sleep(0.05)
    return web.Response()


async def hang(_request: web.Request, _recorder: Recorder) -> web.StreamResponse:
    await asyncio.sleep(30)
    return web.Response()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def rotate(pool: HttpPool, url: str) -> object:
    return await client_for(pool, url).change_passphrase("km-1", existing=Secret(OLD), new=Secret(NEW))


# -- which failures are retried ------------------------------------------------------------------------


@pytest.mark.parametrize("code", [429, 503, 500, 502, 504])
async def test_a_get_is_resent_after_transient_statuses(serve: Serve, pool: HttpPool, code: int) -> None:
    url, recorder = await serve(answer(status(code), status(code), ok))
    assert (await client_for(pool, url).get("/api/cluster"))["name"] == "cl-0001"
    assert recorder.count() == 3


@pytest.mark.parametrize("code", [429, 503])
async def test_a_patch_rejected_with_429_or_503_is_resent(serve: Serve, pool: HttpPool, code: int) -> None:
    url, recorder = await serve(answer(status(code), ok))
    await rotate(pool, url)
    assert recorder.count("PATCH") == 2


@pytest.mark.parametrize("code", [500, 502, 504])
async def test_a_patch_answered_with_a_server_error_is_not_resent(
    serve: Serve, pool: HttpPool, code: int
) -> None:
    url, recorder = await serve(answer(status(code), ok))
    with pytest.raises(OntapError) as caught:
        await rotate(pool, url)
    assert caught.value.http_status == code
    assert recorder.count("PATCH") == 1


async def test_transient_statuses_give_up_after_the_retries(serve: Serve, pool: HttpPool) -> None:
    url, recorder = await serve(answer(status(503)))
    client = client_for(pool, url)
    with pytest.raises(OntapError) as caught:
        await client.get("/api/cluster")
    assert (caught.value.http_status, caught.value.code) == (503, 262160)
    assert recorder.count() == pool.settings.retries + 1
    assert client.retried == {"http_503": pool.settings.retries}  # the last answer was not re-sent


async def test_the_client_counts_what_it_resent_by_cause(serve: Serve, pool: HttpPool) -> None:
    url, _ = await serve(answer(status(429), status(503), ok, status(502), status(503), ok))
    client = client_for(pool, url)
    await client.change_passphrase("km-1", existing=Secret(OLD), new=Secret(NEW))
    await client.get("/api/cluster")
    assert client.retried == {"http_429": 1, "http_503": 2, "http_502": 1}
    assert client.requests_sent == 6


async def test_retry_after_is_waited_for_in_real_time(serve: Serve, make_pool: MakePool) -> None:
    arrivals: list[float] = []

    async def handler(_request: web.Request, recorder: Recorder) -> web.StreamResponse:
        arrivals.append(time.monotonic())
        return status(429, **{"Retry-After": "1"})() if recorder.count() == 1 else ok()

    url, _ = await serve(handler)
    pool = await make_pool(real_sleep=True)
    await rotate(pool, url)
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 0.95


async def test_retry_after_sets_the_wait_instead_of_backoff(
    serve: Serve, pool: HttpPool, sleeps: list[float]
) -> None:
    url, _ = await serve(
        answer(status(429, **{"Retry-After": "3"}), status(503, **{"Retry-After": "999"}), ok)
    )
    await rotate(pool, url)
    jitter = pool.settings.backoff_base * 2  # full jitter of the first two attempts stays below this
    assert sleeps == pytest.approx([3.0, pool.settings.backoff_max], abs=jitter)
    assert sleeps[0] >= 3.0 and sleeps[1] >= pool.settings.backoff_max


async def test_connect_errors_are_retried_for_reads_and_mutations(
    pool: HttpPool, sleeps: list[float]
) -> None:
    client = client_for(pool, f"http://127.0.0.1:{closed_port()}")
    for call in (client.cluster(), client.synchronize("km-1", passphrase=Secret(NEW))):
        with pytest.raises(OntapTransportError) as caught:
            await call
        assert caught.value.sent is False
    assert client.by_method == {"GET": 4, "PATCH": 4}
    assert client.requests_sent == 8
    assert len(sleeps) == 6
    assert client.retried == {"connect": 6}


async def test_a_patch_reset_after_sending_is_not_resent(serve: Serve, pool: HttpPool) -> None:
    url, recorder = await serve(reset_connection)
    with pytest.raises(OntapTransportError) as caught:
        await rotate(pool, url)
    assert caught.value.sent is True
    assert not isinstance(caught.value, OntapTimeout)
    assert recorder.count("PATCH") == 1


async def test_a_patch_that_timed_out_is_not_resent(serve: Serve, make_pool: MakePool) -> None:
    url, recorder = await serve(hang)
    pool = await make_pool(request_timeout=0.2)
    with pytest.raises(OntapTimeout) as caught:
        await rotate(pool, url)
    assert caught.value.sent is True
    assert recorder.count("PATCH") == 1


async def test_a_get_that_was_reset_or_timed_out_is_resent(serve: Serve, make_pool: MakePool) -> None:
    async def handler(request: web.Request, recorder: Recorder) -> web.StreamResponse:
        if recorder.count() == 1:
            return await reset_connection(request, recorder)
        if recorder.count() == 2:
            return await hang(request, recorder)
        return ok()

    url, recorder = await serve(handler)
    pool = await make_pool(request_timeout=0.3)
    assert (await client_for(pool, url).cluster())["name"] == "cl-0001"
    assert recorder.count("GET") == 3


# -- protecting the cluster ------------------------------------------------------------------------------


async def test_no_more_than_two_requests_are_in_flight_per_cluster(serve: Serve, pool: HttpPool) -> None:
    async def slow(_request: web.Request, _recorder: Recorder) -> web.StreamResponse:
        await asyncio.sleep(0.05)
        return ok()

    url, recorder = await serve(slow)
    first, second = client_for(pool, url), client_for(pool, url)  # two clients of one cluster share the cap
    await asyncio.gather(*(c.get("/api/cluster") for c in (first, second) for _ in range(6)))
    assert recorder.count() == 12
    assert recorder.max_inflight == 2


async def test_the_cap_is_per_cluster_not_global(serve: Serve, pool: HttpPool) -> None:
    started: list[float] = []

    async def slow(_request: web.Request, _recorder: Recorder) -> web.StreamResponse:
        started.append(time.monotonic())
        await asyncio.sleep(0.2)
        return ok()

    urls = [(await serve(slow))[0] for _ in range(3)]
    clients = [client_for(pool, url, name=f"cl-{i}") for i, url in enumerate(urls)]
    await asyncio.gather(*(c.get("/api/cluster") for c in clients for _ in range(2)))
    assert max(started) - min(started) < 0.15  # all six ran together: three clusters × two


async def test_the_cluster_deadline_bounds_all_of_a_clusters_work(serve: Serve, make_pool: MakePool) -> None:
    url, _ = await serve(hang)
    pool = await make_pool(cluster_deadline=0.2, request_timeout=10)
    client = client_for(pool, url)
    with pytest.raises(OntapTimeout, match="deadline"):
        async with client.deadline():
            await client.cluster()


async def test_a_request_timeout_inside_the_deadline_passes_through(
    serve: Serve, make_pool: MakePool
) -> None:
    url, _ = await serve(hang)
    pool = await make_pool(cluster_deadline=30, request_timeout=0.2, retries=0)
    client = client_for(pool, url)
    with pytest.raises(OntapTimeout) as caught:
        async with client.deadline():
            await client.cluster()
    assert "deadline" not in str(caught.value)


# -- error mapping ----------------------------------------------------------------------------------------


async def test_wrong_existing_passphrase_is_65536139(serve: Serve, pool: HttpPool) -> None:
    reply = ontap_error(400, 65536139, "Cluster-wide passphrase is incorrect.", "onboard.existing_passphrase")
    url, recorder = await serve(answer(lambda: reply))
    with pytest.raises(OntapError) as caught:
        await rotate(pool, url)
    error = caught.value
    assert (error.http_status, error.code, error.target) == (400, 65536139, "onboard.existing_passphrase")
    assert error.message == "Cluster-wide passphrase is incorrect."
    assert error.cluster == "cl-0001"
    assert recorder.count() == 1


async def test_ontap_error_arguments_are_kept(serve: Serve, pool: HttpPool) -> None:
    body = {
        "error": {
            "message": "Unexpected argument.",
            "code": "262179",
            "arguments": [{"code": "1", "message": "x"}],
        }
    }
    url, _ = await serve(answer(lambda: web.json_response(body, status=400)))
    with pytest.raises(OntapError) as caught:
        await client_for(pool, url).get("/api/cluster")
    assert caught.value.code == 262179 and caught.value.arguments == [{"code": "1", "message": "x"}]


async def test_wrong_credentials_are_401_and_not_retried(serve: Serve, pool: HttpPool) -> None:
    url, recorder = await serve(answer(lambda: web.Response(status=401, text="<html>Unauthorized</html>")))
    with pytest.raises(OntapError) as caught:
        await client_for(pool, url).cluster()
    assert caught.value.http_status == 401 and caught.value.code is None
    assert "username and password" in caught.value.message
    assert recorder.count() == 1


async def test_a_non_json_success_is_a_transport_error(serve: Serve, pool: HttpPool) -> None:
    url, _ = await serve(answer(lambda: web.Response(text="<html>portal</html>", content_type="text/html")))
    with pytest.raises(OntapTransportError, match="not valid JSON"):
        await client_for(pool, url).cluster()


async def test_a_gateway_page_instead_of_an_error_body_says_so(serve: Serve, pool: HttpPool) -> None:
    url, recorder = await serve(answer(lambda: web.Response(status=502, text="<html>Bad gateway</html>")))
    with pytest.raises(OntapError, match="HTTP 502 without an ONTAP error body") as caught:
        await client_for(pool, url).cluster()
    assert caught.value.http_status == 502 and caught.value.code is None
    assert recorder.count() == pool.settings.retries + 1


# -- secrets ------------------------------------------------------------------------------------------------


async def test_secrets_travel_only_in_the_body_and_auth_header(serve: Serve, pool: HttpPool) -> None:
    headers: list[str] = []

    async def handler(request: web.Request, _recorder: Recorder) -> web.StreamResponse:
        headers.append(request.headers["Authorization"])
        return web.json_response({})

    url, recorder = await serve(handler)
    await rotate(pool, url)
    (seen,) = recorder.seen
    assert seen.body and OLD.encode() in seen.body and NEW.encode() in seen.body
    assert seen.query == {"return_timeout": "1"}  # half the 2 s request timeout
    assert headers == ["Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()]


async def test_a_secret_in_the_query_is_refused_before_sending(serve: Serve, pool: HttpPool) -> None:
    url, recorder = await serve(answer(ok))
    with pytest.raises(ValueError, match="never in the URL"):
        await client_for(pool, url).get(KM, {"onboard.passphrase": NEW})
    assert recorder.count() == 0


async def test_no_secret_appears_in_any_exception_text(serve: Serve, make_pool: MakePool) -> None:
    pool = await make_pool(request_timeout=0.2, retries=1)
    failures = [
        answer(lambda: ontap_error(400, 65536139, "Cluster-wide passphrase is incorrect.")),
        answer(lambda: web.Response(status=401)),
        answer(lambda: web.Response(text="not json")),
        reset_connection,
        hang,
    ]
    urls = [(await serve(handler))[0] for handler in failures] + [f"http://127.0.0.1:{closed_port()}"]
    token = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    for url in urls:
        with pytest.raises(OntapError) as caught:
            await rotate(pool, url)
        text = "".join(traceback.format_exception(caught.value)) + repr(caught.value)
        for secret in (OLD, NEW, PASSWORD, token):
            assert secret not in text, f"{url}: a secret leaked into {type(caught.value).__name__}"


async def test_the_client_repr_shows_no_credentials(pool: HttpPool) -> None:
    text = repr(client_for(pool, "https://127.0.0.1:1"))
    assert PASSWORD not in text and "cl-0001" in text


async def test_collections_are_followed_across_pages(serve: Serve, pool: HttpPool) -> None:
    async def pages(request: web.Request, _recorder: Recorder) -> web.StreamResponse:
        if "start.uuid" not in request.query:
            nxt = {"href": "/api/cluster/nodes?start.uuid=n2&fields=name,uuid"}
            return web.json_response({"records": [{"name": "n1"}], "num_records": 1, "_links": {"next": nxt}})
        return web.json_response({"records": [{"name": "n2"}], "num_records": 1})

    url, recorder = await serve(pages)
    assert [n["name"] for n in await client_for(pool, url).nodes()] == ["n1", "n2"]
    assert recorder.seen[1].query == {"start.uuid": "n2", "fields": "name,uuid"}


@pytest.mark.parametrize("loop", ["itself", "forever"])
async def test_paging_that_never_ends_is_an_error_not_a_loop(
    serve: Serve, make_pool: MakePool, loop: str
) -> None:
    """A ``_links.next`` back to a page already read stops at once; an endless chain at the page budget."""

    async def pages(request: web.Request, recorder: Recorder) -> web.StreamResponse:
        page = int(request.query.get("start.page", "0"))
        nxt = 0 if loop == "itself" else page + 1
        href = f"/api/cluster/nodes?start.page={nxt}&fields=name,uuid"
        return web.json_response({"records": [{"name": f"n{page}"}], "_links": {"next": {"href": href}}})

    url, recorder = await serve(pages)
    pool = await make_pool(max_pages=20)
    with pytest.raises(ReplyRefused, match="already fetched" if loop == "itself" else "budget of 20 pages"):
        await client_for(pool, url).nodes()
    assert recorder.count() == (2 if loop == "itself" else 20)  # page 0, then page 0 again: refused


async def test_query_values_and_paths_arrive_exactly_as_given(serve: Serve, pool: HttpPool) -> None:
    """fleet encodes URLs itself (once per path and query): what the cluster decodes must be unchanged."""
    url, recorder = await serve(answer(ok))
    client = client_for(pool, url)
    query = {"name": "cl a&b=c+d/é", "fields": "uuid,status.code", "max_records": 2, "enabled": True}
    await client.get("/api/security/key-managers/some id", query)
    await client.get("/api/security/key-managers/some id", query)  # the cached encoding, again
    first, second = recorder.seen
    expected = {"name": "cl a&b=c+d/é", "fields": "uuid,status.code", "max_records": "2", "enabled": "true"}
    assert first.query == second.query == expected
    assert first.path == second.path == "/api/security/key-managers/some id"
