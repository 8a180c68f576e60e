"""ONTAP's key-manager checks, in ONTAP's order: body + state -> ``Change`` or refusal; changes nothing.

No HTTP, no clock, no randomness: each rule takes the fleet (for the MetroCluster partner and the
settings), the cluster and the request body, and returns a ``Decision``. A request that passes every
check becomes a ``Change``: data that ``effects`` applies at once or, when the cluster answers with
jobs, when its job ends (data, not closures, so ``persist`` can save a fleet with jobs in flight). The
first failed check raises ``Refused``; ``decides`` turns it into a ``Refusal``. A passphrase check is
part of the decision (``passphrase_ok``) because ONTAP keeps its score even when it refuses: a wrong
passphrase counts toward the Common Criteria lockout, and ``effects`` does the counting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, ParamSpec

from fleet.ontap import codes
from fleet.sim import releases
from fleet.sim.state import CertRef, Cluster, Fleet, KeyManager, KeyServer, Svm

ONBOARD_MIN, CC_MIN, PASSPHRASE_MAX = 32, 64, 256
MAX_PRIMARY_SERVERS = 4
KEY_SERVER_PATCH_FIELDS = (
    "timeout",
    "username",
    "password",
    "secondary_key_servers",
    "create_remove_timeout",
)
P = ParamSpec("P")


@dataclass(frozen=True, slots=True)
class Reply:
    """What ONTAP answers: an HTTP status, a JSON body and, for creations, a Location header."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def error(
        cls, code: int, *, target: str | None = None, message: str | None = None, status: int | None = None
    ) -> Reply:
        return cls(status or error_status(code), error_body(code, target=target, message=message))

    @property
    def error_code(self) -> int | None:
        error = self.body.get("error")
        return int(error["code"]) if isinstance(error, dict) else None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A failed check: ONTAP's error and, when the check was a passphrase's, whether it was right."""

    code: int
    target: str | None = None
    message: str | None = None
    passphrase_ok: bool | None = None  # None: no passphrase checked; False counts toward the lockout

    def reply(self) -> Reply:
        return Reply.error(self.code, target=self.target, message=self.message)


class Refused(Exception):
    """Raised inside a rule (or a handler) to stop at the first failed check; carries its ``Refusal``."""

    def __init__(
        self,
        code: int,
        *,
        target: str | None = None,
        message: str | None = None,
        passphrase_ok: bool | None = None,
    ) -> None:
        super().__init__(code)
        self.refusal = Refusal(code, target, message, passphrase_ok)


def error_status(code: int) -> int:
    info = codes.code_info(code)
    return info.http_status if info is not None else 400


def error_body(code: int, *, target: str | None = None, message: str | None = None) -> dict[str, Any]:
    """ONTAP's error object: ``code`` is a string on the wire."""
    error: dict[str, Any] = {"message": message or codes.message_for(code), "code": str(code)}
    if target:
        error["target"] = target
    return {"error": error}


@dataclass(frozen=True, slots=True)
class Change:
    """A validated mutation for ``effects`` to apply, now or when its job ends.

    A creation's params lack the new key manager's ``uuid`` (and the Change its ``location``):
    ``effects`` allocates both when it commits, since allocating is itself a change of state.
    """

    operation: str  # a key of effects' table of appliers
    params: dict[str, Any]
    description: str  # the job's description
    status: int = 200  # the synchronous success status (201 for creations)
    location: str | None = None
    body: dict[str, Any] = field(default_factory=dict)  # the synchronous success body
    at_once: bool = False  # never a job, even on a cluster that answers with jobs (key servers)
    passphrase_ok: bool | None = None  # True: a passphrase was checked and right (clears the streak)


# What a rule decides: a change to make, a refusal, or an answer that changes nothing.
Decision = Change | Refusal | Reply


def decides(rule: Callable[P, Decision]) -> Callable[P, Decision]:
    """Return the first failed check (``Refused``) as the rule's ``Refusal``."""

    @wraps(rule)
    def run(*args: P.args, **kwargs: P.kwargs) -> Decision:
        try:
            return rule(*args, **kwargs)
        except Refused as refused:
            return refused.refusal

    return run


# --- body checks ----------------------------------------------------------------------------------------

# Leaf paths each operation accepts; a path ending in "[]" is a list of scalars. Read-only paths answer
# 262196, anything else 262179, both with the offending path as target.
PATCH_KM_FIELDS = frozenset(
    {
        "onboard.passphrase",
        "onboard.existing_passphrase",
        "onboard.synchronize",
        "external.client_certificate.name",
        "external.client_certificate.uuid",
        "external.server_ca_certificates.name",
        "external.server_ca_certificates.uuid",
        "is_default_data_at_rest_encryption_disabled",
    }
)
SERVER_FIELDS = ("server", "timeout", "username", "password", "secondary_key_servers")
POST_KM_FIELDS = frozenset(
    {
        "onboard.passphrase",
        "onboard.existing_passphrase",  # the rules refuse it: 65537241 with synchronize, else 262196
        "onboard.synchronize",
        "external.client_certificate.name",
        "external.client_certificate.uuid",
        "external.server_ca_certificates.name",
        "external.server_ca_certificates.uuid",
        *(f"external.servers.{name}" for name in SERVER_FIELDS),
        "svm.name",
        "svm.uuid",
        "policy",
        "is_default_data_at_rest_encryption_disabled",
    }
)
KM_READ_ONLY = frozenset(
    {
        "uuid",
        "scope",
        "status",
        "onboard.enabled",
        "onboard.key_backup",
        "onboard.existing_passphrase",
        "volume_encryption",
        "enabled",
        "configuration",
        "policy",
        "external.servers",
        "svm",
        "_links",
    }
)
POST_KEY_SERVER_FIELDS = frozenset({*SERVER_FIELDS, *(f"records.{name}" for name in SERVER_FIELDS)})
PATCH_KEY_SERVER_FIELDS = frozenset(KEY_SERVER_PATCH_FIELDS)
KEY_SERVER_READ_ONLY = frozenset({"server", "connectivity", "_links", "records"})


def leaf_paths(body: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of a JSON body's leaves; list items share their list's path."""
    paths: list[str] = []
    for key, value in body.items():
        path = f"{prefix}{key}"
        items = value if isinstance(value, list) else [value]
        nested = [item for item in items if isinstance(item, dict)]
        if nested:
            for item in nested:
                paths.extend(leaf_paths(item, f"{path}."))
        else:
            paths.append(path)
    return paths


def check_fields(body: dict[str, Any], allowed: frozenset[str], read_only: frozenset[str]) -> None:
    for path in leaf_paths(body):
        if path in allowed or any(name.startswith(f"{path}.") for name in allowed):  # an empty object/list
            continue
        if any(path == ro or path.startswith(f"{ro}.") for ro in read_only):
            raise Refused(codes.FIELD_NOT_SETTABLE, target=path)
        raise Refused(codes.UNEXPECTED_ARGUMENT, target=path, message=f'Unexpected argument "{path}".')


def check_release(fleet: Fleet, cluster: Cluster, body: dict[str, Any]) -> None:
    """A body field of a later release than the cluster's is an argument this release does not know
    (``SimSettings.release_gap_code``; ``releases`` says why that is a setting)."""
    release = (cluster.version[1], cluster.version[2])
    for path in leaf_paths(body):
        if releases.later("body", path, release):
            message = f'Unexpected argument "{path}".'
            raise Refused(fleet.settings.release_gap_code, target=path, message=message)


def _string(value: Any, target: str) -> str:
    if not isinstance(value, str):
        raise Refused(codes.INVALID_VALUE, target=target)
    return value


def _bool(value: Any, target: str) -> bool:
    if not isinstance(value, bool):
        raise Refused(codes.INVALID_VALUE, target=target)
    return value


# --- guards shared by every key-manager mutation ---------------------------------------------------------


def guard(fleet: Fleet, cluster: Cluster, *, partner_sync: bool = False) -> None:
    """Lockout first (nothing passes), then the MetroCluster pending-sync gate (only the sync passes)."""
    if cluster.locked:
        raise Refused(codes.PASSPHRASE_LOCKOUT)
    if cluster.pending_partner_sync is not None and not partner_sync:
        raise Refused(codes.MCC_SYNC_PENDING)


def wrong_passphrase() -> Refused:
    """A wrong passphrase: refused, and ``effects`` counts it toward the Common Criteria lockout."""
    return Refused(codes.PASSPHRASE_INCORRECT, passphrase_ok=False)


def check_length(cluster: Cluster, passphrase: str, *, code: int, target: str) -> None:
    """32–256 ASCII characters; 64–256 in Common Criteria mode (its own code)."""
    minimum = CC_MIN if cluster.cc_mode else ONBOARD_MIN
    if not passphrase.isascii() or not minimum <= len(passphrase) <= PASSPHRASE_MAX:
        raise Refused(codes.PASSPHRASE_LENGTH_CC if cluster.cc_mode else code, target=target)


def locate(cluster: Cluster, km_uuid: str) -> tuple[Svm | None, KeyManager]:
    """The active key manager ``km_uuid`` names and its data SVM (None: the admin SVM, cluster scope).
    An inactive configuration (9.16+) cannot be modified: 65539586 from the PATCH table, answered before
    any body check (the order is UNCONFIRMED)."""
    km = cluster.key_manager
    inactive = cluster.inactive_key_manager
    if inactive is not None and inactive.uuid == km_uuid:
        raise Refused(codes.INACTIVE_CONFIGURATION, target="uuid")
    if km is not None and km.uuid == km_uuid:
        return None, km
    for svm in cluster.svms:
        if svm.key_manager is not None and svm.key_manager.uuid == km_uuid:
            return svm, svm.key_manager
    raise Refused(codes.NOT_FOUND, target="uuid")


def find_key_manager(cluster: Cluster, km_uuid: str) -> KeyManager:
    """The active key manager ``km_uuid`` names, of any scope (``locate``)."""
    return locate(cluster, km_uuid)[1]


def scope_params(svm: Svm | None) -> dict[str, Any]:
    """What a change carries so ``effects`` finds its key manager: the data SVM's name, if any."""
    return {} if svm is None else {"svm": svm.name}


def key_manager_path(km_uuid: str) -> str:
    return f"/api/security/key-managers/{km_uuid}"


# --- PATCH /api/security/key-managers/{uuid} -------------------------------------------------------------


@decides
def patch_key_manager(fleet: Fleet, cluster: Cluster, km_uuid: str, body: dict[str, Any]) -> Decision:
    """Dispatch a PATCH the way ONTAP reads it: synchronize, passphrase change, or external change. An
    SVM-scope key manager is external only: an onboard PATCH there answers 65536916 (the POST table's
    "only supported for an admin SVM"; which code the PATCH answers is UNCONFIRMED)."""
    svm, _ = locate(cluster, km_uuid)
    check_fields(body, PATCH_KM_FIELDS, KM_READ_ONLY)
    check_release(fleet, cluster, body)
    onboard = body.get("onboard")
    if svm is not None and isinstance(onboard, dict) and onboard:
        raise Refused(codes.OKM_ADMIN_SVM_ONLY, target="onboard")
    if svm is not None and body.get("external"):
        return modify_external(fleet, cluster, body, svm)
    if isinstance(onboard, dict) and onboard.get("synchronize") is True:
        return synchronize(fleet, cluster, body)
    if isinstance(onboard, dict) and onboard:
        return change_passphrase(fleet, cluster, body)
    if body.get("external"):
        return modify_external(fleet, cluster, body)
    if "is_default_data_at_rest_encryption_disabled" in body:
        guard(fleet, cluster)
        _bool(
            body["is_default_data_at_rest_encryption_disabled"], "is_default_data_at_rest_encryption_disabled"
        )
        return Reply(200)
    raise Refused(codes.NO_VALUES)


def _onboard_km(cluster: Cluster) -> KeyManager:
    km = cluster.key_manager
    if km is None or km.kind != "onboard":
        raise Refused(codes.OKM_NOT_ENABLED)
    return km


@decides
def change_passphrase(fleet: Fleet, cluster: Cluster, body: dict[str, Any]) -> Decision:
    """Checks in ONTAP's order: both fields → length → existing is current → new differs (ontap-notes)."""
    guard(fleet, cluster)
    km = _onboard_km(cluster)
    onboard = body.get("onboard") or {}
    new, existing = onboard.get("passphrase"), onboard.get("existing_passphrase")
    if new is None or existing is None:
        raise Refused(codes.PASSPHRASE_BOTH_NEEDED)
    new = _string(new, "onboard.passphrase")
    existing = _string(existing, "onboard.existing_passphrase")
    check_length(cluster, new, code=codes.PASSPHRASE_LENGTH, target="onboard.passphrase")
    if existing != km.passphrase:
        raise wrong_passphrase()
    if new == km.passphrase:  # the existing passphrase was right: the streak clears all the same
        raise Refused(codes.PASSPHRASE_SAME_AS_OLD, passphrase_ok=True)
    path = key_manager_path(km.uuid)
    return Change("change_passphrase", {"passphrase": new}, f"PATCH {path}", passphrase_ok=True)


def _partner_sync_allowed(fleet: Fleet, cluster: Cluster, method: str) -> bool:
    """Does this site take its partner step as ``method``? Its own fault (``partner_post``) first, else
    ``SimSettings.partner_sync_method``."""
    chosen = cluster.faults.partner_sync_method or fleet.settings.partner_sync_method
    return chosen in (method, "either")


def _sync_passphrases(fleet: Fleet, cluster: Cluster, km: KeyManager) -> set[str | None]:
    """What a sync accepts: the pending NEW passphrase on a site waiting for its partner's rotation
    (ontap-notes §4.1, UNCONFIRMED; the old one too only when the settings say so), else the current one."""
    if cluster.pending_partner_sync is None:
        return {km.passphrase}
    accepted: set[str | None] = {cluster.pending_partner_sync}
    if fleet.settings.pending_sync_accepts_old:
        accepted.add(km.passphrase)
    return accepted


@decides
def synchronize(fleet: Fleet, cluster: Cluster, body: dict[str, Any]) -> Decision:
    """PATCH synchronize: restores missing keys on the local nodes. It is also the partner step of a
    MetroCluster rotation: our chosen REST form (UNCONFIRMED, ontap-notes §4.1) is PATCH synchronize with
    existing_passphrase = the NEW passphrase; ``SimSettings.partner_sync_method`` selects alternatives."""
    guard(fleet, cluster, partner_sync=_partner_sync_allowed(fleet, cluster, "patch"))
    km = _onboard_km(cluster)
    onboard = body.get("onboard") or {}
    if onboard.get("existing_passphrase") is None:
        raise Refused(codes.PATCH_SYNC_NEEDS_EXISTING, target="onboard.existing_passphrase")
    if "passphrase" in onboard:
        raise Refused(codes.PATCH_SYNC_NO_PASSPHRASE, target="onboard.passphrase")
    existing = _string(onboard["existing_passphrase"], "onboard.existing_passphrase")
    if existing not in _sync_passphrases(fleet, cluster, km):
        raise wrong_passphrase()
    return Change("synchronize", {}, f"PATCH {key_manager_path(km.uuid)}", passphrase_ok=True)


@decides
def modify_external(fleet: Fleet, cluster: Cluster, body: dict[str, Any], svm: Svm | None = None) -> Decision:
    """The KMIP certificates of the admin SVM's key manager or (``svm``) a data SVM's; the certificates
    must be installed on that SVM (65536821), a client certificate must keep the key pair (65536850)."""
    guard(fleet, cluster)
    km = cluster.key_manager if svm is None else svm.key_manager
    if km is None or km.kind != "external":
        raise Refused(codes.EXTERNAL_NOT_ENABLED)
    external = body["external"]
    owner = "" if svm is None else svm.name
    params: dict[str, Any] = scope_params(svm)
    if "client_certificate" in external:
        client = _cert(cluster, external["client_certificate"], "client_certificate", owner)
        params["client_certificate"] = client
        _same_key_pair(cluster, km, client["uuid"])
    if "server_ca_certificates" in external:
        params["server_ca_certificates"] = [
            _cert(cluster, ref, "server_ca_certificates", owner) for ref in external["server_ca_certificates"]
        ]
    _tls_fault(cluster)
    return Change("modify_external", params, f"PATCH {key_manager_path(km.uuid)}")


def _installed(cluster: Cluster, cert_uuid: str) -> CertRef | None:
    return next((cert for cert in cluster.certificates if cert.uuid == cert_uuid), None)


def _same_key_pair(cluster: Cluster, km: KeyManager, new_uuid: str) -> None:
    """A new client certificate must hold the current one's key pair (``subject_key_identifier``), else
    400 65536850. A current certificate no longer installed is not compared (UNCONFIRMED)."""
    current = _installed(cluster, km.client_certificate.uuid) if km.client_certificate else None
    new = _installed(cluster, new_uuid)
    if current is not None and new is not None and current.key_pair != new.key_pair:
        raise Refused(codes.CLIENT_CERT_KEYS_DIFFER, target="external.client_certificate")


def _cert(cluster: Cluster, ref: Any, name: str, svm: str = "") -> dict[str, str]:
    """Resolve a certificate reference by uuid or name among the certificates installed on the key
    manager's SVM (``svm``; "" = the admin SVM): another SVM's certificate is not installed here."""
    target = f"external.{name}"
    if not isinstance(ref, dict) or not (ref.get("uuid") or ref.get("name")):
        raise Refused(codes.INVALID_VALUE, target=target)
    for cert in cluster.certificates:
        mine = cert.svm == svm
        if mine and ref.get("uuid") in (None, cert.uuid) and ref.get("name") in (None, cert.name):
            return {"name": cert.name, "uuid": cert.uuid, "svm": cert.svm}
    raise Refused(codes.CERTIFICATE_NOT_INSTALLED, target=target)


def _tls_fault(cluster: Cluster) -> None:
    if cluster.faults.kmip_tls_fail is not None:
        raise Refused(cluster.faults.kmip_tls_fail)


# --- POST /api/security/key-managers ---------------------------------------------------------------------


@decides
def create_key_manager(fleet: Fleet, cluster: Cluster, body: dict[str, Any]) -> Decision:
    check_fields(body, POST_KM_FIELDS, KM_READ_ONLY)
    check_release(fleet, cluster, body)
    onboard, external = body.get("onboard"), body.get("external")
    svm = _svm_of_body(cluster, body.get("svm"))
    if svm is None and "policy" in body:
        raise Refused(codes.POLICY_NOT_ON_ADMIN_SVM, target="policy")
    if svm is not None:
        return create_svm_external(fleet, cluster, svm, body)
    if isinstance(onboard, dict) and onboard.get("synchronize") is True:
        return post_synchronize(fleet, cluster, body)
    if isinstance(onboard, dict):
        return create_onboard(fleet, cluster, body)
    if isinstance(external, dict):
        return create_external(fleet, cluster, body)
    raise Refused(codes.MISSING_VALUE, target="onboard", message='Missing value "onboard" or "external".')


def _svm_of_body(cluster: Cluster, ref: Any) -> Svm | None:
    """The data SVM a POST names (``svm.name``/``svm.uuid``); None for none or the admin SVM (whose name
    is the cluster's). An SVM the cluster does not have: 13434920 "SVM does not exist." (the code of the
    key-stores table; which code the key-managers POST answers is UNCONFIRMED)."""
    if ref is None:
        return None
    if not isinstance(ref, dict) or not (ref.get("name") or ref.get("uuid")):
        raise Refused(codes.INVALID_VALUE, target="svm")
    if ref.get("name") == cluster.name and ref.get("uuid") is None:
        return None
    for svm in cluster.svms:
        if ref.get("name") in (None, svm.name) and ref.get("uuid") in (None, svm.uuid):
            return svm
    raise Refused(codes.SVM_NOT_FOUND, target="svm.name" if ref.get("name") else "svm.uuid")


@decides
def create_svm_external(fleet: Fleet, cluster: Cluster, svm: Svm, body: dict[str, Any]) -> Decision:
    """POST with a data SVM: multitenant key management, external only (65536916 for onboard), one key
    manager per SVM (65536823), not on a MetroCluster site before
    ``releases.SVM_KEY_MANAGERS_IN_METROCLUSTER`` (65536824); certificates of that SVM."""
    guard(fleet, cluster)
    if isinstance(body.get("onboard"), dict):
        raise Refused(codes.OKM_ADMIN_SVM_ONLY, target="onboard")
    if svm.key_manager is not None:
        raise Refused(codes.KEY_MANAGER_ALREADY_CONFIGURED, target="svm")
    release = (cluster.version[1], cluster.version[2])
    if cluster.metrocluster is not None and release < releases.SVM_KEY_MANAGERS_IN_METROCLUSTER:
        raise Refused(codes.MULTITENANT_NOT_IN_METROCLUSTER)
    external = body.get("external")
    if not isinstance(external, dict):
        raise Refused(codes.MISSING_VALUE, target="external", message='Missing value "external".')
    servers = external.get("servers") or []
    if not servers or not external.get("client_certificate") or not external.get("server_ca_certificates"):
        raise Refused(codes.EXTERNAL_NEEDS_CERTS_AND_SERVERS)
    records = [_server_record(raw, "external.servers") for raw in servers]
    _check_new_servers([], [record["server"] for record in records])
    client = _cert(cluster, external["client_certificate"], "client_certificate", svm.name)
    cas = [
        _cert(cluster, ref, "server_ca_certificates", svm.name) for ref in external["server_ca_certificates"]
    ]
    _tls_fault(cluster)
    params = {
        "svm": svm.name,
        "servers": records,
        "client_certificate": client,
        "server_ca_certificates": cas,
    }
    return Change("create_external", params, "POST /api/security/key-managers", status=201)


def _partner_reachable(fleet: Fleet, cluster: Cluster) -> Cluster:
    """The MetroCluster partner, or 65539221 when it cannot be reached (the documented POST code)."""
    partner = fleet.partner_of(cluster)
    if partner is None or cluster.metrocluster is None or not cluster.metrocluster.partner_reachable:
        raise Refused(codes.METROCLUSTER_PEER_UNHEALTHY)
    return partner


@decides
def post_synchronize(fleet: Fleet, cluster: Cluster, body: dict[str, Any]) -> Decision:
    """The MetroCluster partner POST: creates OKM here with the partner's passphrase."""
    guard(fleet, cluster, partner_sync=_partner_sync_allowed(fleet, cluster, "post"))
    onboard = body["onboard"]
    if onboard.get("passphrase") is None:
        raise Refused(codes.POST_SYNC_NEEDS_PASSPHRASE, target="onboard.passphrase")
    if "existing_passphrase" in onboard:
        raise Refused(codes.POST_SYNC_NO_EXISTING, target="onboard.existing_passphrase")
    passphrase = _string(onboard["passphrase"], "onboard.passphrase")
    if cluster.metrocluster is None:
        raise Refused(codes.SYNC_NOT_METROCLUSTER)
    partner = _partner_reachable(fleet, cluster)
    if partner.key_manager is None or partner.key_manager.kind != "onboard":
        raise Refused(codes.SYNC_OKM_NOT_ON_PARTNER)
    local = cluster.key_manager
    if local is not None and local.kind == "onboard" and cluster.pending_partner_sync is not None:
        # settings let the partner step be a POST (the status message's own wording)
        if passphrase not in _sync_passphrases(fleet, cluster, local):
            raise wrong_passphrase()
        return Change("synchronize", {}, "POST /api/security/key-managers", status=201, passphrase_ok=True)
    if local is not None:
        if local.kind == "onboard" and passphrase == local.passphrase:
            raise Refused(codes.OKM_ALREADY_CONFIGURED_USE_PATCH)
        raise Refused(codes.SYNC_OKM_ALREADY_LOCAL)
    if passphrase != partner.key_manager.passphrase:
        raise wrong_passphrase()
    return Change(
        "create_onboard",
        {"passphrase": passphrase, "synchronize": True},
        "POST /api/security/key-managers",
        status=201,
        passphrase_ok=True,
    )


@decides
def create_onboard(fleet: Fleet, cluster: Cluster, body: dict[str, Any]) -> Decision:
    guard(fleet, cluster)
    onboard = body["onboard"]
    if "existing_passphrase" in onboard:
        raise Refused(codes.FIELD_NOT_SETTABLE, target="onboard.existing_passphrase")
    if onboard.get("passphrase") is None:
        raise Refused(codes.MISSING_VALUE, target="onboard.passphrase")
    passphrase = _string(onboard["passphrase"], "onboard.passphrase")
    if cluster.key_manager is not None:
        raise Refused(codes.KEY_MANAGER_ALREADY_CONFIGURED)
    check_length(cluster, passphrase, code=codes.OKM_PASSPHRASE_LENGTH, target="onboard.passphrase")
    if cluster.metrocluster is not None:
        partner = _partner_reachable(fleet, cluster)
        if partner.key_manager is not None and partner.key_manager.kind == "onboard":
            raise Refused(codes.OKM_ALREADY_AT_PARTNER)
        if partner.key_manager is not None:
            raise Refused(codes.OKM_PARTNER_HAS_EXTERNAL)
    return Change(
        "create_onboard",
        {"passphrase": passphrase, "synchronize": False},
        "POST /api/security/key-managers",
        status=201,
    )


def _server_record(raw: dict[str, Any], target: str) -> dict[str, Any]:
    server = _string(raw.get("server"), f"{target}.server")
    timeout = raw.get("timeout", 25)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not -1 <= timeout <= 60:
        raise Refused(codes.INVALID_VALUE, target=f"{target}.timeout")
    return {
        "server": server,
        "timeout": timeout,
        "username": raw.get("username"),
        "secondary_key_servers": list(raw.get("secondary_key_servers") or []),
    }


def _check_new_servers(existing: list[str], new: list[str]) -> None:
    if len(set(new)) != len(new):
        raise Refused(codes.DUPLICATE_KEY_SERVERS)
    if set(new) & set(existing):
        raise Refused(codes.KEY_SERVERS_ALREADY_EXIST)
    if len(existing) + len(new) > MAX_PRIMARY_SERVERS:
        raise Refused(codes.MAX_PRIMARY_KEY_SERVERS)


@decides
def create_external(fleet: Fleet, cluster: Cluster, body: dict[str, Any]) -> Decision:
    guard(fleet, cluster)
    external = body["external"]
    if cluster.key_manager is not None:
        raise Refused(codes.KEY_MANAGER_ALREADY_CONFIGURED)
    servers = external.get("servers") or []
    if not servers or not external.get("client_certificate") or not external.get("server_ca_certificates"):
        raise Refused(codes.EXTERNAL_NEEDS_CERTS_AND_SERVERS)
    records = [_server_record(raw, "external.servers") for raw in servers]
    _check_new_servers([], [record["server"] for record in records])
    client = _cert(cluster, external["client_certificate"], "client_certificate")
    cas = [_cert(cluster, ref, "server_ca_certificates") for ref in external["server_ca_certificates"]]
    if cluster.metrocluster is not None:
        partner = fleet.partner_of(cluster)
        if partner is not None and partner.key_manager is not None and partner.key_manager.kind == "onboard":
            raise Refused(codes.EXTERNAL_PARTNER_HAS_OKM)
    _tls_fault(cluster)
    params = {"servers": records, "client_certificate": client, "server_ca_certificates": cas}
    return Change("create_external", params, "POST /api/security/key-managers", status=201)


# --- DELETE /api/security/key-managers/{uuid} ------------------------------------------------------------


@decides
def delete_key_manager(fleet: Fleet, cluster: Cluster, km_uuid: str) -> Decision:
    inactive = cluster.inactive_key_manager
    if inactive is not None and inactive.uuid == km_uuid:  # an inactive configuration can be deleted
        return Change("delete_inactive", {}, f"DELETE {key_manager_path(km_uuid)}")
    svm, km = locate(cluster, km_uuid)
    guard(fleet, cluster)
    return Change("delete", scope_params(svm), f"DELETE {key_manager_path(km.uuid)}")


# --- key servers (external only; synchronous: the spec documents 201/200 only) ---------------------------


def _external_km(cluster: Cluster, km_uuid: str) -> tuple[Svm | None, KeyManager]:
    svm, km = locate(cluster, km_uuid)
    if km.kind != "external":
        raise Refused(codes.EXTERNAL_NOT_ENABLED)
    return svm, km


def _find_server(km: KeyManager, server: str) -> KeyServer:
    for candidate in km.servers:
        if candidate.server == server:
            return candidate
    raise Refused(codes.KEY_SERVER_NOT_CONFIGURED, target="server")


@decides
def add_key_servers(fleet: Fleet, cluster: Cluster, km_uuid: str, body: dict[str, Any]) -> Decision:
    """One server (``{"server": …}``) or several (``{"records": […]}``), all or nothing."""
    svm, km = _external_km(cluster, km_uuid)
    guard(fleet, cluster)
    check_fields(body, POST_KEY_SERVER_FIELDS, frozenset({"connectivity", "_links"}))
    check_release(fleet, cluster, body)
    raw_records = body.get("records", [body])
    if not isinstance(raw_records, list) or not raw_records:
        raise Refused(codes.INVALID_VALUE, target="records")
    records = [_server_record(raw, "records" if "records" in body else "") for raw in raw_records]
    _check_new_servers([server.server for server in km.servers], [record["server"] for record in records])
    _tls_fault(cluster)
    return Change(
        "add_key_servers",
        {"servers": records, **scope_params(svm)},
        f"POST {key_manager_path(km.uuid)}/key-servers",
        status=201,
        body={"num_records": len(records), "records": [{"server": r["server"]} for r in records]},
        at_once=True,
    )


@decides
def modify_key_server(
    fleet: Fleet, cluster: Cluster, km_uuid: str, server: str, body: dict[str, Any]
) -> Decision:
    """Checks every field before anything changes (``password`` is accepted, not kept)."""
    svm, km = _external_km(cluster, km_uuid)
    guard(fleet, cluster)
    _find_server(km, server)
    check_fields(body, PATCH_KEY_SERVER_FIELDS, KEY_SERVER_READ_ONLY)
    check_release(fleet, cluster, body)
    if not any(name in body for name in KEY_SERVER_PATCH_FIELDS):
        raise Refused(codes.KEY_SERVER_NO_FIELDS)
    params: dict[str, Any] = {"server": server, **scope_params(svm)}
    if "timeout" in body:
        params["timeout"] = _server_record({"server": server, "timeout": body["timeout"]}, "")["timeout"]
    if "username" in body:
        params["username"] = _string(body["username"], "username")
    if "secondary_key_servers" in body:
        params["secondary_key_servers"] = [str(name) for name in body["secondary_key_servers"] or []]
    path = f"{key_manager_path(km.uuid)}/key-servers/{server}"
    return Change("modify_key_server", params, f"PATCH {path}", at_once=True)


@decides
def delete_key_server(fleet: Fleet, cluster: Cluster, km_uuid: str, server: str) -> Decision:
    svm, km = _external_km(cluster, km_uuid)
    guard(fleet, cluster)
    _find_server(km, server)
    path = f"{key_manager_path(km.uuid)}/key-servers/{server}"
    params = {"server": server, **scope_params(svm)}
    return Change("delete_key_server", params, f"DELETE {path}", at_once=True)
