"""Two runs never work on one cluster: a lease per cluster in the journal, held while its unit runs.

A changing run (rotate, sync, apply) takes a lease on every cluster of a unit before the unit's
first request and gives them back when the unit ends. A cluster another live run holds is not
touched: its row says ``busy`` and names the holder (run, pid, host, until when), never a silent
wait. A holder that died gives its leases up: its pid is gone on this host, or its expiry passed
(leases are renewed while the run works).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog

from fleet.engine.rollout.units import Unit
from fleet.journal import Journal, JournalError, LeaseHolder
from fleet.outcomes import RunKind

LEASE_TTL = 120.0  # seconds; renewed every quarter of it while the run works
CHANGING = frozenset({RunKind.ROTATE, RunKind.SYNC, RunKind.APPLY})

log = structlog.get_logger("fleet.leases")


def busy_reason(holder: LeaseHolder) -> str:
    return (
        f"busy: run {holder.run_id} (pid {holder.pid} on {holder.host}) is working on this cluster until "
        f"{holder.expires_at} or its end; not touched: run again once it has finished"
    )


async def take_unit(journal: Journal, run_id: str, unit: Unit) -> dict[str, LeaseHolder]:
    """Lease every cluster of the unit, or none: the holders of the ones another run has."""
    holders: dict[str, LeaseHolder] = {}
    taken: list[str] = []
    for name in unit.names:
        lease = await journal.take_lease(name, run_id=run_id, ttl=LEASE_TTL)
        if isinstance(lease, LeaseHolder):
            holders[name] = lease
        else:
            taken.append(name)
    if holders:  # a pair is worked whole or not at all
        for name in taken:
            await journal.release_lease(name, run_id)
    return holders


async def give_back(journal: Journal, run_id: str, unit: Unit) -> None:
    for name in unit.names:
        await journal.release_lease(name, run_id)


@contextlib.asynccontextmanager
async def renewing(journal: Journal, run_id: str) -> AsyncIterator[None]:
    """Renew the run's leases while the block runs; give every one back when it ends."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(LEASE_TTL / 4)
            await journal.renew_leases(run_id, LEASE_TTL)

    task = asyncio.create_task(renew(), name="fleet-lease-renewal")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        try:
            await journal.release_run_leases(run_id)
        except JournalError as exc:  # a lost journal: the run stops on it, the leases expire on their own
            log.warning("leases not given back; they expire on their own", error=str(exc))
