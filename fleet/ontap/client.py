"""``OntapClient``: one cluster's ONTAP REST API, as the engine needs it.

It composes the run's ``HttpPool`` (session, TLS, per-cluster cap) with the retry policy and job
polling; it never subclasses aiohttp. Replies stay plain dicts (10,000 clusters: no model parsing on
the hot path). Secrets are revealed only into a request body or the auth header, never into a URL,
a log line or an exception text.

Mutations send ``return_timeout`` = half the request timeout (at most ONTAP's 120 s): a job that
ends within it comes back as a plain 200/201, a slower one as 202 + job (polled here), and ONTAP
always answers before fleet's own request timeout, which would make the outcome unknown.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from yarl import URL

from fleet.errors import OntapError, OntapTimeout, OntapTransportError
from fleet.ontap.http import HttpPool, RawReply, translate_errors
from fleet.ontap.jobs import JobPolling, JobRecord, job_uuid_of, wait_for_job
from fleet.ontap.limits import ReplyRefused, read_bounded, size_text
from fleet.ontap.retry import Backoff, RetryPolicy, send_with_retries

if TYPE_CHECKING:
    from fleet.secrets import Secret

Params = Mapping[str, str | int | float | bool]

SECRET_FIELDS = frozenset({"passphrase", "existing_passphrase", "password"})
KEY_MANAGERS = "/api/security/key-managers"
KEY_MANAGER_FIELDS = "uuid,scope,onboard.enabled,external,status.code,status.message"
KEY_SERVER_FIELDS = "server,timeout,username,secondary_key_servers"
ONTAP_MAX_RETURN_TIMEOUT = 120
_PATH_SAFE = "/-._~:@!$&'()*+,;="  # RFC 3986 pchar: what a path segment may hold unencoded
_QUERY_SAFE = "-._~:@!$'()*,;/?"  # the same for a query value, less the separators & = +


def _next_link(body: Mapping[str, Any]) -> str | None:
    links = body.get("_links")
    following = links.get("next") if isinstance(links, Mapping) else None
    href = following.get("href") if isinstance(following, Mapping) else None
    return href if isinstance(href, str) and href else None


def _page_key(url: URL | str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A page's identity: its path and its decoded query, in any order (``?b&a`` is ``?a&b``)."""
    parsed = url if isinstance(url, URL) else URL(url)
    return parsed.path, tuple(sorted(parsed.query.items()))


def _shown(href: str) -> str:
    """A cluster-supplied link as quoted in a message: bounded, whatever the cluster sent."""
    return repr(href if len(href) <= 120 else href[:117] + "...")


@dataclass(frozen=True, slots=True)
class Reply:
    """A mutation's answer: HTTP status, body (``{}`` when empty) and the finished job, if one ran."""

    status: int
    body: dict[str, Any]
    job: JobRecord | None = None


def _query(params: Params | None) -> dict[str, str | int | float] | None:
    """Query values as ONTAP spells them; secrets are refused (ONTAP: code 262202; fleet: never)."""
    if not params:
        return None
    query: dict[str, str | int | float] = {}
    for key, value in params.items():
        if key.rsplit(".", 1)[-1] in SECRET_FIELDS:
            raise ValueError(f"{key} is a secret: it goes in the request body, never in the URL")
        query[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return query


@functools.lru_cache(maxsize=4096)
def _encoded_target(path: str, query: tuple[tuple[str, str], ...]) -> str:
    """``path?query``, percent-encoded; cached: every cluster asks the same few paths and queries."""
    target = quote(path, safe=_PATH_SAFE)
    return target + "?" + urlencode(query, quote_via=quote, safe=_QUERY_SAFE) if query else target


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _ontap_error(raw: RawReply, what: str, cluster: str) -> OntapError:
    """ONTAP's error object as an OntapError (``code`` arrives as a string); other bodies get a clear text."""
    try:
        decoded = json.loads(raw.body) if raw.body else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        decoded = None
    error = decoded.get("error") if isinstance(decoded, dict) else None
    if isinstance(error, dict) and error.get("message"):
        arguments = error.get("arguments")
        return OntapError(
            str(error["message"]),
            http_status=raw.status,
            code=_as_int(error.get("code")),
            target=error.get("target"),
            arguments=arguments if isinstance(arguments, list) else None,
            cluster=cluster,
        )
    if raw.status == 401:
        message = f"{what}: authentication failed; check the inventory's username and password"
    elif raw.status == 403:
        message = f"{what}: permission denied for the inventory's user"
    else:
        message = f"{what}: HTTP {raw.status} without an ONTAP error body"
    return OntapError(message, http_status=raw.status, cluster=cluster)


class WouldSend(Exception):
    """A dry run reached a mutation: what would have been sent, to which cluster. Nothing was.

    Not a ``FleetError`` on purpose: no step machine may take it for a refusal or a failure.
    """

    def __init__(self, cluster: str, step: str, detail: str | None = None) -> None:
        self.cluster = cluster
        self.step = step
        super().__init__(f"would send {step}" + (f" {detail}" if detail else ""))


class OntapClient:
    """One cluster's REST API; counts what it sends (``requests_sent``, ``by_method``; retries included)
    and what it sent again after a transient answer (``retried``: cause → count, see ``retry_cause``)."""

    def __init__(
        self,
        pool: HttpPool,
        *,
        name: str,
        base_url: str,
        username: str,
        password: Secret,
        ca_file: Path | None,
        verify: bool = True,
        read_only: bool = False,
    ) -> None:
        settings = pool.settings
        self.read_only = read_only  # a dry run: every mutation is withheld (WouldSend), never sent
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.requests_sent = 0
        self.by_method: Counter[str] = Counter()
        self.retried: dict[str, int] = {}  # the report's ``retries``; touched only when a request is re-sent
        self._pool = pool
        self._username = username
        self._password = password
        self._ssl = pool.ssl_for(ca_file, verify)
        self._encoded_base = str(URL(self.base_url))  # an international host name in its ASCII form
        self._headers = {"Authorization": self._auth_header()}
        self._body_headers = {**self._headers, "Content-Type": "application/json"}
        self._slot = pool.slot(name)
        self._policy = RetryPolicy(settings.retries, Backoff(settings.backoff_base, settings.backoff_max))
        self._polling = JobPolling(settings.job_poll_initial, settings.job_poll_max, settings.job_timeout)
        self._return_timeout = max(0, min(ONTAP_MAX_RETURN_TIMEOUT, int(settings.request_timeout / 2)))
        self._max_bytes = settings.max_response_bytes
        self._max_pages = settings.max_pages

    def __repr__(self) -> str:
        return f"OntapClient(name={self.name!r}, base_url={self.base_url!r})"

    # -- lifecycle of one cluster's work -------------------------------------------------------------

    @asynccontextmanager
    async def deadline(self) -> AsyncIterator[None]:
        """Bound all of one cluster's work by ``cluster_deadline``; past it: OntapTimeout, outcome unknown."""
        seconds = self._pool.settings.cluster_deadline
        if seconds is None:
            yield
            return
        timeout = asyncio.timeout(seconds)
        try:
            async with timeout:
                yield
        except TimeoutError as exc:
            if not timeout.expired() or isinstance(exc, OntapTimeout):
                raise
            raise OntapTimeout(
                f"the cluster deadline of {seconds:g} s passed; work in flight has an unknown outcome",
                sent=True,
                cluster=self.name,
            ) from exc

    # -- one exchange, retries, decoding ---------------------------------------------------------------

    def _auth_header(self) -> str:
        token = f"{self._username}:{self._password.reveal()}".encode()
        return "Basic " + base64.b64encode(token).decode("ascii")

    def _url(self, path: str, query: dict[str, str | int | float] | None) -> URL | str:
        """The request URL, encoded once per distinct path and query (aiohttp would per request).

        A path that already carries a query (ONTAP's ``_links.next``) is left for aiohttp to
        normalise, as ONTAP wrote it.
        """
        if "?" in path:
            return self.base_url + path
        items = tuple((key, str(value)) for key, value in query.items()) if query else ()
        return URL(self._encoded_base + _encoded_target(path, items), encoded=True)

    async def _exchange(self, method: str, path: str, url: URL | str, payload: bytes | None) -> RawReply:
        headers = self._headers if payload is None else self._body_headers
        async with self._slot:
            self.requests_sent += 1
            self.by_method[method] += 1
            with translate_errors(method, path, self.name):
                async with self._pool.session_for(self.name).request(
                    method,
                    url,
                    data=payload,
                    headers=headers,
                    ssl=self._ssl,
                    allow_redirects=False,
                ) as response:
                    body = await read_bounded(
                        response, limit=self._max_bytes, what=f"{method} {path}", cluster=self.name
                    )
                    return RawReply(response.status, response.headers, body)

    async def _send(
        self, method: str, path: str, params: Params | None, body: Mapping[str, Any] | None
    ) -> RawReply:
        url = self._url(path, _query(params))
        payload = json.dumps(body).encode() if body is not None else None
        return await self._send_to(method, path, url, payload)

    async def _send_to(self, method: str, path: str, url: URL | str, payload: bytes | None) -> RawReply:
        """One request with the retry policy; ``path`` names it in messages, ``url`` is what is sent."""
        return await send_with_retries(
            lambda: self._exchange(method, path, url, payload),
            idempotent=method == "GET",
            policy=self._policy,
            sleep=self._pool.sleep,
            rng=self._pool.rng,
            what=f"{method} {path}",
            cluster=self.name,
            retried=self.retried,
        )

    def _decode(self, raw: RawReply, method: str, path: str) -> dict[str, Any]:
        """A 2xx body as a dict (``{}`` when empty); any other status as ONTAP's error."""
        if not 200 <= raw.status < 300:
            raise _ontap_error(raw, f"{method} {path}", self.name)
        if not raw.body.strip():
            return {}
        with translate_errors(method, path, self.name):
            decoded = json.loads(raw.body)
        if not isinstance(decoded, dict):
            what = f"{method} {path}"
            raise OntapTransportError(f"{what}: the reply is not a JSON object", sent=True, cluster=self.name)
        return decoded

    # -- low level -------------------------------------------------------------------------------------

    async def get(self, path: str, params: Params | None = None) -> dict[str, Any]:
        """GET a path under the cluster's base URL; transient failures are retried."""
        return self._decode(await self._send("GET", path, params, None), "GET", path)

    async def patch(self, path: str, body: Mapping[str, Any], params: Params | None = None) -> Reply:
        return await self._mutate("PATCH", path, body, params)

    async def post(self, path: str, body: Mapping[str, Any], params: Params | None = None) -> Reply:
        return await self._mutate("POST", path, body, params)

    async def delete(self, path: str, params: Params | None = None) -> Reply:
        return await self._mutate("DELETE", path, None, params)

    async def _mutate(
        self, method: str, path: str, body: Mapping[str, Any] | None, params: Params | None
    ) -> Reply:
        """Send (re-sent only when certainly unprocessed), then follow the job to its end, if any."""
        what = f"{method} {path}"
        if self.read_only:
            raise WouldSend(self.name, what)
        query: dict[str, Any] = {"return_timeout": self._return_timeout, **(params or {})}
        raw = await self._send(method, path, query, body)
        decoded = self._decode(raw, method, path)
        uuid = job_uuid_of(decoded)
        if uuid is None:
            if raw.status == 202:
                raise OntapTransportError(
                    f"{what}: 202 Accepted without a job link; the outcome is unknown",
                    sent=True,
                    cluster=self.name,
                )
            return Reply(raw.status, decoded)
        job = await wait_for_job(
            uuid, fetch=self._fetch_job, polling=self._polling, sleep=self._pool.sleep, cluster=self.name
        )
        return Reply(raw.status, decoded, job)

    async def _fetch_job(self, uuid: str) -> JobRecord | None:
        path = f"/api/cluster/jobs/{uuid}"
        raw = await self._send("GET", path, None, None)
        if raw.status == 404:
            return None
        return self._decode(raw, "GET", path)

    async def _records(self, path: str, params: Params | None) -> list[dict[str, Any]]:
        """Every record of a collection, following ``_links.next`` when ONTAP pages.

        Bounded (``fleet.ontap.limits``): a link back to a page already fetched or off ``/api/``,
        more than ``max_pages`` pages, or pages together over ``max_response_bytes`` is
        ``ReplyRefused``, not a loop: a cluster, or something posing as one, could otherwise keep a
        worker busy, and growing, forever.
        """
        what = f"GET {path}"
        url = self._url(path, _query(params))
        raw = await self._send_to("GET", path, url, None)
        body = self._decode(raw, "GET", path)
        records: list[dict[str, Any]] = list(body.get("records", []))
        fetched = {_page_key(url)}
        total = len(raw.body)
        next_href = _next_link(body)
        while next_href:
            if not next_href.startswith("/api/"):
                raise ReplyRefused(
                    f"{what}: _links.next is not a path under /api/ ({_shown(next_href)}); not followed",
                    cluster=self.name,
                )
            url = self._url(next_href, None)
            key = _page_key(url)
            if key in fetched:
                raise ReplyRefused(
                    f"{what}: _links.next points back at a page already fetched ({_shown(next_href)}); "
                    f"paging stopped after {len(fetched)} page(s)",
                    cluster=self.name,
                )
            if len(fetched) >= self._max_pages:
                raise ReplyRefused(
                    f"{what}: paging went past the budget of {self._max_pages} pages; paging stopped",
                    cluster=self.name,
                )
            fetched.add(key)
            raw = await self._send_to("GET", path, url, None)
            total += len(raw.body)
            if total > self._max_bytes:
                raise ReplyRefused(
                    f"{what}: the pages together are larger than the {size_text(self._max_bytes)} "
                    "response limit (--max-response-bytes); paging stopped",
                    cluster=self.name,
                )
            body = self._decode(raw, "GET", path)
            records.extend(body.get("records", []))
            next_href = _next_link(body)
        return records

    # -- high level: what the engine calls -------------------------------------------------------------

    async def cluster(self) -> dict[str, Any]:
        """name, uuid and version {full, generation, major, minor}."""
        return await self.get("/api/cluster", {"fields": "name,uuid,version"})

    async def nodes(self, *, fields: str = "name,uuid") -> list[dict[str, Any]]:
        return await self._records("/api/cluster/nodes", {"fields": fields})

    async def metrocluster(self) -> dict[str, Any]:
        """local/remote: cluster, configuration_state, mode, partner_cluster_reachable (ONTAP 9.8+)."""
        return await self.get("/api/cluster/metrocluster", {"fields": "*"})

    async def key_managers(
        self, *, fields: str = KEY_MANAGER_FIELDS, scope: str = "cluster"
    ) -> list[dict[str, Any]]:
        """Key managers of a scope; ``status.*`` is expensive in ONTAP and only comes when named in fields."""
        return await self._records(KEY_MANAGERS, {"scope": scope, "fields": fields})

    async def svms(self, *, fields: str = "name") -> list[dict[str, Any]]:
        """The data SVMs (every page)."""
        return await self._records("/api/svm/svms", {"fields": fields})

    async def certificates(self, *, fields: str) -> list[dict[str, Any]]:
        """Installed certificates, admin SVM and data SVMs (every page)."""
        return await self._records("/api/security/certificates", {"fields": fields})

    async def key_manager(self, uuid: str, *, fields: str = KEY_MANAGER_FIELDS) -> dict[str, Any]:
        return await self.get(f"{KEY_MANAGERS}/{uuid}", {"fields": fields})

    async def change_passphrase(self, km_uuid: str, *, existing: Secret, new: Secret) -> Reply:
        """Rotate the OKM passphrase. Never re-sent after an unknown outcome: re-read and probe instead."""
        body = {"onboard": {"existing_passphrase": existing.reveal(), "passphrase": new.reveal()}}
        return await self.patch(f"{KEY_MANAGERS}/{km_uuid}", body)

    async def synchronize(self, km_uuid: str, *, passphrase: Secret) -> Reply:
        """Push missing OKM keys to the nodes; also proves ``passphrase`` is current (65536139 if not)."""
        body = {"onboard": {"existing_passphrase": passphrase.reveal(), "synchronize": True}}
        return await self.patch(f"{KEY_MANAGERS}/{km_uuid}", body)

    async def create_onboard(self, *, passphrase: Secret, synchronize: bool = False) -> Reply:
        """Enable OKM; ``synchronize`` is the MetroCluster partner form (the other site's passphrase)."""
        onboard: dict[str, Any] = {"passphrase": passphrase.reveal()}
        if synchronize:
            onboard["synchronize"] = True
        return await self.post(KEY_MANAGERS, {"onboard": onboard})

    async def missing_keys(self, km_uuid: str, node_uuid: str) -> int:
        """How many keys the node lacks (``restored=false``; ONTAP 9.12+), counted without the records."""
        body = await self.get(
            f"{KEY_MANAGERS}/{km_uuid}/keys/{node_uuid}/key-ids",
            {"restored": False, "return_records": False},
        )
        count = _as_int(body.get("num_records"))
        if count is None:
            raise OntapTransportError(
                f"GET key-ids of node {node_uuid}: the reply has no num_records", sent=True, cluster=self.name
            )
        return count

    async def key_backup(self, km_uuid: str) -> str:
        """The OKM backup blob (BEGIN BACKUP … END BACKUP) to keep offline with the new passphrase."""
        body = await self.key_manager(km_uuid, fields="onboard.key_backup")
        backup = body.get("onboard", {}).get("key_backup")
        if not isinstance(backup, str) or not backup:
            what = f"GET key manager {km_uuid}"
            raise OntapTransportError(f"{what}: no onboard.key_backup", sent=True, cluster=self.name)
        return backup

    # -- external key servers ----------------------------------------------------------------------------

    async def key_servers(self, km_uuid: str, *, fields: str = KEY_SERVER_FIELDS) -> list[dict[str, Any]]:
        return await self._records(f"{KEY_MANAGERS}/{km_uuid}/key-servers", {"fields": fields})

    async def add_key_servers(self, km_uuid: str, servers: Sequence[str]) -> Reply:
        """Add "ip:port" servers; several go in one ``records`` POST (ONTAP runs that as a job)."""
        if not servers:
            raise ValueError("add_key_servers needs at least one server")
        body: dict[str, Any] = (
            {"server": servers[0]} if len(servers) == 1 else {"records": [{"server": s} for s in servers]}
        )
        return await self.post(f"{KEY_MANAGERS}/{km_uuid}/key-servers", body)

    async def modify_key_server(
        self,
        km_uuid: str,
        server: str,
        *,
        timeout: int | None = None,  # noqa: ASYNC109 - ONTAP's key-server field, not an asyncio timeout
        username: str | None = None,
        password: Secret | None = None,
        secondary_key_servers: Sequence[str] | None = None,
    ) -> Reply:
        changes: dict[str, Any] = {}
        if timeout is not None:
            changes["timeout"] = timeout
        if username is not None:
            changes["username"] = username
        if password is not None:
            changes["password"] = password.reveal()
        if secondary_key_servers is not None:
            changes["secondary_key_servers"] = list(secondary_key_servers)
        if not changes:
            raise ValueError("modify_key_server needs at least one change")
        return await self.patch(f"{KEY_MANAGERS}/{km_uuid}/key-servers/{server}", changes)

    async def remove_key_server(self, km_uuid: str, server: str, *, force: bool = False) -> Reply:
        params = {"force": True} if force else None
        return await self.delete(f"{KEY_MANAGERS}/{km_uuid}/key-servers/{server}", params)
