"""Response limits: the size of one reply, the pages of one collection, where ``_links.next`` may lead."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from ontap_helpers import FAST, NEW, OLD, Recorder, Serve, client_for

from fleet.errors import OntapError, OntapTransportError
from fleet.ontap import HttpPool, HttpSettings, ReplyRefused
from fleet.ontap.limits import DEFAULT_MAX_RESPONSE_BYTES, size_text
from fleet.secrets import Secret

KIB = 1024
MakePool = Callable[..., Awaitable[HttpPool]]


def json_of_size(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    return b'{"pad": "' + b"x" * (size - 11) + b'"}'


def body_of(
    size: int, status: int = 200, *, chunked: bool = False
) -> Callable[[web.Request, Recorder], Awaitable[web.StreamResponse]]:
    """A handler answering a JSON object of ``size`` bytes, with its length declared or sent chunked."""

    async def handler(request: web.Request, _recorder: Recorder) -> web.StreamResponse:
        if not chunked:
            return web.Response(body=json_of_size(size), status=status, content_type="application/json")
        response = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
        await response.prepare(request)
        body = json_of_size(size)
        for start in range(0, size, 10_000):
            await response.write(body[start : start + 10_000])
        await response.write_eof()
        return response

    return handler


async def test_the_default_limit_is_a_few_mib() -> None:
    assert HttpSettings().max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES == 4 * 1024 * KIB
    assert size_text(DEFAULT_MAX_RESPONSE_BYTES) == "4 MiB" and size_text(1000) == "1000 bytes"


async def test_a_limit_below_64_kib_is_refused_early() -> None:
    with pytest.raises(ValueError, match="max_response_bytes"):
        HttpSettings(max_response_bytes=1000)
    with pytest.raises(ValueError, match="max_pages"):
        HttpSettings(max_pages=0)


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
async def test_a_reply_at_the_limit_is_read_and_one_byte_more_is_refused(
    serve: Serve, make_pool: MakePool, chunked: bool
) -> None:
    pool = await make_pool(max_response_bytes=64 * KIB)
    url, _ = await serve(body_of(64 * KIB, chunked=chunked))
    assert len((await client_for(pool, url).get("/api/cluster"))["pad"]) == 64 * KIB - 11
    url, recorder = await serve(body_of(64 * KIB + 1, chunked=chunked))
    expected = "is larger than the 64 KiB" if chunked else "declares 65537 bytes, over the 64 KiB"
    with pytest.raises(ReplyRefused, match=expected):
        await client_for(pool, url).get("/api/cluster")
    assert recorder.count() == 1


async def test_the_limit_is_configurable(serve: Serve, make_pool: MakePool) -> None:
    url, _ = await serve(body_of(5 * 1024 * KIB))
    with pytest.raises(ReplyRefused, match="4 MiB"):
        await client_for(await make_pool(), url).get("/api/cluster")
    roomy = await make_pool(max_response_bytes=6 * 1024 * KIB)
    assert "pad" in await client_for(roomy, url).get("/api/cluster")


@pytest.mark.parametrize(("size", "refused"), [(60 * KIB, False), (5 * 1024 * KIB, True)])
async def test_a_gzip_reply_is_counted_decompressed(
    serve: Serve, make_pool: MakePool, size: int, refused: bool
) -> None:
    """Its declared length is what crossed the wire; the limit applies to what it inflates to."""

    async def gzipped(_request: web.Request, _recorder: Recorder) -> web.StreamResponse:
        body = gzip.compress(json_of_size(size))
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        return web.Response(body=body, headers=headers)

    url, recorder = await serve(gzipped)
    client = client_for(await make_pool(), url)  # the default limit, 4 MiB
    if refused:
        with pytest.raises(ReplyRefused, match="larger than the 4 MiB response limit"):
            await client.get("/api/cluster")
    else:
        assert len((await client.get("/api/cluster"))["pad"]) == size - 11
    assert recorder.count() == 1


async def test_a_declared_length_over_the_limit_is_refused_unread(serve: Serve, pool: HttpPool) -> None:
    """``Content-Length: 1 GiB`` is refused from the headers: fleet does not wait for the body."""

    async def declares_a_gib(request: web.Request, _recorder: Recorder) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 1 << 30
        await response.prepare(request)
        await response.write(b'{"records": [')
        await asyncio.sleep(30)
        return response

    url, recorder = await serve(declares_a_gib)
    started = time.monotonic()
    with pytest.raises(ReplyRefused, match=r"declares 1073741824 bytes.*not read") as caught:
        await client_for(pool, url).get("/api/cluster")
    assert time.monotonic() - started < FAST.request_timeout
    assert caught.value.sent is True and recorder.count() == 1


async def test_an_oversized_error_reply_is_refused_not_retried(serve: Serve, pool: HttpPool) -> None:
    """A 502 is transient for a GET, but not when its body breaks the limit: that is refused at once."""
    url, recorder = await serve(body_of(5 * 1024 * KIB, status=502))
    with pytest.raises(ReplyRefused):
        await client_for(pool, url).get("/api/cluster")
    assert recorder.count() == 1


async def test_an_oversized_answer_to_a_patch_is_an_unknown_outcome_never_resent(
    serve: Serve, pool: HttpPool
) -> None:
    url, recorder = await serve(body_of(5 * 1024 * KIB))
    client = client_for(pool, url)
    with pytest.raises(ReplyRefused) as caught:
        await client.change_passphrase("km-1", existing=Secret(OLD), new=Secret(NEW))
    assert caught.value.sent is True  # the PATCH reached the cluster: re-read and probe, never re-send
    assert recorder.count("PATCH") == 1
    assert OLD not in str(caught.value) and NEW not in str(caught.value)


@pytest.mark.parametrize("status", [200, 400])
async def test_json_nested_too_deep_is_a_clear_error_not_a_crash(
    serve: Serve, pool: HttpPool, status: int
) -> None:
    """``[[[[…`` deeper than Python's stack is a bad reply (RecursionError never escapes)."""

    async def nested(_request: web.Request, _recorder: Recorder) -> web.StreamResponse:
        return web.Response(body=b"[" * 200_000, status=status, content_type="application/json")

    url, _ = await serve(nested)
    expected = "not valid JSON" if status == 200 else "without an ONTAP error body"
    with pytest.raises(OntapError, match=expected):
        await client_for(pool, url).get("/api/cluster")


@pytest.mark.parametrize(
    "href", ["@evil.example/api/cluster/nodes", "https://evil.example/api/cluster/nodes", "//evil/api/x", "x"]
)
async def test_a_next_link_off_the_clusters_api_is_never_followed(
    serve: Serve, pool: HttpPool, href: str
) -> None:
    """The link is joined to the cluster's address: ``@host`` would send the credentials elsewhere."""

    async def elsewhere(_request: web.Request, _recorder: Recorder) -> web.StreamResponse:
        return web.json_response({"records": [{"name": "n1"}], "_links": {"next": {"href": href}}})

    url, recorder = await serve(elsewhere)
    with pytest.raises(ReplyRefused, match=r"not a path under /api/.*not followed"):
        await client_for(pool, url).nodes()
    assert recorder.count() == 1


async def test_the_same_page_asked_with_its_query_reordered_is_still_a_repeat(
    serve: Serve, pool: HttpPool
) -> None:
    async def reordered(_request: web.Request, _recorder: Recorder) -> web.StreamResponse:
        nxt = {"href": "/api/cluster/nodes?fields=name%2Cuuid&start.uuid=n1"}
        return web.json_response({"records": [{"name": "n1"}], "_links": {"next": nxt}})

    url, recorder = await serve(reordered)
    client = client_for(pool, url)
    with pytest.raises(ReplyRefused, match="already fetched"):
        await client._records("/api/cluster/nodes", {"start.uuid": "n1", "fields": "name,uuid"})
    assert recorder.count() == 1


async def test_pages_together_count_against_the_limit(serve: Serve, make_pool: MakePool) -> None:
    """Many pages each under the limit cannot add up to more than one reply may hold."""

    async def pages(request: web.Request, _recorder: Recorder) -> web.StreamResponse:
        page = int(request.query.get("start.page", "0"))
        nxt = {"href": f"/api/cluster/nodes?start.page={page + 1}"}
        return web.json_response({"records": [{"pad": "x" * 20 * KIB}], "_links": {"next": nxt}})

    url, recorder = await serve(pages)
    pool = await make_pool(max_response_bytes=64 * KIB)
    with pytest.raises(ReplyRefused, match="pages together are larger than the 64 KiB"):
        await client_for(pool, url).nodes()
    assert recorder.count() == 4  # 3 x 20 KiB fit, the 4th page passes 64 KiB


async def test_a_refused_reply_is_a_transport_error_for_callers(serve: Serve, make_pool: MakePool) -> None:
    """Callers that handle 'no usable answer' handle this too; its class says why."""
    pool = await make_pool(max_response_bytes=64 * KIB)
    url, _ = await serve(body_of(65 * KIB))
    with pytest.raises(OntapTransportError) as caught:
        await client_for(pool, url).get("/api/cluster")
    assert isinstance(caught.value, ReplyRefused) and caught.value.cluster == "cl-0001"
