"""Read-only checks shared by every step machine: per-node keys, status, key-backup capture."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from fleet.atomic import write_atomically
from fleet.engine.steps.observe import HEALTHY_STATUS_CODES, Observed, read_status, status_of
from fleet.engine.steps.recorder import ClusterRecorder
from fleet.ontap import OntapClient


async def missing_keys_by_node(
    client: OntapClient, km: str, observed: Observed, rec: ClusterRecorder
) -> list[tuple[str, str, int]]:
    """(node name, uuid, keys with restored=false) per node; empty before 9.12 (no such query)."""
    if not observed.at_least(12):
        return []
    async with rec.step("check_node_keys") as step:
        counts = []
        for node in await client.nodes():
            counts.append((node["name"], node["uuid"], await client.missing_keys(km, node["uuid"])))
        step.detail = f"{sum(1 for *_, n in counts if n)} of {len(counts)} node(s) missing keys"
    return counts


async def verify_and_backup(
    client: OntapClient, km: str, rec: ClusterRecorder, backup_dir: Path | None
) -> str | None:
    """Re-read status and the key backup; keep the backup. Returns the problem, or None if healthy."""
    async with rec.step("verify") as step:
        record = await read_status(client, km, with_backup=True)
        code, message = status_of(record)
        step.detail = f"status {code}: {message}" if code is not None else None
    backup = (record.get("onboard") or {}).get("key_backup")
    if backup:
        rec.key_backup_sha256 = hashlib.sha256(backup.encode()).hexdigest()
        if backup_dir is not None:
            await asyncio.to_thread(
                write_atomically, backup_dir / f"{rec.cluster.name}.okm-backup", backup, mode=0o600
            )
    if code is not None and code not in HEALTHY_STATUS_CODES:
        return f"the key manager reports status {code}: {message}"
    return None
