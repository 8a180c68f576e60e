"""Overlapping runs never rotate one cluster twice, never both give one up, never lose a passphrase."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from fleet.engine.leases import take_unit
from fleet.journal import Journal


class Interleaved:
    """The journal as two runs see it when they reach one pair at the same moment.

    Run x takes the pair's first site; run y then tries, and whatever y takes it gives back only once
    x has tried every site; x tries the second site only once y has finished trying.
    """

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.x_has_first, self.y_tried, self.x_done = asyncio.Event(), asyncio.Event(), asyncio.Event()

    def as_run(self, run: str) -> SimpleNamespace:
        async def take_lease(name: str, **kwargs):
            if run == "run-x" and name == "cl-b":
                await self.y_tried.wait()
            lease = await self.journal.take_lease(name, **kwargs)
            if run == "run-x" and name == "cl-a":
                self.x_has_first.set()
            return lease

        async def release_lease(name: str, run_id: str) -> bool:
            if run == "run-y":
                self.y_tried.set()
                await self.x_done.wait()
            return await self.journal.release_lease(name, run_id)

        return SimpleNamespace(take_lease=take_lease, release_lease=release_lease)


async def test_two_runs_reaching_one_pair_together_leave_it_to_exactly_one(runner):
    """The run that has the first site gets the pair; the other takes nothing and reports busy."""
    pair = SimpleNamespace(names=("cl-a", "cl-b"))
    journal = Interleaved(runner.journal)

    async def run_x():
        try:
            return await take_unit(journal.as_run("run-x"), "run-x", pair)
        finally:
            journal.x_done.set()

    async def run_y():
        await journal.x_has_first.wait()
        try:
            return await take_unit(journal.as_run("run-y"), "run-y", pair)
        finally:
            journal.y_tried.set()

    x, y = await asyncio.wait_for(asyncio.gather(run_x(), run_y()), timeout=10)
    assert x == {}, f"run-x has the first site, so the pair is its: {x}"
    assert list(y) == ["cl-a"] and y["cl-a"].run_id == "run-x"
    for name in ("cl-a", "cl-b"):
        assert (await runner.journal.take_lease(name, run_id="run-z", ttl=60)).run_id == "run-x"
