"""A hostile HTTPS "cluster" on loopback: endless bodies, a gzip bomb, a ``_links.next`` to itself.

The client runs in a child process so its peak memory is its own, not pytest's: it is read from the
child's ``VmHWM`` (Linux keeps ``ru_maxrss`` across fork and exec, so that would be pytest's RSS at
the fork, which passes the limit on its own late in a full run). The hostile server runs here and
counts what it is asked. The bodies are generated in chunks as they are sent: the test never holds
them either.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import zlib
from pathlib import Path

import pytest
from aiohttp import web
from ontap_helpers import Recorder, Serve, client_for

from fleet.errors import OntapTransportError
from fleet.ontap import HttpPool
from fleet.sim.tls import TlsFiles, ensure_tls_files, server_ssl_context

MIB = 1024 * 1024
BIG_BODY = 512 * MIB
BOMB = 256 * MIB  # decompressed; about 250 KB on the wire
PEAK_LIMIT_MIB = 200
ISSUE_GETS = 405_195  # what a self-pointing next cost before fleet bounded paging (issue 16)

# The client under test, in its own process; prints what happened and its own peak RSS. The address
# space is capped at 2 GiB so a regression fails this test instead of eating the machine.
CHILD = r"""
import asyncio, json, resource, sys
from pathlib import Path

resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

from fleet.ontap import HttpSettings, OntapClient, open_http
from fleet.secrets import Secret


async def main(url: str, ca: str, path: str) -> None:
    settings = HttpSettings(retries=3, backoff_base=0.001, request_timeout=120.0)
    error = message = None
    sent = None
    async with open_http(settings) as pool:
        client = OntapClient(
            pool, name="cl-0001", base_url=url, username="admin",
            password=Secret("adm1n-Pa55word-for-tests"), ca_file=Path(ca),
        )
        try:
            await client.get(path)
        except Exception as exc:
            error, message, sent = type(exc).__name__, str(exc), getattr(exc, "sent", None)
    try:  # this process's own high-water mark; ru_maxrss would include the parent's RSS at the fork
        status = Path("/proc/self/status").read_text()
        peak_mib = int(status.split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"error": error, "message": message, "sent": sent, "peak_mib": peak_mib}))


asyncio.run(main(*sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def sim_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TlsFiles]:
    directory = tmp_path_factory.mktemp("hostile-tls")
    return directory, ensure_tls_files(directory)


@pytest.fixture(scope="module")
def gzip_bomb() -> list[bytes]:
    """256 MiB of zeros, gzip-compressed one MiB at a time (never held uncompressed): ~250 KB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    zeros = bytes(MIB)
    parts = [compressor.compress(zeros) for _ in range(BOMB // MIB)]
    parts.append(compressor.flush())
    return [part for part in parts if part]


async def stream(request: web.Request, chunks: object, headers: dict[str, str]) -> web.StreamResponse:
    """Send ``chunks`` as a chunked body; a client that hangs up early ends it quietly."""
    response = web.StreamResponse(headers={"Content-Type": "application/json", **headers})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        for chunk in chunks:  # type: ignore[attr-defined]
            await response.write(chunk)
        await response.write_eof()
    return response


async def endless_body(request: web.Request, _recorder: Recorder) -> web.StreamResponse:
    zeros = bytes(MIB)
    return await stream(request, (zeros for _ in range(BIG_BODY // MIB)), {})


def bomb_handler(parts: list[bytes]) -> object:
    async def handler(request: web.Request, _recorder: Recorder) -> web.StreamResponse:
        return await stream(request, iter(parts), {"Content-Encoding": "gzip"})

    return handler


async def run_child(url: str, ca: Path, path: str) -> dict[str, object]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, url, str(ca), path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=240)
    assert process.returncode == 0, err.decode()[-2000:]
    result: dict[str, object] = json.loads(out.decode().strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("hostile", ["512 MiB body", "256 MiB gzip bomb"])
async def test_a_huge_or_bombed_reply_fails_at_the_limit_in_bounded_memory(
    serve: Serve, sim_tls: tuple[Path, TlsFiles], gzip_bomb: list[bytes], hostile: str
) -> None:
    """Reading stops at the response limit (decompressed bytes counted): memory stays small, no retry."""
    handler = endless_body if hostile == "512 MiB body" else bomb_handler(gzip_bomb)
    url, recorder = await serve(handler, ssl_context=server_ssl_context(sim_tls[0]))
    result = await run_child(url, sim_tls[1].ca, "/api/cluster")
    assert result["error"] == "ReplyRefused", result
    message = str(result["message"])
    assert "GET /api/cluster" in message and "response limit" in message and "MiB" in message
    assert result["sent"] is True  # it reached the cluster: a mutation's outcome would be unknown
    assert float(result["peak_mib"]) < PEAK_LIMIT_MIB, result  # type: ignore[arg-type]
    assert recorder.count() == 1  # refused, not retried as if transient


async def test_a_next_link_to_itself_stops_at_the_first_repeat(
    serve: Serve, pool: HttpPool, sim_tls: tuple[Path, TlsFiles]
) -> None:
    """A ``_links.next`` naming the page just read is refused at once: one GET, not 405,195."""

    async def to_itself(request: web.Request, _recorder: Recorder) -> web.StreamResponse:
        body = {"records": [{"name": "n1"}], "num_records": 1, "_links": {"next": {"href": request.path_qs}}}
        return web.json_response(body)

    url, recorder = await serve(to_itself, ssl_context=server_ssl_context(sim_tls[0]))
    client = client_for(pool, url, ca_file=sim_tls[1].ca)
    with pytest.raises(OntapTransportError, match="already fetched") as caught:
        await client.nodes()
    assert type(caught.value).__name__ == "ReplyRefused" and caught.value.sent is True
    assert "GET /api/cluster/nodes" in str(caught.value)
    assert recorder.count() == 1 and recorder.count() < ISSUE_GETS
