"""The one home for HTTP limits, TLS contexts and the aiohttp session of a run.

``open_http(settings)`` gives the run's ``HttpPool``, the only place in fleet that builds an
``aiohttp.ClientSession``: one small session per cluster, so keep-alive connections are reused across
that cluster's requests and closed the moment its work ends (``HttpPool.release``). One shared pool
would keep every finished cluster's TLS connection open until its idle timeout: over a thousand of
them, hundreds of MB, at 10,000 clusters. Two caps protect each cluster: its connector's ``limit``
counts *connections*, the per-cluster semaphore (``HttpPool.slot``) counts *requests in flight*, which
is what ONTAP's REST throttling sees. The engine's runner bounds how many clusters are worked at once.
``translate_errors`` is the one place aiohttp, ssl and JSON exceptions become fleet errors, each
saying whether the request may have reached the cluster (``sent``).
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import structlog
from multidict import CIMultiDictProxy

from fleet import __version__
from fleet.errors import OntapTimeout, OntapTransportError
from fleet.ontap.limits import DEFAULT_MAX_PAGES, DEFAULT_MAX_RESPONSE_BYTES, MIN_RESPONSE_BYTES
from fleet.ontap.trust import verifying_context

log = structlog.get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# Below common server idle timeouts (Apache httpd's default KeepAliveTimeout is 5 s): a mutation must
# never be written onto a connection the server is about to close, or its outcome becomes unknown.
KEEPALIVE_SECONDS = 4.0
USER_AGENT = f"fleet/{__version__}"


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Caps and timeouts of a run; per-run variants via ``dataclasses.replace``.

    ``concurrency`` caps units worked at once (the engine's runner enforces it), ``per_cluster`` caps
    connections and requests in flight per cluster. ``cluster_deadline`` bounds all of one cluster's
    work; the engine's run enforces it per unit (one deadline per site of a pair). ``insecure`` disables TLS
    verification for every cluster (loud). ``max_response_bytes`` bounds one reply, decompressed, and
    the pages of one collection together; ``max_pages`` bounds the pages (``fleet.ontap.limits``).
    """

    concurrency: int = 64
    per_cluster: int = 2
    request_timeout: float = 30.0
    connect_timeout: float = 10.0
    cluster_deadline: float | None = None
    retries: int = 4
    backoff_base: float = 0.25
    backoff_max: float = 20.0
    job_poll_initial: float = 0.2
    job_poll_max: float = 5.0
    job_timeout: float = 300.0
    insecure: bool = False
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_pages: int = DEFAULT_MAX_PAGES

    def __post_init__(self) -> None:
        # Conflicting options fail here, early, not as odd behaviour thousands of requests later.
        if self.concurrency < 1 or self.per_cluster < 1:
            raise ValueError("concurrency and per_cluster must be at least 1")
        if self.retries < 0:
            raise ValueError("retries must be 0 or more")
        positive = ("request_timeout", "connect_timeout", "backoff_max", "job_poll_max", "job_timeout")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.backoff_base < 0 or self.job_poll_initial < 0:
            raise ValueError("backoff_base and job_poll_initial must be 0 or more")
        if self.cluster_deadline is not None and self.cluster_deadline <= 0:
            raise ValueError("cluster_deadline must be positive or None")
        if self.max_response_bytes < MIN_RESPONSE_BYTES:
            raise ValueError(f"max_response_bytes must be at least {MIN_RESPONSE_BYTES}")
        if self.max_pages < 1:
            raise ValueError("max_pages must be at least 1")


@dataclass(frozen=True, slots=True)
class RawReply:
    """One HTTP exchange as received: status, headers, undecoded body (decoded only when needed)."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


class OntapTlsError(OntapTransportError):
    """TLS verification failed: a trust problem, never retried (sending again cannot fix it)."""


class HttpPool:
    """The run's per-cluster sessions plus what every client shares: TLS contexts, slots, timeouts."""

    def __init__(self, settings: HttpSettings, *, sleep: Sleep, rng: random.Random) -> None:
        self.settings = settings
        self.sleep = sleep
        self.rng = rng
        self._contexts: dict[Path | None, ssl.SSLContext] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._timeout = aiohttp.ClientTimeout(
            total=settings.request_timeout, sock_connect=settings.connect_timeout
        )
        self._warned_insecure = False

    def ssl_for(self, ca_file: Path | None, verify: bool) -> ssl.SSLContext | bool:
        """The TLS setting for a cluster: contexts are cached per CA file (building thousands is slow)."""
        if self.settings.insecure or not verify:
            self.warn_insecure()
            return False
        context = self._contexts.get(ca_file)
        if context is None:
            key = ca_file.resolve() if ca_file is not None else None
            context = self._contexts.get(key)
            if context is None:
                context = verifying_context(key)
                self._contexts[key] = context
            self._contexts[ca_file] = context
        return context

    def slot(self, cluster: str) -> asyncio.Semaphore:
        """The per-cluster request cap: every client of one cluster shares this semaphore."""
        semaphore = self._slots.get(cluster)
        if semaphore is None:
            semaphore = self._slots[cluster] = asyncio.Semaphore(self.settings.per_cluster)
        return semaphore

    def session_for(self, cluster: str) -> aiohttp.ClientSession:
        """The cluster's keep-alive session, opened on first use (and again after ``release``)."""
        session = self._sessions.get(cluster)
        if session is None:
            per_cluster = self.settings.per_cluster
            connector = aiohttp.TCPConnector(
                limit=per_cluster,
                limit_per_host=per_cluster,
                ttl_dns_cache=300,
                keepalive_timeout=KEEPALIVE_SECONDS,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # ONTAP's REST API authenticates every request
                headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                # Waiting for a pooled connection counts against ``total`` only, so a busy pool
                # surfaces as a connection timeout (nothing sent), never as an unknown outcome.
                timeout=self._timeout,
                raise_for_status=False,
            )
            self._sessions[cluster] = session
        return session

    async def release(self, cluster: str) -> None:
        """The cluster's work is over: close its connections now instead of at their idle timeout."""
        session = self._sessions.pop(cluster, None)
        self._slots.pop(cluster, None)
        if session is not None:
            try:
                await session.close()
            except (aiohttp.ClientError, OSError) as exc:  # the unit's outcome stands; the socket is gone
                log.warning(
                    "closing a cluster's connections failed", cluster=cluster, error=type(exc).__name__
                )

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        self._slots.clear()
        await asyncio.gather(*(session.close() for session in sessions), return_exceptions=True)

    def warn_insecure(self) -> None:
        """Once per run: disabling TLS verification must never be quiet."""
        if not self._warned_insecure:
            self._warned_insecure = True
            log.warning(
                "tls_verification_disabled",
                detail="TLS certificates are NOT verified: credentials and passphrases may be sent to an "
                "impostor. Use the inventory's tls.ca_file instead of --insecure.",
            )


@asynccontextmanager
async def open_http(
    settings: HttpSettings, *, sleep: Sleep = asyncio.sleep, rng: random.Random | None = None
) -> AsyncIterator[HttpPool]:
    """The run's pool; every session still open is closed on exit, whatever happened inside."""
    pool = HttpPool(settings, sleep=sleep, rng=rng or random.Random())
    if settings.insecure:
        pool.warn_insecure()
    try:
        yield pool
    finally:
        await pool.close()


@contextmanager
def translate_errors(method: str, path: str, cluster: str) -> Iterator[None]:
    """Turn aiohttp/ssl/JSON failures into fleet errors, saying whether the request may have been sent.

    Texts name the method and path only: never bodies (they hold passphrases) nor headers (auth).
    """
    what = f"{method} {path}"
    try:
        yield
    except aiohttp.ClientConnectorCertificateError as exc:
        raise OntapTlsError(
            f"{what}: TLS certificate verification failed ({exc.certificate_error}); "
            "check the inventory's tls.ca_file",
            sent=False,
            cluster=cluster,
        ) from exc
    except (aiohttp.ClientConnectorSSLError, aiohttp.ClientSSLError, ssl.SSLError) as exc:
        raise OntapTlsError(f"{what}: TLS handshake failed: {exc}", sent=False, cluster=cluster) from exc
    except aiohttp.InvalidURL as exc:
        raise OntapTransportError(f"{what}: invalid URL", sent=False, cluster=cluster) from exc
    except aiohttp.ConnectionTimeoutError as exc:
        raise OntapTimeout(f"{what}: no connection within the timeout", sent=False, cluster=cluster) from exc
    except aiohttp.ClientConnectorError as exc:
        message = f"{what}: cannot connect: {exc.os_error}"
        raise OntapTransportError(message, sent=False, cluster=cluster) from exc
    except TimeoutError as exc:  # also aiohttp's ServerTimeoutError / SocketTimeoutError
        raise OntapTimeout(
            f"{what}: no reply within the timeout; the request may have been processed",
            sent=True,
            cluster=cluster,
        ) from exc
    except (aiohttp.ClientError, ConnectionError) as exc:
        raise OntapTransportError(
            f"{what}: connection failed after the request was sent ({type(exc).__name__}); "
            "the request may have been processed",
            sent=True,
            cluster=cluster,
        ) from exc
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # JSONDecodeError is a ValueError;
        # RecursionError: JSON nested deeper than Python's stack (``[[[[…``), hostile, not a crash
        raise OntapTransportError(f"{what}: the reply is not valid JSON", sent=True, cluster=cluster) from exc
