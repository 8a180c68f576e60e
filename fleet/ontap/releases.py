"""Which ONTAP release brought which field and endpoint fleet uses: ask each cluster only for what it has.

ONTAP answers a ``fields=`` name its release does not know with 400 / 262197 and fails the whole GET
(ontap-notes §10), so every reader builds its field list here. Versions are ``(major, minor)`` of
ONTAP 9; facts from the "Introduced in" notes of NetApp's published swagger (ontap-notes §1, §10).
"""

from __future__ import annotations

from collections.abc import Iterable

Release = tuple[int, int]
Version = tuple[int, int, int]  # (generation, major, minor) as /api/cluster reports it

OLDEST: Release = (6, 0)  # the key-manager REST API appeared in ONTAP 9.6

Since = dict[str, Release]

#: Key-manager record fields (and body fields) newer than 9.6.
KEY_MANAGER_SINCE: Since = {
    "status.code": (7, 0),
    "status.message": (7, 0),
    "onboard.key_backup": (7, 0),
    "onboard.synchronize": (7, 0),
    "volume_encryption.supported": (7, 0),
    "is_default_data_at_rest_encryption_disabled": (7, 0),
    "enabled": (16, 0),  # inactive configurations: two records, one enabled
}
#: Key-server record fields newer than 9.6.
KEY_SERVER_SINCE: Since = {"connectivity": (13, 0)}  # per-node connectivity (node_states)
#: Key-store record fields (the endpoint itself: KEY_STORES_SINCE).
KEY_STORE_SINCE: Since = {"enabled": (14, 0), "state": (16, 0)}

#: Endpoints (and query filters) newer than 9.6.
METROCLUSTER_SINCE: Release = (8, 0)
KEY_STORES_SINCE: Release = (10, 0)
KEY_IDS_SINCE: Release = (11, 0)
KEY_IDS_FILTERS_SINCE: Release = (12, 0)  # ?restored=false: the per-node "missing keys" count


def release_of(version: Version) -> Release:
    """``(9, 12, 1)`` → ``(12, 1)``."""
    return (version[1], version[2])


def has(version: Version, field: str, since: Since = KEY_MANAGER_SINCE) -> bool:
    """Does this release know ``field``? Fields not in the table exist since 9.6."""
    return release_of(version) >= since.get(field, OLDEST)


def fields_for(version: Version, names: Iterable[str], since: Since = KEY_MANAGER_SINCE) -> str:
    """The ``fields=`` value for this release: the names it knows, in the order given."""
    return ",".join(name for name in names if has(version, name, since))
