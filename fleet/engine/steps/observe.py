"""Read what a cluster and its key manager look like now: the facts every decision starts from.

The one reader of a cluster's facts. Rotation and sync get ``Observed``, the policy commands get
``ClusterFacts``; both come from the same three reads (the cluster, its MetroCluster view, its
active key manager), each asking only for the fields the cluster's release has (``ontap.releases``:
a name a release does not know fails the whole GET with 262197) and taking the ``enabled`` record
when ONTAP 9.16 lists an inactive configuration beside the active one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from fleet.engine.steps.context import RunContext
from fleet.engine.steps.recorder import ClusterRecorder, error_info
from fleet.errors import FleetError
from fleet.inventory import Cluster
from fleet.ontap import OntapClient
from fleet.ontap import codes as C
from fleet.ontap.releases import (
    KEY_IDS_FILTERS_SINCE,
    KEY_SERVER_SINCE,
    KEY_STORE_SINCE,
    KEY_STORES_SINCE,
    METROCLUSTER_SINCE,
    Version,
    fields_for,
    has,
    release_of,
)
from fleet.outcomes import StepStatus
from fleet.policy import CertificateFacts, ClusterFacts, KeyServerFacts, KeyStoreFacts, Policy, SvmFacts

# status.code values that mean "nothing left to do" (0 per the spec; 65537200 "No action needed at
# this time." per NetApp's client examples — ontap-notes §5 marks the latter UNCONFIRMED).
HEALTHY_STATUS_CODES = frozenset({0, 65537200})
_PARTNER_SYNC_PREFIX = C.message_for(C.MCC_SYNC_PENDING)[:60]
#: What a rotation or sync reads of the key manager (each only where the release has it).
ROTATION_FIELDS = (
    "uuid",
    "scope",
    "onboard.enabled",
    "external.servers",
    "status.code",
    "status.message",
    "enabled",
)
#: What a policy reads of the key manager.
POLICY_FIELDS = (
    "uuid",
    "scope",
    "onboard.enabled",
    "external",
    "status.code",
    "status.message",
    "volume_encryption.supported",
    "is_default_data_at_rest_encryption_disabled",
    "enabled",
)


@dataclass(frozen=True, slots=True)
class Identity:
    """What ``GET /api/cluster`` says the cluster is."""

    name: str
    uuid: str
    version: Version
    version_full: str

    @property
    def version_text(self) -> str:
        return ".".join(str(part) for part in self.version)


@dataclass(frozen=True, slots=True)
class MetroClusterView:
    configuration_state: str
    mode: str
    partner_reachable: bool
    remote_name: str | None
    remote_uuid: str | None

    @property
    def configured(self) -> bool:
        return self.configuration_state != "not_configured"


@dataclass(frozen=True, slots=True)
class Observed:
    """One cluster's identity, version, MetroCluster view and cluster-scope key manager."""

    name: str
    uuid: str
    version: Version
    version_full: str
    km_uuid: str | None
    onboard: bool
    external: bool
    status_code: int | None
    status_message: str | None
    metrocluster: MetroClusterView | None

    @property
    def partner_sync_pending(self) -> bool:
        """The MetroCluster "sync the partner with the same passphrase" condition.

        Matched on ONTAP's message: the spec's example code (346758) is a placeholder it reuses for
        unrelated conditions (ontap-notes §4.1).
        """
        return (self.status_message or "").startswith(_PARTNER_SYNC_PREFIX)

    @property
    def healthy(self) -> bool:
        return self.status_code is None or self.status_code in HEALTHY_STATUS_CODES

    @property
    def version_text(self) -> str:
        return ".".join(str(part) for part in self.version)

    def at_least(self, major: int, minor: int = 0) -> bool:
        return self.version[1:] >= (major, minor)


def status_of(record: dict[str, Any]) -> tuple[int | None, str | None]:
    status = record.get("status") or {}
    code = status.get("code")
    return (int(code) if code is not None else None), status.get("message")


class NotThatCluster(FleetError):
    """The address answers as another cluster than the inventory names: refused before any change."""

    refusal = "not_that_cluster"

    def __init__(self, cluster: Cluster, identity: Identity) -> None:
        self.identity = identity
        super().__init__(
            f"the address {cluster.address} answers as cluster {identity.name!r} (uuid {identity.uuid}), "
            f"not {cluster.expected_name!r} as the inventory names it; refused before any change "
            f"(if that is the same cluster under another name, set `ontap_name: {identity.name}`)"
        )


async def read_identity(client: OntapClient, rec: ClusterRecorder) -> Identity:
    """The cluster's own name, uuid and version (recorded on its report row); checked against the
    inventory: a name other than the one expected raises ``NotThatCluster`` before anything else."""
    async with rec.step("read_cluster") as step:
        body = await client.cluster()
        raw = body.get("version") or {}
        version = (int(raw.get("generation", 0)), int(raw.get("major", 0)), int(raw.get("minor", 0)))
        identity = Identity(body.get("name", ""), body.get("uuid", ""), version, raw.get("full", ""))
        step.detail = f"ONTAP {identity.version_text}, {identity.name} ({identity.uuid})"
    rec.ontap_version = identity.version_text
    rec.uuid = identity.uuid or None
    if identity.name != rec.cluster.expected_name:
        refusal = NotThatCluster(rec.cluster, identity)
        rec.note(
            "identity",
            StepStatus.FAILED,
            "the cluster reports another name than the inventory's",
            error=error_info(refusal),
        )
        raise refusal
    return identity


async def read_metrocluster(
    client: OntapClient, rec: ClusterRecorder, version: Version
) -> MetroClusterView | None:
    """The MetroCluster view (ONTAP 9.8+); None on older releases, which have no such endpoint."""
    if release_of(version) < METROCLUSTER_SINCE:
        return None
    async with rec.step("read_metrocluster"):
        return _metrocluster_view(await client.metrocluster())


async def read_active_key_manager(
    client: OntapClient, rec: ClusterRecorder, version: Version, names: tuple[str, ...]
) -> dict[str, Any]:
    """The cluster-scope key manager in use (``{}`` when none), with the fields this release has."""
    async with rec.step("read_key_manager") as step:
        records = await client.key_managers(fields=fields_for(version, names))
        active = [record for record in records if record.get("enabled", True)]
        inactive = len(records) - len(active)
        step.detail = f"{len(active)} active cluster-scope key manager(s)" + (
            f", {inactive} inactive configuration(s) ignored" if inactive else ""
        )
    return active[0] if active else {}


async def observe(client: OntapClient, rec: ClusterRecorder) -> Observed:
    """GET the cluster, its MetroCluster view (9.8+) and its active key manager with the expensive status."""
    identity = await read_identity(client, rec)
    metrocluster = await read_metrocluster(client, rec, identity.version)
    record = await read_active_key_manager(client, rec, identity.version, ROTATION_FIELDS)
    code, message = status_of(record)
    return Observed(
        name=identity.name,
        uuid=identity.uuid,
        version=identity.version,
        version_full=identity.version_full,
        km_uuid=record.get("uuid"),
        onboard=bool((record.get("onboard") or {}).get("enabled")),
        external=bool((record.get("external") or {}).get("servers")),
        status_code=code,
        status_message=message,
        metrocluster=metrocluster,
    )


def _metrocluster_view(body: dict[str, Any]) -> MetroClusterView:
    local = body.get("local") or {}
    remote = body.get("remote") or {}
    remote_cluster = remote.get("cluster") or {}
    return MetroClusterView(
        configuration_state=local.get("configuration_state", "not_configured"),
        mode=local.get("mode", "not_configured"),
        partner_reachable=bool(local.get("partner_cluster_reachable", False)),
        remote_name=remote_cluster.get("name"),
        remote_uuid=remote_cluster.get("uuid"),
    )


async def read_status(
    client: OntapClient, km_uuid: str, version: Version, *, with_backup: bool
) -> dict[str, Any]:
    """Re-read one key manager's status (and key backup), as far as the release reports them."""
    names = ("status.code", "status.message") + (("onboard.key_backup",) if with_backup else ())
    return await client.key_manager(km_uuid, fields=fields_for(version, names) or "uuid")


# --- a policy's view: ClusterFacts, each field asked for only on the release that has it ----------

KEY_STORES = "/api/security/key-stores"


async def read_facts(ctx: RunContext, cluster: Cluster, rec: ClusterRecorder, policy: Policy) -> ClusterFacts:
    client = ctx.client(cluster)
    identity = await read_identity(client, rec)
    version = identity.version
    partner, ready = cluster.metrocluster_partner, True
    mcc = await read_metrocluster(client, rec, version)
    if mcc is not None and mcc.configured:
        partner = partner or mcc.remote_name
        ready = mcc.configuration_state == "configured" and mcc.mode == "normal" and mcc.partner_reachable
    record = await read_active_key_manager(client, rec, version, POLICY_FIELDS)
    facts = _key_manager_facts(cluster.name, version, record, partner, ready)
    km = facts.km_uuid
    if km is not None and facts.kind == "external":
        facts = await _with_key_servers(client, km, facts, rec)
    if km is not None and facts.kind == "onboard" and policy.onboard.require_all_nodes_keys:
        facts = await _with_node_keys(client, km, facts, rec)
    if km is not None and policy.require.key_store_active and release_of(version) >= KEY_STORES_SINCE:
        facts = await _with_key_stores(client, facts, rec)
    if policy.svms or policy.certificates.min_days_left is not None:
        facts = await _with_svms(client, facts, rec, list_svms=bool(policy.svms))
    if policy.certificates.min_days_left is not None:
        facts = await _with_certificates(client, facts, rec)
    if facts.kind == "onboard":  # the passphrase age: a policy rule and a sweep metric
        state = await ctx.journal.cluster_state(cluster.name, uuid=rec.uuid)
        verified = state.verified_at if state is not None else None
        facts = replace(facts, verified_at=datetime.fromisoformat(verified) if verified else None)
    return facts


def _key_manager_facts(
    name: str, version: Version, record: dict[str, Any], partner: str | None, ready: bool
) -> ClusterFacts:
    onboard = bool((record.get("onboard") or {}).get("enabled"))
    external = record.get("external") or {}
    kind = None if not record else "onboard" if onboard else "external" if external else None
    status = record.get("status") or {}
    code = status.get("code")
    volume = record.get("volume_encryption") or {}
    client_cert = external.get("client_certificate") or {}
    return ClusterFacts(
        name=name,
        version=version,
        km_uuid=record.get("uuid"),
        kind=kind,
        status_code=int(code) if code is not None else None,
        status_message=status.get("message"),
        volume_encryption_supported=volume.get("supported"),
        dare_disabled=record.get("is_default_data_at_rest_encryption_disabled"),
        client_certificate=client_cert.get("name"),
        server_ca_certificates=tuple(
            cert.get("name", "") for cert in external.get("server_ca_certificates") or []
        ),
        partner=partner,
        metrocluster_ready=ready,
    )


async def _with_key_servers(
    client: OntapClient, km: str, facts: ClusterFacts, rec: ClusterRecorder
) -> ClusterFacts:
    per_node = has(facts.version, "connectivity", KEY_SERVER_SINCE)
    fields = fields_for(facts.version, ("server", "timeout", "connectivity"), KEY_SERVER_SINCE)
    async with rec.step("read_key_servers") as step:
        records = await client.key_servers(km, fields=fields)
        step.detail = f"{len(records)} key server(s)"
    servers = []
    for record in records:
        states = None
        if per_node:
            node_states = (record.get("connectivity") or {}).get("node_states") or []
            states = {item["node"]["name"]: item.get("state", "") for item in node_states}
        servers.append(KeyServerFacts(record["server"], record.get("timeout"), states))
    return replace(facts, servers=tuple(servers))


#: What a policy reads of the SVM-scope key managers (all 9.6 fields): one GET for every SVM.
SVM_KM_FIELDS = "uuid,svm.name,external"


async def _with_svms(
    client: OntapClient, facts: ClusterFacts, rec: ClusterRecorder, *, list_svms: bool
) -> ClusterFacts:
    """Every data SVM's own key manager in one GET (``scope=svm``; the servers and their timeouts are in
    the record), and, when the policy names SVMs, the data SVMs themselves (an SVM with no key manager
    is not in the first answer)."""
    async with rec.step("read_svm_key_managers") as step:
        records = await client.key_managers(fields=SVM_KM_FIELDS, scope="svm")
        names: list[str] = []
        if list_svms:
            names = [record.get("name", "") for record in await client.svms()]
        by_svm = {(record.get("svm") or {}).get("name", ""): record for record in records}
        svms = tuple(_svm_facts(name, by_svm.get(name, {})) for name in sorted(set(names) | set(by_svm)))
        step.detail = f"{len(by_svm)} SVM-scope key manager(s)" + (
            f" on {len(names)} data SVM(s)" if list_svms else ""
        )
    return replace(facts, svms=svms)


def _svm_facts(name: str, record: dict[str, Any]) -> SvmFacts:
    external = record.get("external") or {}
    servers = tuple(
        KeyServerFacts(server["server"], server.get("timeout")) for server in external.get("servers") or []
    )
    return SvmFacts(
        name=name,
        km_uuid=record.get("uuid"),
        kind="external" if external else None,
        servers=servers,
        client_certificate=(external.get("client_certificate") or {}).get("name"),
        server_ca_certificates=tuple(
            cert.get("name", "") for cert in external.get("server_ca_certificates") or []
        ),
    )


async def _with_certificates(client: OntapClient, facts: ClusterFacts, rec: ClusterRecorder) -> ClusterFacts:
    """Installed certificates with their expiry and (9.8+) name and key-pair identity. Before 9.8 a key
    manager names its certificates by uuid only: the expiry rule has nothing to match and stays silent."""
    named = release_of(facts.version) >= (8, 0)
    fields = "uuid,type,svm.name,scope,expiry_time" + (",name,subject_key_identifier" if named else "")
    async with rec.step("read_certificates") as step:
        records = await client.certificates(fields=fields)
        step.detail = f"{len(records)} certificate(s)"
    certs = []
    for record in records:
        expiry = record.get("expiry_time")
        svm = (record.get("svm") or {}).get("name", "") if record.get("scope") == "svm" else ""
        certs.append(
            CertificateFacts(
                name=record.get("name", ""),
                uuid=record.get("uuid", ""),
                type=record.get("type", ""),
                svm=svm,
                expiry=datetime.fromisoformat(expiry) if isinstance(expiry, str) else None,
                key_pair=record.get("subject_key_identifier"),
            )
        )
    return replace(facts, certificates=tuple(certs))


async def _with_node_keys(
    client: OntapClient, km: str, facts: ClusterFacts, rec: ClusterRecorder
) -> ClusterFacts:
    """Keys with restored=false per node (9.12+: the query filter arrived then); unknown before."""
    counts = await missing_keys_by_node(client, km, facts.version, rec)
    if not counts and release_of(facts.version) < KEY_IDS_FILTERS_SINCE:
        return facts
    return replace(facts, missing_keys={name: missing for name, _, missing in counts})


async def _with_key_stores(client: OntapClient, facts: ClusterFacts, rec: ClusterRecorder) -> ClusterFacts:
    fields = fields_for(facts.version, ("type", "location", "enabled", "state"), KEY_STORE_SINCE)
    async with rec.step("read_key_stores"):
        body = await client.get(KEY_STORES, {"fields": fields})
    stores = tuple(
        KeyStoreFacts(type=record.get("type", ""), enabled=record.get("enabled"), state=record.get("state"))
        for record in body.get("records", [])
    )
    return replace(facts, key_stores=stores)


async def missing_keys_by_node(
    client: OntapClient, km: str, version: Version, rec: ClusterRecorder
) -> list[tuple[str, str, int]]:
    """(node name, uuid, keys with restored=false) per node; empty before 9.12 (no such query)."""
    if release_of(version) < KEY_IDS_FILTERS_SINCE:
        return []
    async with rec.step("check_node_keys") as step:
        counts = []
        for node in await client.nodes():
            counts.append((node["name"], node["uuid"], await client.missing_keys(km, node["uuid"])))
        step.detail = f"{sum(1 for *_, n in counts if n)} of {len(counts)} node(s) missing keys"
    return counts
