"""Shared pieces of the client tests: test secrets, fast settings, the request recorder, ONTAP bodies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from fleet.ontap import HttpPool, HttpSettings, OntapClient
from fleet.secrets import Secret

PASSWORD = "adm1n-Pa55word-for-tests"
OLD = "old-passphrase-0123456789-abcdefghijkl"
NEW = "new-passphrase-9876543210-zyxwvutsrqpo"

FAST = HttpSettings(
    retries=3,
    backoff_base=0.001,
    backoff_max=5.0,
    request_timeout=2.0,
    connect_timeout=1.0,
    job_poll_initial=0.001,
)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """What one tiny server saw: every request, and the most requests it had in flight at once."""

    seen: list[Seen] = field(default_factory=list)
    inflight: int = 0
    max_inflight: int = 0

    def count(self, method: str | None = None) -> int:
        return sum(1 for s in self.seen if method is None or s.method == method)


Handler = Callable[[web.Request, Recorder], Awaitable[web.StreamResponse]]
Serve = Callable[..., Awaitable[tuple[str, Recorder]]]


def client_for(
    pool: HttpPool, base_url: str, *, name: str = "cl-0001", ca_file: Path | None = None, verify: bool = True
) -> OntapClient:
    return OntapClient(
        pool,
        name=name,
        base_url=base_url,
        username="admin",
        password=Secret(PASSWORD),
        ca_file=ca_file,
        verify=verify,
    )


def ontap_error(status: int, code: int, message: str, target: str | None = None) -> web.Response:
    """An error body exactly as ONTAP writes it: ``code`` is a string."""
    error: dict[str, object] = {"message": message, "code": str(code)}
    if target:
        error["target"] = target
    return web.json_response({"error": error}, status=status)
