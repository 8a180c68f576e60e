"""Read what a cluster's key manager looks like now: the facts every decision starts from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleet.engine.steps.recorder import ClusterRecorder
from fleet.ontap import OntapClient
from fleet.ontap import codes as C

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
        return bool(self.status_message) and self.status_message.startswith(_PARTNER_SYNC_PREFIX)

    @property
    def healthy(self) -> bool:
        return self.status_code is None or self.status_code in HEALTHY_STATUS_CODES

    @property
    def version_text(self) -> str:
        return ".".join(str(part) for part in self.version)

    def at_least(self, major: int, minor: int = 0) -> bool:
        return self.version[1:] >= (major, minor)


def _status(record: dict[str, Any]) -> tuple[int | None, str | None]:
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
    code, message = _status(record)
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


def status_of(record: dict[str, Any]) -> tuple[int | None, str | None]:
    return _status(record)
