"""Read-only checks after a change: status and key-backup capture, as far as the release reports them."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from pathlib import Path

from fleet.atomic import write_atomically
from fleet.engine.steps.observe import HEALTHY_STATUS_CODES, read_status, status_of
from fleet.engine.steps.recorder import ClusterRecorder
from fleet.ontap import OntapClient
from fleet.ontap.releases import Version, has
from fleet.outcomes import StepStatus
from fleet.safe_files import PRIVATE, check_dir, ensure_private_dir, refuse_link


def backup_path(backup_dir: Path, cluster: str) -> Path:
    return backup_dir / f"{cluster}.okm-backup"


def check_backup_dir(backup_dir: Path, clusters: Iterable[str]) -> None:
    """Before any request: the folder is not open to others' writes and no backup file is a link."""
    check_dir(backup_dir, PRIVATE)
    for cluster in clusters:
        refuse_link(backup_path(backup_dir, cluster))


def keep_backup(backup_dir: Path, cluster: str, backup: str) -> Path:
    """A key backup holds every key of the cluster (wrapped by its passphrase): kept like a secret."""
    ensure_private_dir(backup_dir)
    return write_atomically(backup_path(backup_dir, cluster), backup, mode=PRIVATE.file_mode)


async def verify_and_backup(
    client: OntapClient, km: str, version: Version, rec: ClusterRecorder, backup_dir: Path | None
) -> str | None:
    """Re-read status and the key backup; keep the backup. Returns the problem, or None if healthy.

    ONTAP 9.6 reports neither status nor key backup over REST: the row says so, so nobody takes a
    missing backup for a taken one.
    """
    async with rec.step("verify") as step:
        record = await read_status(client, km, version, with_backup=True)
        code, message = status_of(record)
        step.detail = f"status {code}: {message}" if code is not None else None
    if not has(version, "onboard.key_backup"):
        rec.note(
            "key_backup",
            StepStatus.SKIPPED,
            f"ONTAP {'.'.join(map(str, version))} has no onboard.key_backup over REST (9.7+): "
            "no key backup was taken; take one with `security key-manager onboard show-backup`",
        )
    backup = (record.get("onboard") or {}).get("key_backup")
    if backup:
        rec.key_backup_sha256 = hashlib.sha256(backup.encode()).hexdigest()
        if backup_dir is not None:
            await asyncio.to_thread(keep_backup, backup_dir, rec.cluster.name, backup)
    if code is not None and code not in HEALTHY_STATUS_CODES:
        return f"the key manager reports status {code}: {message}"
    return None
