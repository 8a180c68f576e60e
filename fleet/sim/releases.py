"""When each field, filter, body field and endpoint the simulator serves appeared in ONTAP.

One table, so a 9.6 cluster answers like a 9.6 cluster everywhere: records leave out what the release
does not have, and a request naming it is refused the way ONTAP refuses it. Versions are the spec's
``x-ntap-introduced`` notes (ontap-notes §1, §10), written as ``(major, minor)`` of ONTAP 9.x; a path
whose parent object appears later than the path itself (``configuration`` 9.16, its ``name`` 9.14) takes
the parent's release, since a field cannot show before its object.

* ``fields=`` naming something the release lacks (or nothing at all) → 400, ``262197``, target
  ``fields``, ``The value "X" is invalid for field "fields"``: the whole GET fails (Harvest #2237,
  #3639; ontap-netapp.ontap#189).
* a filter or a body field the release lacks → 400 ``262179`` "Unexpected argument", the answer ONTAP
  gives for any argument it does not know (ansible-collections/netapp.ontap#192). Whether ONTAP answers
  ``262179`` or ``262197`` for a field of a *later* release is UNCONFIRMED: ``SimSettings.release_gap_code``
  switches it.
* an endpoint the release lacks → 404, code 4, as for any unknown path.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

Release = tuple[int, int]  # (major, minor) of ONTAP 9.x

# --- endpoints --------------------------------------------------------------------------------------------

METROCLUSTER: Release = (8, 0)  # /api/cluster/metrocluster
KEY_STORES: Release = (10, 0)  # /api/security/key-stores
KEY_IDS: Release = (11, 0)  # …/keys/{node.uuid}/key-ids[/{key_id}]
CERTIFICATES: Release = (6, 0)  # /api/security/certificates
INACTIVE_CONFIGURATIONS: Release = (16, 0)  # enabled=false key-manager configurations, create_inactive
SVMS: Release = (6, 0)  # /api/svm/svms (older than the key-manager API: every release here has it)
# SVM-scope (multitenant) key managers exist from 9.6; on a MetroCluster site a POST for one answers
# 65536824 "not supported in MetroCluster configurations" before this release (UNCONFIRMED: the spec
# documents the code, not the release that lifted it; NetApp's docs name 9.11.1 for data-SVM KMIP in MCC)
SVM_KEY_MANAGERS_IN_METROCLUSTER: Release = (11, 1)

# --- record fields (what fields= may name) ----------------------------------------------------------------

_V6, _V7, _V8, _V9 = (6, 0), (7, 0), (8, 0), (9, 0)
_V13, _V14, _V15, _V16 = (13, 0), (14, 0), (15, 0), (16, 0)

_SERVER_FIELDS: dict[str, Release] = {
    "server": _V6,
    "timeout": _V6,
    "username": _V6,
    "password": _V6,
    "secondary_key_servers": _V8,
    "connectivity.cluster_availability": _V7,
    "connectivity.node_states.node.name": _V13,
    "connectivity.node_states.node.uuid": _V13,
    "connectivity.node_states.node._links": _V13,
    "connectivity.node_states.state": _V13,
    "_links": _V6,
}

KEY_MANAGER_FIELDS: dict[str, Release] = {
    "uuid": _V6,
    "scope": _V6,
    "svm.name": _V6,
    "svm.uuid": _V6,
    "svm._links": _V6,
    "onboard.enabled": _V6,
    "onboard.passphrase": _V6,
    "onboard.existing_passphrase": _V6,
    "onboard.key_backup": _V7,
    "onboard.synchronize": _V7,
    "external.client_certificate.uuid": _V6,
    "external.client_certificate.name": _V8,
    "external.client_certificate._links": _V6,
    "external.server_ca_certificates.uuid": _V6,
    "external.server_ca_certificates.name": _V8,
    "external.server_ca_certificates._links": _V6,
    **{f"external.servers.{name}": release for name, release in _SERVER_FIELDS.items()},
    "status.code": _V7,
    "status.message": _V7,
    "volume_encryption.supported": _V7,
    "volume_encryption.code": _V7,
    "volume_encryption.message": _V7,
    "is_default_data_at_rest_encryption_disabled": _V7,
    "policy": _V9,
    "enabled": _V16,
    "configuration.name": _V16,
    "configuration.uuid": _V16,
    "configuration._links": _V16,
    "_links": _V6,
}
KEY_SERVER_FIELDS: dict[str, Release] = {**_SERVER_FIELDS, "create_remove_timeout": _V14}
KEY_ID_FIELDS: dict[str, Release] = {
    **dict.fromkeys(
        (
            "key_id",
            "key_type",
            "key_tag",
            "key_user",
            "key_store",
            "key_store_type",
            "key_manager",
            "key_server",
            "encryption_algorithm",
            "restored",
            "crn",
            "policy",
            "node.name",
            "node.uuid",
            "node._links",
            "_links",
        ),
        (11, 0),
    ),
    "scope": _V14,
    "svm.name": _V14,
    "svm.uuid": _V14,
    "security_key_manager.uuid": _V15,
}
KEY_STORE_FIELDS: dict[str, Release] = {
    "uuid": (10, 0),
    "type": (10, 0),
    "location": (10, 0),
    "svm.name": (10, 0),
    "svm.uuid": (10, 0),
    "_links": (10, 0),
    "scope": _V14,
    "enabled": _V14,
    "configuration.name": _V14,
    "configuration.uuid": _V14,
    "configuration._links": _V14,
    "state": _V16,
}
CLUSTER_FIELDS: dict[str, Release] = dict.fromkeys(
    (
        "name",
        "uuid",
        "location",
        "contact",
        "version.full",
        "version.generation",
        "version.major",
        "version.minor",
        "_links",
    ),
    _V6,
)
NODE_FIELDS: dict[str, Release] = dict.fromkeys(
    (
        "uuid",
        "name",
        "state",
        "model",
        "serial_number",
        "version.full",
        "version.generation",
        "version.major",
        "version.minor",
        "_links",
    ),
    _V6,
)
_MCC_SITE: tuple[str, ...] = ("cluster.name", "cluster.uuid", "cluster._links", "configuration_state")
_MCC_SITE += ("mode", "periodic_check_enabled")
METROCLUSTER_FIELDS: dict[str, Release] = {
    **{f"local.{name}": _V8 for name in (*_MCC_SITE, "partner_cluster_reachable")},
    **{f"remote.{name}": _V8 for name in _MCC_SITE},
    "local.automatic_uso_failure_domain": _V14,
    "remote.automatic_uso_failure_domain": _V14,
    "_links": _V8,
}
JOB_FIELDS: dict[str, Release] = {
    **dict.fromkeys(
        ("uuid", "description", "state", "message", "code", "start_time", "end_time", "_links"), _V6
    ),
    "error.code": _V9,
    "error.message": _V9,
    "error.arguments": _V9,
    "svm.name": _V8,
    "svm.uuid": _V8,
    "node.name": (11, 0),
}
CERTIFICATE_FIELDS: dict[str, Release] = {
    **dict.fromkeys(
        (
            "uuid",
            "type",
            "ca",
            "common_name",
            "expiry_time",
            "hash_function",
            "key_size",
            "public_certificate",
            "serial_number",
            "scope",
            "svm.name",
            "svm.uuid",
            "_links",
        ),
        _V6,
    ),
    "name": _V8,
    "subject_key_identifier": _V8,
    "authority_key_identifier": _V8,
}

SVM_FIELDS: dict[str, Release] = dict.fromkeys(
    ("uuid", "name", "state", "subtype", "language", "comment", "ipspace.name", "ipspace.uuid", "_links"), _V6
)

RESOURCES: dict[str, Mapping[str, Release]] = {
    "key_manager": KEY_MANAGER_FIELDS,
    "key_server": KEY_SERVER_FIELDS,
    "key_id": KEY_ID_FIELDS,
    "key_store": KEY_STORE_FIELDS,
    "cluster": CLUSTER_FIELDS,
    "node": NODE_FIELDS,
    "metrocluster": METROCLUSTER_FIELDS,
    "job": JOB_FIELDS,
    "certificate": CERTIFICATE_FIELDS,
    "svm": SVM_FIELDS,
}

# --- collection filters that arrived after the collection itself ------------------------------------------

KEY_MANAGER_FILTERS: dict[str, Release] = {
    "uuid": _V6,
    "scope": _V6,
    "svm.name": _V6,
    "svm.uuid": _V6,
    "onboard.enabled": _V6,
    "onboard.key_backup": _V7,
    "status.code": _V7,
    "status.message": _V7,
    "external.servers.server": _V6,
    "external.servers.username": _V6,
    "external.servers.timeout": _V6,
    "external.servers.secondary_key_servers": _V8,
    "external.servers.connectivity.cluster_availability": _V7,
    "external.servers.connectivity.node_states.node.name": _V13,
    "external.servers.connectivity.node_states.node.uuid": _V13,
    "external.servers.connectivity.node_states.state": _V13,
    "external.client_certificate.uuid": _V6,
    "external.client_certificate.name": _V8,
    "external.server_ca_certificates.uuid": _V6,
    "external.server_ca_certificates.name": _V8,
    "is_default_data_at_rest_encryption_disabled": _V7,
    "volume_encryption.supported": _V7,
    "volume_encryption.code": _V7,
    "volume_encryption.message": _V7,
    "policy": _V9,
    "enabled": _V16,
    "configuration.uuid": _V16,
    "configuration.name": _V16,
}
KEY_ID_FILTERS: dict[str, Release] = {
    **dict.fromkeys(
        (
            "key_server",
            "encryption_algorithm",
            "node.name",
            "policy",
            "key_tag",
            "key_manager",
            "crn",
            "key_store_type",
            "key_type",
            "key_user",
            "key_store",
            "restored",
            "key_id",
        ),
        (12, 0),
    ),
    "svm.name": _V14,
    "svm.uuid": _V14,
    "scope": _V14,
}
KEY_SERVER_FILTERS: dict[str, Release] = {
    "server": _V6,
    "timeout": _V6,
    "username": _V6,
    "secondary_key_servers": _V8,
    "create_remove_timeout": _V14,
    "connectivity.cluster_availability": _V7,
    "connectivity.node_states.node.name": _V13,
    "connectivity.node_states.node.uuid": _V13,
    "connectivity.node_states.state": _V13,
}
# every key-store field filters too, links aside
KEY_STORE_FILTERS: dict[str, Release] = {
    name: since for name, since in KEY_STORE_FIELDS.items() if not name.endswith("_links")
}

# --- body fields and query parameters of mutations that arrived after their operation ---------------------

BODY_FIELDS: dict[str, Release] = {
    "onboard.synchronize": _V7,
    "is_default_data_at_rest_encryption_disabled": _V7,
    "external.client_certificate.name": _V8,
    "external.server_ca_certificates.name": _V8,
    "external.servers.secondary_key_servers": _V8,
    "secondary_key_servers": _V8,
    "records.secondary_key_servers": _V8,
    "create_remove_timeout": _V14,
    "policy": _V9,
}
MUTATION_QUERY: dict[str, Release] = {"create_inactive": _V16, "force": (11, 0), "validate_certificates": _V6}
NODE_FILTERS: dict[str, Release] = dict.fromkeys(("uuid", "name", "state", "version.full"), _V6)


@functools.lru_cache(maxsize=512)
def known_names(table: str, release: Release) -> frozenset[str]:
    """Every path a release knows in one record table, parent objects included (``external.servers``)."""
    names: set[str] = set()
    for path, introduced in TABLES[table].items():
        if introduced <= release:
            parts = path.split(".")
            names.update(".".join(parts[: index + 1]) for index in range(len(parts)))
    return frozenset(names)


@functools.lru_cache(maxsize=512)
def exact_names(table: str, release: Release) -> frozenset[str]:
    """The entries of one table (filters, body fields, query parameters) a release has."""
    return frozenset(name for name, introduced in TABLES[table].items() if introduced <= release)


def field_known(resource: str, name: str, release: Release) -> bool:
    """A ``fields=`` name: a known path, an object holding known paths, or a path under ``_links``."""
    if name.startswith("_links.") or "._links." in name:
        return True
    return name in known_names(resource, release)


def later(table: str, name: str, release: Release) -> bool:
    """Is ``name`` in ``table``, but only from a release after ``release``?"""
    introduced = TABLES[table].get(name)
    return introduced is not None and introduced > release


CERTIFICATE_FILTERS: dict[str, Release] = {
    name: release for name, release in CERTIFICATE_FIELDS.items() if name != "_links"
}

TABLES: dict[str, Mapping[str, Release]] = {
    **RESOURCES,
    "certificate_filters": CERTIFICATE_FILTERS,
    "svm_filters": {name: release for name, release in SVM_FIELDS.items() if name != "_links"},
    "key_manager_filters": KEY_MANAGER_FILTERS,
    "key_id_filters": KEY_ID_FILTERS,
    "key_server_filters": KEY_SERVER_FILTERS,
    "key_store_filters": KEY_STORE_FILTERS,
    "node_filters": NODE_FILTERS,
    "body": BODY_FIELDS,
    "mutation_query": MUTATION_QUERY,
}
