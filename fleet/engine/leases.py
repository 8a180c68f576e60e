"""Two runs never work on one cluster: a lease per cluster in the journal, held while its unit runs.

A changing run (rotate, sync, apply) takes a lease on every cluster of a unit before the unit's
first request and gives them back when the unit ends. A cluster another live run holds is not
touched: its row says ``busy`` and names the holder (run, pid, host, until when), never a silent
wait. A holder that died gives its leases up: its pid is gone on this host, or its expiry passed
(leases are renewed while the run works). The run also holds its own row while it works, so a
rotation planned meanwhile knows it is under way (``steps/rotate.py``: never rotated twice). A dry
run takes no lease; it asks who holds each unit's clusters and reports a held one ``busy`` too.
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
    """Lease every cluster of the unit, or none: then the holder of the one another run has.

    The names are taken in one order every run shares (sorted), and the first one held elsewhere
    ends the attempt. Taking the rest regardless let two runs that reached one pair together each
    hold one site, both see the other's lease and both give up: a pair neither run rotated.
    """
    taken: list[str] = []
    for name in sorted(unit.names):
        lease = await journal.take_lease(name, run_id=run_id, ttl=LEASE_TTL)
        if isinstance(lease, LeaseHolder):
            for mine in taken:  # a pair is worked whole or not at all
                await journal.release_lease(mine, run_id)
            return {name: lease}
        taken.append(name)
    return {}


async def holder_of(journal: Journal, unit: Unit) -> dict[str, LeaseHolder]:
    """The first cluster of the unit another run holds, and its holder, asked without taking a lease.

    A dry run takes no lease, but reports a cluster a live run holds as the real run would: ``busy``,
    naming the holder, and not contacted (that run is changing it).
    """
    for name in sorted(unit.names):
        holder = await journal.lease_holder(name)
        if holder is not None:
            return {name: holder}
    return {}


async def give_back(journal: Journal, run_id: str, unit: Unit) -> None:
    for name in unit.names:
        await journal.release_lease(name, run_id)


@contextlib.asynccontextmanager
async def renewing(journal: Journal, run_id: str) -> AsyncIterator[None]:
    """Hold the run and renew its leases while the block runs; give every lease back when it ends.

    The run's own hold says it is under way (``Journal.runs_under_way``): a rotation planned meanwhile
    leaves alone whatever this run rotates, before or after that plan. A block that ends normally
    keeps the hold until ``finish_run``; one cancelled or failed gives it up, as its process is
    still alive but no longer working.
    """

    async def renew() -> None:
        while True:
            await asyncio.sleep(LEASE_TTL / 4)
            await journal.renew_leases(run_id, LEASE_TTL)
            await journal.hold_run(run_id, LEASE_TTL)

    await journal.hold_run(run_id, LEASE_TTL)
    task = asyncio.create_task(renew(), name="fleet-lease-renewal")
    ended = False
    try:
        yield
        ended = True
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        try:
            await journal.release_run_leases(run_id)
            if not ended:
                await journal.end_run_hold(run_id)
        except JournalError as exc:  # a lost journal: the run stops on it, the leases expire on their own
            log.warning("leases not given back; they expire on their own", error=str(exc))
