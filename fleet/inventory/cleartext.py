"""Plain-HTTP cluster addresses: refused unless someone said yes, and then never quiet.

Over ``http://`` the Basic-auth password of every request and every passphrase fleet sends cross
the network readable (and changeable) by anything on the path. An inventory accepts that for a
cluster with ``tls: {verify: false}`` (no TLS trust either: the same risk, written down), an
operator for a whole run with ``--allow-http``. Either way the run says so at its start, as loudly
as ``--insecure`` does. The check runs when the plan is made: a refusal is exit 2, before any
request.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from fleet.errors import InputError
from fleet.inventory.model import Cluster

log = structlog.get_logger(__name__)


def is_cleartext(cluster: Cluster) -> bool:
    return cluster.base_url.startswith("http://")


def check_cleartext(clusters: Sequence[Cluster], *, allow_http: bool) -> list[Cluster]:
    """The clusters reached over plain HTTP; an ``InputError`` for the first one nobody accepted."""
    plain = [cluster for cluster in clusters if is_cleartext(cluster)]
    for cluster in plain:
        if cluster.tls.verify and not allow_http:
            raise InputError(
                f"cluster {cluster.name}: {cluster.base_url} is plain HTTP: its password and passphrases "
                "would cross the network unencrypted. Use https, or accept it knowingly: "
                "tls: {verify: false} for this cluster in the inventory, or --allow-http",
                file=str(cluster.source),
                field=cluster.field("address"),
            )
    return plain


def warn_cleartext(plain: Sequence[Cluster]) -> None:
    """Once per run, before any request: as loud as ``--insecure``'s warning."""
    if plain:
        log.warning(
            "cleartext_http",
            clusters=len(plain),
            first=[cluster.name for cluster in plain[:5]],
            detail="plain HTTP: passwords and passphrases cross the network UNENCRYPTED to these "
            "clusters; anyone on the path can read them. Use https addresses.",
        )
