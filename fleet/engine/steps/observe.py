"""Read what a cluster's key manager looks like now: the facts every decision starts from."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from fleet.engine.steps.context import RunContext
from fleet.engine.steps.recorder import ClusterRecorder
from fleet.inventory import Cluster
from fleet.ontap import OntapClient
from fleet.ontap import codes as C
from fleet.policy import ClusterFacts, KeyServerFacts, KeyStoreFacts, Policy

# status.code values that mean "nothing left to do" (0 per the spec; 65537200 "No action needed at
# this time." per NetApp's client examples — ontap-notes §5 marks the latter UNCONFIRMED).
HEALTHY_STATUS_CODES = frozenset({0, 65537200})
_PARTNER_SYNC_PREFIX = C.message_for(C.MCC_SYNC_PENDING)[:60]
KEY_MANAGER_FIELDS = "uuid,scope,onboard.enabled,external.servers,status.code,status.message"


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
    version: tuple[int, ...]
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


async def observe(client: OntapClient, rec: ClusterRecorder) -> Observed:
    """GET the cluster, its MetroCluster view (9.8+) and its key manager with the expensive status."""
    async with rec.step("read_cluster") as step:
        cluster = await client.cluster()
        version = cluster.get("version", {})
        parsed = (
            int(version.get("generation", 0)),
            int(version.get("major", 0)),
            int(version.get("minor", 0)),
        )
        step.detail = f"ONTAP {parsed[0]}.{parsed[1]}.{parsed[2]}"
    rec.ontap_version = ".".join(str(part) for part in parsed)
    metrocluster = None
    if parsed[1:] >= (8, 0):
        async with rec.step("read_metrocluster"):
            metrocluster = _metrocluster_view(await client.metrocluster())
    async with rec.step("read_key_manager") as step:
        records = await client.key_managers(fields=KEY_MANAGER_FIELDS)
        step.detail = f"{len(records)} cluster-scope key manager(s)"
    record = records[0] if records else {}
    code, message = status_of(record)
    return Observed(
        name=cluster.get("name", ""),
        uuid=cluster.get("uuid", ""),
        version=parsed,
        version_full=version.get("full", ""),
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


async def read_status(client: OntapClient, km_uuid: str, *, with_backup: bool) -> dict[str, Any]:
    """Re-read one key manager's status (and key backup): verification after a change."""
    fields = "status.code,status.message" + (",onboard.key_backup" if with_backup else "")
    return await client.key_manager(km_uuid, fields=fields)


# --- a policy's view: ClusterFacts, each field asked for only on the release that has it ----------

KEY_STORES = "/api/security/key-stores"


def _km_fields(version: tuple[int, int, int]) -> str:
    fields = ["uuid", "scope", "onboard.enabled", "external"]
    if version[1:] >= (7, 0):
        fields += [
            "status.code",
            "status.message",
            "volume_encryption.supported",
            "is_default_data_at_rest_encryption_disabled",
        ]
    if version[1:] >= (16, 0):
        fields.append("enabled")
    return ",".join(fields)


def _pick_record(records: list[dict[str, Any]]) -> dict[str, Any]:
    """9.16+ may list an inactive configuration beside the active one: take the enabled record."""
    for record in records:
        if record.get("enabled", True):
            return record
    return records[0] if records else {}


async def read_facts(ctx: RunContext, cluster: Cluster, rec: ClusterRecorder, policy: Policy) -> ClusterFacts:
    client = ctx.client(cluster)
    async with rec.step("read_cluster") as step:
        body = await client.cluster()
        raw = body.get("version", {})
        version = (int(raw.get("generation", 0)), int(raw.get("major", 0)), int(raw.get("minor", 0)))
        step.detail = "ONTAP " + ".".join(str(part) for part in version)
    rec.ontap_version = ".".join(str(part) for part in version)
    partner, ready = cluster.metrocluster_partner, True
    if version[1:] >= (8, 0):
        async with rec.step("read_metrocluster"):
            mcc = await client.metrocluster()
        local, remote = mcc.get("local") or {}, mcc.get("remote") or {}
        if local.get("configuration_state", "not_configured") != "not_configured":
            partner = partner or (remote.get("cluster") or {}).get("name")
            ready = (
                local.get("configuration_state") == "configured"
                and local.get("mode") == "normal"
                and bool(local.get("partner_cluster_reachable"))
            )
    async with rec.step("read_key_manager") as step:
        record = _pick_record(await client.key_managers(fields=_km_fields(version)))
        step.detail = "no cluster-scope key manager" if not record else None
    facts = _key_manager_facts(cluster.name, version, record, partner, ready)
    km = facts.km_uuid
    if km is not None and facts.kind == "external":
        facts = await _with_key_servers(client, km, facts, rec)
    if km is not None and facts.kind == "onboard" and policy.onboard.require_all_nodes_keys:
        facts = await _with_node_keys(client, km, facts, rec)
    if km is not None and policy.require.key_store_active and facts.at_least(10):
        facts = await _with_key_stores(client, facts, rec)
    if facts.kind == "onboard" and policy.onboard.passphrase_max_age_days is not None:
        state = await ctx.journal.cluster_state(cluster.name)
        verified = state.verified_at if state is not None else None
        facts = replace(facts, verified_at=datetime.fromisoformat(verified) if verified else None)
    return facts


def _key_manager_facts(
    name: str, version: tuple[int, int, int], record: dict[str, Any], partner: str | None, ready: bool
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
    per_node = facts.at_least(13)
    fields = "server,timeout" + (",connectivity" if per_node else "")
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


async def _with_node_keys(
    client: OntapClient, km: str, facts: ClusterFacts, rec: ClusterRecorder
) -> ClusterFacts:
    """Keys with restored=false per node (9.12+: the query filter arrived then); N+1 cheap counts."""
    if not facts.at_least(12):
        return facts
    async with rec.step("check_node_keys") as step:
        missing = {}
        for node in await client.nodes():
            missing[node["name"]] = await client.missing_keys(km, node["uuid"])
        step.detail = f"{sum(1 for n in missing.values() if n)} of {len(missing)} node(s) missing keys"
    return replace(facts, missing_keys=missing)


async def _with_key_stores(client: OntapClient, facts: ClusterFacts, rec: ClusterRecorder) -> ClusterFacts:
    fields = (
        "type,location"
        + (",enabled" if facts.at_least(14) else "")
        + (",state" if facts.at_least(16) else "")
    )
    async with rec.step("read_key_stores"):
        body = await client.get(KEY_STORES, {"fields": fields})
    stores = tuple(
        KeyStoreFacts(type=record.get("type", ""), enabled=record.get("enabled"), state=record.get("state"))
        for record in body.get("records", [])
    )
    return replace(facts, key_stores=stores)
