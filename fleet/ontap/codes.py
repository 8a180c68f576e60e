"""ONTAP error codes fleet knows, their HTTP status and what each means for an orchestrator.

One table, shared by the client (to classify failures), the engine (to decide the next step), the
report (to say what to do next) and the simulator (to answer exactly as ONTAP does). Messages for
codes seen live (65536139, 65536150) are the live wording, because clients match on them; the rest
follow NetApp's published error tables. HTTP statuses: endpoint-specific codes come back as 400
(ontap-notes §2.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CodeClass(StrEnum):
    """How an orchestrator should treat a failure."""

    RETRYABLE = "retryable"  # transient: back off and send again (never a mutation of unknown outcome)
    PERMANENT = "permanent"  # the request is wrong for this cluster; retrying will not help
    PARTIAL = "partial"  # partially applied: find the nodes, sync, verify
    NEEDS_HUMAN = "needs_human"  # state fleet must not guess about (wrong passphrase, lockout)


@dataclass(frozen=True, slots=True)
class CodeInfo:
    code: int
    message: str
    http_status: int
    klass: CodeClass
    next_step: str = ""


# Named codes the engine and the simulator refer to.
DUPLICATE = 1
INVALID_FIELD = 2
NOT_SUPPORTED = 3
NOT_FOUND = 4
PERMISSION_DENIED = 6
RESOURCE_LIMIT = 7
RESOURCE_IN_USE = 8
RPC_TIMEOUT = 65541
UNEXPECTED_EXCEPTION = 262145
TOO_MANY_REQUESTS = 262160
MISSING_VALUE = 262177
UNEXPECTED_ARGUMENT = 262179
INVALID_VALUE = 262197
NO_VALUES = 262190
FIELD_NOT_SETTABLE = 262196
SECRET_IN_URL = 262202
INVALID_JSON = 262199
USER_NOT_AUTHORIZED = 6691623
UUID_NOT_FOUND = 8586226

PASSPHRASE_INCORRECT = 65536139
PASSPHRASE_SAME_AS_OLD = 65536150
PASSPHRASE_LENGTH = 65536404
PASSPHRASE_CHANGE_FAILED = 65536406
PASSPHRASE_FAILED_SOME_NODES = 65536407
# Same text as 65536407 in the PATCH table (seed file); ONTAP does not say how the two differ: both are
# a passphrase change that took effect with some nodes left behind.
PASSPHRASE_FAILED_SOME_NODES_2 = 65536408
#: A passphrase change ONTAP applied while some nodes kept stale keys: partial, never a refusal.
PASSPHRASE_CHANGED_SOME_NODES_STALE = frozenset(
    {PASSPHRASE_FAILED_SOME_NODES, PASSPHRASE_FAILED_SOME_NODES_2}
)
PASSPHRASE_LENGTH_CC = 65536802
CERTIFICATE_NOT_INSTALLED = 65536821
MULTITENANT_NOT_SUPPORTED = 65536822
CLIENT_CERT_KEYS_DIFFER = 65536850
EXTERNAL_NOT_ENABLED = 65536828
OKM_FAILED_SOME_NODES = 65536903
OKM_ALREADY_AT_PARTNER = 65536906
PASSPHRASE_BOTH_NEEDED = 65536917
OKM_PASSPHRASE_LENGTH = 65536920
POST_SYNC_NEEDS_PASSPHRASE = 65537240
POST_SYNC_NO_EXISTING = 65537241
PATCH_SYNC_NEEDS_EXISTING = 65537242
PATCH_SYNC_NO_PASSPHRASE = 65537243
SYNC_OKM_ALREADY_LOCAL = 65537244
SYNC_OKM_NOT_ON_PARTNER = 65537245
SYNC_NOT_METROCLUSTER = 65537246
OKM_ALREADY_CONFIGURED_USE_PATCH = 65539706
KEY_MANAGER_ALREADY_CONFIGURED = 65536823
MULTITENANT_NOT_IN_METROCLUSTER = 65536824
OKM_ADMIN_SVM_ONLY = 65536916
POLICY_NOT_ON_ADMIN_SVM = 65538120
SVM_NOT_FOUND = 13434920
MAX_PRIMARY_KEY_SERVERS = 65536038
KEY_SERVERS_ALREADY_EXIST = 65536870
DUPLICATE_KEY_SERVERS = 65536871
KEY_SERVER_NOT_CONFIGURED = 65536843
KEY_SERVER_NO_FIELDS = 65536880
TLS_BAD_SERVER_CA = 66060338
TLS_BAD_CLIENT_CERT = 66060339
TLS_CRYPTSOFT = 66060340
NOT_A_KEY_MANAGER = 65537125
METROCLUSTER_PEER_UNHEALTHY = 65539221
EXTERNAL_NEEDS_CERTS_AND_SERVERS = 65536876
EXTERNAL_PARTNER_HAS_OKM = 65536895
OKM_PARTNER_HAS_EXTERNAL = 65536900
OKM_NOT_ENABLED = 65537301
INACTIVE_CONFIGURATION = 65539586  # 9.16+: an inactive (enabled=false) key-manager configuration
# The status a MetroCluster site shows (and the refusal it answers) while its pair waits for the partner
# sync. 346758 is the spec's example status code (probably a placeholder, UNCONFIRMED; ontap-notes §4.1).
MCC_SYNC_PENDING = 346758
# ONTAP documents no REST code for the Common Criteria passphrase lockout; this one is the simulator's
# choice (absent from NetApp's published tables), so fleet can tell a locked cluster from a wrong passphrase.
PASSPHRASE_LOCKOUT = 65536808

_R, _P, _X, _H = CodeClass.RETRYABLE, CodeClass.PERMANENT, CodeClass.PARTIAL, CodeClass.NEEDS_HUMAN

_TABLE: tuple[CodeInfo, ...] = (
    CodeInfo(1, "An entry with the same identifiers already exists.", 409, _P),
    CodeInfo(2, "A field has an invalid value, is missing, or an extra field was provided.", 400, _P),
    CodeInfo(3, "The operation is not supported.", 405, _P),
    CodeInfo(4, "An entry with the specified identifiers was not found.", 404, _P),
    CodeInfo(
        6, "Permission denied.", 403, _H, "Grant the inventory's user the security role on this cluster."
    ),
    CodeInfo(7, "Resource limit exceeded.", 429, _R),
    CodeInfo(8, "Resource in use.", 409, _R),
    CodeInfo(65541, "RPC timed out.", 500, _R),
    CodeInfo(65552, "Generic RPC failure.", 500, _R),
    CodeInfo(65562, "Internal RPC error", 500, _R),
    CodeInfo(262145, "Application code returned an unexpected exception.", 500, _R),
    CodeInfo(
        262160, "There are too many requests already being processed. Retry after a short delay.", 429, _R
    ),
    CodeInfo(262177, "Missing value.", 400, _P),
    CodeInfo(262179, "Unexpected argument.", 400, _P),
    CodeInfo(262190, "You must provide one or more values to apply your changes.", 400, _P),
    CodeInfo(262196, "Field cannot be set in this operation.", 400, _P),
    CodeInfo(262197, "Invalid value provided for field.", 400, _P),
    CodeInfo(262199, "Invalid JSON.", 400, _P),
    CodeInfo(262202, "Field is considered secret and should not be provided in the URL.", 400, _P),
    CodeInfo(
        USER_NOT_AUTHORIZED,
        "User is not authorized for this operation.",
        400,
        _H,
        "Check the inventory's username and password (secret reference) for these clusters, and that "
        "the account has the security role.",
    ),
    CodeInfo(8586226, "Specified UUID not found.", 400, _P),
    CodeInfo(
        PASSPHRASE_INCORRECT,
        "Cluster-wide passphrase is incorrect.",
        400,
        _H,
        "The --current passphrase is not this cluster's passphrase. Find the right one (the secret "
        "store's previous/pending entry, the journal's fingerprints) before another attempt: Common "
        "Criteria mode locks the cluster after repeated wrong passphrases.",
    ),
    CodeInfo(
        PASSPHRASE_SAME_AS_OLD,
        "New passphrase cannot be same as the old passphrase.",
        400,
        _P,
        "The cluster already has this passphrase; nothing to change.",
    ),
    CodeInfo(
        PASSPHRASE_LENGTH,
        "The passphrase does not match the accepted length.",
        400,
        _P,
        "Use a passphrase of 32 to 256 ASCII characters.",
    ),
    CodeInfo(PASSPHRASE_CHANGE_FAILED, "The change of passphrase failed.", 400, _P),
    CodeInfo(
        PASSPHRASE_FAILED_SOME_NODES,
        "The passphrase update failed on some nodes.",
        400,
        _X,
        "The passphrase changed but some nodes keep stale keys: run `fleet sync` with the NEW "
        "passphrase on the listed clusters, then check that no node reports restored=false keys.",
    ),
    CodeInfo(
        PASSPHRASE_FAILED_SOME_NODES_2,
        "The passphrase update failed on some nodes.",
        400,
        _X,
        "The passphrase changed but some nodes keep stale keys: run `fleet sync` with the NEW "
        "passphrase on the listed clusters, then check that no node reports restored=false keys.",
    ),
    CodeInfo(
        PASSPHRASE_LENGTH_CC,
        "The passphrase does not match the accepted length in common criteria mode.",
        400,
        _P,
        "Common Criteria mode needs a passphrase of 64 to 256 ASCII characters.",
    ),
    CodeInfo(CERTIFICATE_NOT_INSTALLED, "The certificate is not installed.", 400, _P),
    CodeInfo(
        MULTITENANT_NOT_SUPPORTED,
        "Multitenant key management is not supported in the current cluster version.",
        400,
        _P,
        "SVM-scope key managers need a newer ONTAP release on this cluster.",
    ),
    CodeInfo(
        CLIENT_CERT_KEYS_DIFFER,
        "New client certificate public or private keys are different from the existing client certificate.",
        400,
        _P,
        "Install the new client certificate with the same key pair as the one in use, or reconfigure the "
        "key servers with the new certificate.",
    ),
    CodeInfo(EXTERNAL_NOT_ENABLED, "External key management is not enabled for the SVM.", 400, _P),
    CodeInfo(KEY_MANAGER_ALREADY_CONFIGURED, "The SVM has key manager already configured.", 400, _P),
    CodeInfo(
        MULTITENANT_NOT_IN_METROCLUSTER,
        "Multitenant key management is not supported in MetroCluster configurations.",
        400,
        _P,
        "This MetroCluster's release cannot hold SVM-scope key managers; use the admin SVM's key manager.",
    ),
    CodeInfo(
        OKM_ADMIN_SVM_ONLY,
        "The Onboard Key Manager is only supported for an admin SVM.",
        400,
        _P,
        "A data SVM can only have an external (KMIP) key manager; ask for `key_manager: external` there.",
    ),
    CodeInfo(POLICY_NOT_ON_ADMIN_SVM, "The key manager policy is not supported on the admin SVM.", 400, _P),
    CodeInfo(SVM_NOT_FOUND, "SVM does not exist.", 400, _P),
    CodeInfo(
        OKM_FAILED_SOME_NODES,
        "The Onboard Key Manager has failed to configure on some nodes in the cluster. Use the CLI to "
        "sync the Onboard Key Manager configuration on failed nodes.",
        400,
        _X,
        "Run `fleet sync` with the same passphrase on the listed clusters.",
    ),
    CodeInfo(
        OKM_ALREADY_AT_PARTNER,
        "The Onboard Key Manager has already been configured at the partner site. Use the CLI to sync "
        "the Onboard Key Manager with the same passphrase.",
        400,
        _P,
    ),
    CodeInfo(
        PASSPHRASE_BOTH_NEEDED,
        "Updating an onboard passhrase requires both new and existing cluster passphrase.",
        400,
        _P,
    ),
    CodeInfo(OKM_PASSPHRASE_LENGTH, "The Onboard Key Manager passphrase length is incorrect.", 400, _P),
    CodeInfo(
        POST_SYNC_NEEDS_PASSPHRASE,
        "The Onboard Key Manager passphrase must be provided when performing a POST/synchronize operation.",
        400,
        _P,
    ),
    CodeInfo(
        POST_SYNC_NO_EXISTING,
        "The Onboard Key Manager existing_passphrase must not be provided when performing a "
        "POST/synchronize operation.",
        400,
        _P,
    ),
    CodeInfo(
        PATCH_SYNC_NEEDS_EXISTING,
        "The Onboard Key Manager existing_passphrase must be provided when performing a "
        "PATCH/synchronize operation.",
        400,
        _P,
    ),
    CodeInfo(
        PATCH_SYNC_NO_PASSPHRASE,
        "The Onboard Key Manager passphrase must not be provided when performing a PATCH/synchronize "
        "operation.",
        400,
        _P,
    ),
    CodeInfo(
        SYNC_OKM_ALREADY_LOCAL,
        "Unable to sync/create Onboard Key Manager on the local cluster; Onboard Key Manager is already "
        "configured on the cluster.",
        400,
        _P,
    ),
    CodeInfo(
        SYNC_OKM_NOT_ON_PARTNER,
        "Unable to sync/create Onboard Key Manager on the local cluster; Onboard Key Manager is not "
        "configured on the partner cluster.",
        400,
        _P,
    ),
    CodeInfo(
        SYNC_NOT_METROCLUSTER,
        "Unable to sync/create Onboard Key Manager on local cluster. This cluster is not part of a "
        "MetroCluster configuration.",
        400,
        _P,
    ),
    CodeInfo(
        OKM_ALREADY_CONFIGURED_USE_PATCH,
        "The Onboard Key Manager is already configured. Use the PATCH to sync all nodes with the Onboard "
        "Key Manager configuration.",
        400,
        _P,
    ),
    CodeInfo(
        METROCLUSTER_PEER_UNHEALTHY,
        "Failed to configure the Onboard Key Manager because the MetroCluster peer cluster is unhealthy. "
        "Verify that the peer cluster is online and healthy.",
        400,
        _R,
    ),
    CodeInfo(MAX_PRIMARY_KEY_SERVERS, "A maximum of 4 active primary key servers are allowed.", 400, _P),
    CodeInfo(KEY_SERVERS_ALREADY_EXIST, "Key management servers already configured.", 400, _P),
    CodeInfo(DUPLICATE_KEY_SERVERS, "Duplicate key management servers exist.", 400, _P),
    CodeInfo(KEY_SERVER_NOT_CONFIGURED, "The key server is not configured.", 400, _P),
    CodeInfo(KEY_SERVER_NO_FIELDS, "No fields to modify were given for the key server.", 400, _P),
    CodeInfo(
        TLS_BAD_SERVER_CA,
        "Failed to establish secure connection for a key management server due to incorrect server_ca "
        "certificates.",
        400,
        _H,
    ),
    CodeInfo(
        TLS_BAD_CLIENT_CERT,
        "Failed to establish secure connection for a key management server due to incorrect client "
        "certificates.",
        400,
        _H,
    ),
    CodeInfo(
        TLS_CRYPTSOFT,
        "Failed to establish secure connection for a key management server due to Cryptsoft error.",
        400,
        _H,
    ),
    CodeInfo(NOT_A_KEY_MANAGER, "The specified UUID is not a key manager.", 400, _P),
    CodeInfo(
        EXTERNAL_NEEDS_CERTS_AND_SERVERS,
        "External key management requires client and server CA certificates installed and with one or "
        "more key servers provided.",
        400,
        _P,
    ),
    CodeInfo(
        EXTERNAL_PARTNER_HAS_OKM,
        "External key manager cannot be configured because this cluster is part of a MetroCluster "
        "configuration and the partner site of this MetroCluster configuration has Onboard Key Manager "
        "configured.",
        400,
        _P,
    ),
    CodeInfo(
        OKM_PARTNER_HAS_EXTERNAL,
        "The Onboard Key Manager cannot be configured because this cluster is part of a MetroCluster "
        "configuration and the partner site has the external key manager configured.",
        400,
        _P,
    ),
    CodeInfo(OKM_NOT_ENABLED, "The Onboard Key Manager is not enabled.", 400, _P),
    CodeInfo(
        INACTIVE_CONFIGURATION,
        "Cannot modify an inactive key manager configuration.",
        400,
        _P,
        "The record is an inactive configuration (enabled=false): use the enabled=true key manager.",
    ),
    CodeInfo(
        MCC_SYNC_PENDING,
        "This cluster is part of a MetroCluster configuration. Use the REST API POST method "
        "security/key_managers/ with the synchronize option and the same passphrase on the partner cluster "
        "before proceeding with any key manager operations. Failure to do so could lead to switchover or "
        "switchback failure.",
        400,
        _H,
        "Sync the partner site with the NEW passphrase (`fleet sync`), then re-check both sites' status.",
    ),
    CodeInfo(
        PASSPHRASE_LOCKOUT,
        "Key manager operations are locked after too many consecutive incorrect passphrase attempts in "
        "Common Criteria mode. Wait 24 hours or reboot the node.",
        400,
        _H,
        "Do not retry: find the right passphrase, then wait out the lockout or reboot the node.",
    ),
)

CODES: dict[int, CodeInfo] = {entry.code: entry for entry in _TABLE}

RETRYABLE_HTTP_STATUSES = frozenset({429, 500, 502, 503, 504})


def code_info(code: int | None) -> CodeInfo | None:
    """The table entry for an ONTAP code, or None for a code fleet has no entry for."""
    return CODES.get(code) if code is not None else None


def classify(code: int | None, http_status: int | None = None) -> CodeClass:
    """Classify a failure by ONTAP code first, then by HTTP status; unknown codes are permanent."""
    entry = code_info(code)
    if entry is not None:
        return entry.klass
    if http_status in RETRYABLE_HTTP_STATUSES:
        return CodeClass.RETRYABLE
    if http_status in (401, 403):
        return CodeClass.NEEDS_HUMAN
    return CodeClass.PERMANENT


def message_for(code: int) -> str:
    """ONTAP's message for a code the table knows (KeyError otherwise: the simulator must not invent)."""
    return CODES[code].message
