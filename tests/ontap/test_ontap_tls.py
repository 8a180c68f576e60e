"""TLS: verified by default against the inventory's CA file; --insecure works but is loud."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from ontap_helpers import Recorder, Serve, client_for
from structlog.testing import capture_logs

from fleet.ontap import HttpPool, OntapTlsError
from fleet.sim.tls import TlsFiles, ensure_tls_files, server_ssl_context


@pytest.fixture(scope="module")
def sim_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TlsFiles]:
    directory = tmp_path_factory.mktemp("sim-tls")
    return directory, ensure_tls_files(directory)


@pytest.fixture(scope="module")
def stranger_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that did not sign the server's certificate."""
    return ensure_tls_files(tmp_path_factory.mktemp("other-tls")).ca


async def hello(_request: web.Request, _recorder: Recorder) -> web.StreamResponse:
    return web.json_response({"name": "cl-0001"})


@pytest.fixture
async def https(serve: Serve, sim_tls: tuple[Path, TlsFiles]) -> tuple[str, Recorder]:
    return await serve(hello, ssl_context=server_ssl_context(sim_tls[0]))


async def test_the_right_ca_file_verifies_the_cluster(
    https: tuple[str, Recorder], pool: HttpPool, sim_tls: tuple[Path, TlsFiles]
) -> None:
    url, _ = https
    assert (await client_for(pool, url, ca_file=sim_tls[1].ca).cluster())["name"] == "cl-0001"


@pytest.mark.parametrize("which", ["stranger", "system"])
async def test_an_unknown_ca_fails_at_once_and_is_not_retried(
    https: tuple[str, Recorder], pool: HttpPool, stranger_ca: Path, which: str
) -> None:
    url, recorder = https
    client = client_for(pool, url, ca_file=stranger_ca if which == "stranger" else None)
    with pytest.raises(OntapTlsError, match="certificate verification failed") as caught:
        await client.cluster()
    assert caught.value.sent is False
    assert client.requests_sent == 1 and recorder.count() == 0


async def test_no_verification_works_and_warns_once_per_run(
    https: tuple[str, Recorder], pool: HttpPool
) -> None:
    url, _ = https
    with capture_logs() as logs:
        for name in ("cl-1", "cl-2"):
            assert (await client_for(pool, url, name=name, verify=False).cluster())["name"] == "cl-0001"
    warnings = [e for e in logs if e["event"] == "tls_verification_disabled"]
    assert len(warnings) == 1 and warnings[0]["log_level"] == "warning"


async def test_insecure_setting_warns_when_the_run_starts(
    make_pool: Callable[..., Awaitable[HttpPool]], sim_tls: tuple[Path, TlsFiles]
) -> None:
    with capture_logs() as logs:
        pool = await make_pool(insecure=True)
    assert [e["event"] for e in logs] == ["tls_verification_disabled"]
    assert pool.ssl_for(sim_tls[1].ca, True) is False


async def test_tls_contexts_are_built_once_per_ca_file(
    pool: HttpPool, sim_tls: tuple[Path, TlsFiles]
) -> None:
    ca = sim_tls[1].ca
    first = pool.ssl_for(ca, True)
    assert isinstance(first, ssl.SSLContext)
    assert pool.ssl_for(ca.parent / ".." / ca.parent.name / ca.name, True) is first
    assert pool.ssl_for(None, True) is not first
