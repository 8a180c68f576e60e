"""How much one cluster may make fleet read: a reply's size, and the pages of one collection.

A cluster, or something posing as one, decides what it sends; fleet decides what it reads. Before
these bounds a 512 MiB body took a client to 1 GB of memory and a 256 MiB gzip bomb (250 KB on the
wire) to 560 MB, both read whole before anything looked at them (issue 16). Now a reply is read in
chunks as they arrive and *counted after decompression*, so a bomb is stopped like any other body,
the moment it passes the limit; a declared ``Content-Length`` over the limit is refused unread.
This holds because aiohttp (3.13.3+, the floor in pyproject.toml) inflates a compressed body in
bounded steps as the reader drains it, not a whole network read at once.

The default, 4 MiB, is some forty times the largest reply fleet asks ONTAP for (a node list or an
OKM key backup: tens of KB) and keeps what JSON makes of a hostile one bounded too: 4 MiB of
``{}`` decodes to ~100 MB of Python objects. The pages of one collection count together against
the same limit, within a budget of pages; a ``_links.next`` back to a page already fetched, or off
the cluster's ``/api/``, is refused at once.

A refused reply is ``ReplyRefused``: never retried (the same cluster would send it again), and
``sent`` is True: the request reached the cluster, so a mutation's outcome is unknown.
"""

from __future__ import annotations

import aiohttp

from fleet.errors import OntapTransportError

DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
MIN_RESPONSE_BYTES = 64 * 1024  # below this, ordinary ONTAP error bodies and job records would not fit
DEFAULT_MAX_PAGES = 1000  # a node, key-manager or key-server collection is a page or two
READ_CHUNK = 64 * 1024
_IDENTITY = frozenset({"", "identity"})


class ReplyRefused(OntapTransportError):
    """The cluster's answer broke a response limit; refused unread past it, never retried."""

    def __init__(self, message: str, *, cluster: str | None = None) -> None:
        super().__init__(message, sent=True, cluster=cluster)


_UNITS = {"": 1, "b": 1} | {
    prefix + suffix: 1 << (10 * power) for power, prefix in enumerate("kmg", 1) for suffix in ("", "b", "ib")
}


def parse_size(text: str) -> int:
    """``4MiB``, ``512 KiB``, ``65536``: a byte count as an admin types it (ValueError otherwise).

    K, KB and KiB (and M…, G…) all mean powers of 1024: a limit is no place for the difference.
    """
    cleaned = text.strip().lower()
    digits = cleaned.rstrip("bikmg ")
    unit = cleaned[len(digits) :].strip()
    if not digits.isdigit() or unit not in _UNITS:
        raise ValueError(f"{text!r} is not a size: give bytes, or a number with KiB, MiB or GiB")
    return int(digits) * _UNITS[unit]


def size_text(size: int) -> str:
    """``4 MiB``, ``64 KiB``, ``1000 bytes``: limits as an admin sets them."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


async def read_bounded(
    response: aiohttp.ClientResponse, *, limit: int, what: str, cluster: str | None = None
) -> bytes:
    """The body, read chunk by chunk as aiohttp decompresses it; past ``limit`` bytes: ``ReplyRefused``.

    The connection is closed on refusal, not drained: the rest of the body is never read.
    """
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    declared = response.content_length
    if declared is not None and encoding in _IDENTITY and "Transfer-Encoding" not in response.headers:
        if declared > limit:
            response.close()
            raise ReplyRefused(
                f"{what}: the reply declares {declared} bytes, over the {size_text(limit)} response "
                "limit (--max-response-bytes); not read",
                cluster=cluster,
            )
        return await response.read()  # aiohttp reads no more than the declared length: bounded
    body = bytearray()
    async for chunk in response.content.iter_chunked(READ_CHUNK):
        body += chunk
        if len(body) > limit:
            response.close()
            raise ReplyRefused(
                f"{what}: the reply is larger than the {size_text(limit)} response limit "
                "(--max-response-bytes, counted decompressed); reading stopped",
                cluster=cluster,
            )
    return bytes(body)
