"""The simulator's CA and certificate: verified TLS for 127.0.0.1 and localhost, reused across restarts."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography import x509

from fleet.sim.tls import client_ssl_context, ensure_tls_files, server_ssl_context


async def _hello(_request: web.Request) -> web.Response:
    return web.json_response({"hello": "tls"})


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_client_trusting_only_the_ca_verifies_the_server(tmp_path: Path, host: str) -> None:
    app = web.Application()
    app.router.add_get("/", _hello)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=server_ssl_context(tmp_path))
    try:
        connector = aiohttp.TCPConnector(ssl=client_ssl_context(tmp_path / "ca.pem"))
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.get(f"https://{host}:{server.port}/") as response,
        ):
            assert await response.json() == {"hello": "tls"}
    finally:
        await server.close()


async def test_a_client_with_default_trust_refuses_the_simulator(tmp_path: Path) -> None:
    app = web.Application()
    app.router.add_get("/", _hello)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=server_ssl_context(tmp_path))
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get(f"https://127.0.0.1:{server.port}/")
    finally:
        await server.close()


def test_key_is_private_and_files_are_reused(tmp_path: Path) -> None:
    first = ensure_tls_files(tmp_path)
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600
    before = [path.read_bytes() for path in (first.ca, first.cert, first.key)]
    again = ensure_tls_files(tmp_path)
    assert [path.read_bytes() for path in (again.ca, again.cert, again.key)] == before


def test_broken_or_mismatched_files_are_regenerated(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path)
    other = ensure_tls_files(tmp_path / "other")
    files.cert.write_bytes(other.cert.read_bytes())  # signed by another CA, for another key
    ensure_tls_files(tmp_path)
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(files.ca.read_bytes()))
    files.key.write_text("not a key")
    context = server_ssl_context(tmp_path)  # loads: the set was regenerated
    assert isinstance(context, ssl.SSLContext)


def test_certificate_names_loopback_and_localhost(tmp_path: Path) -> None:
    cert = x509.load_pem_x509_certificate(ensure_tls_files(tmp_path).cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
