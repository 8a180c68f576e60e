"""Async ONTAP REST client (aiohttp) and the shared error-code table.

``open_http`` owns the run's per-cluster sessions; ``OntapClient`` speaks to one cluster through it, retrying
only what is safe to retry and following jobs to their end. ``codes`` classifies ONTAP's error codes.
"""

from fleet.ontap.client import OntapClient, Reply, WouldSend
from fleet.ontap.http import HttpPool, HttpSettings, OntapTlsError, open_http
from fleet.ontap.jobs import JobGone
from fleet.ontap.limits import ReplyRefused
from fleet.ontap.retry import Backoff, retry_after

__all__ = [
    "Backoff",
    "HttpPool",
    "HttpSettings",
    "JobGone",
    "OntapClient",
    "OntapTlsError",
    "Reply",
    "ReplyRefused",
    "WouldSend",
    "open_http",
    "retry_after",
]
