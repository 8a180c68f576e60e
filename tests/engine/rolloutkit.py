"""Helpers for rollout tests: fake units and a fake clock for the runner, rotations with a rollout."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from enginekit import FAST_HTTP, NEW_PASSPHRASE, Runner

from fleet.engine.plans import build_rotation_plan
from fleet.engine.rollout.settings import Rollout
from fleet.engine.rollout.units import Unit
from fleet.engine.run import RunPlan, UnitWork, execute
from fleet.engine.steps.context import RunOptions
from fleet.engine.work import rotate_work
from fleet.inventory import Cluster
from fleet.report import Report

START = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """Time that moves only when a test says so."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def cluster(name: str, **labels: str) -> Cluster:
    return Cluster(
        name=name,
        address=f"{name}.example:443",
        base_url=f"https://{name}.example:443",
        username="admin",
        password="env:UNUSED",
        labels=labels,
        source=Path("inventory.yml"),
    )


def units(count: int) -> list[Unit]:
    return [Unit(f"u{index:02d}", "cluster", (cluster(f"u{index:02d}"),)) for index in range(1, count + 1)]


def fail_on(*ids: str):
    """A three-line unit function: the named units fail, every other one succeeds."""

    async def run_unit(unit: Unit) -> str:
        await asyncio.sleep(0)
        return "failed" if unit.id in ids else "succeeded"

    return run_unit


def crash(unit: Unit, exc: Exception) -> str:
    raise AssertionError(f"unit {unit.id} raised {exc!r}")


@dataclass
class Watch:
    """A ``RolloutObserver`` that keeps the order of everything the runner announced."""

    log: list[tuple[str, str]] = field(default_factory=list)
    trips: list = field(default_factory=list)
    closings: list = field(default_factory=list)

    def unit_started(self, unit: Unit) -> None:
        self.log.append(("start", unit.id))

    def unit_finished(self, unit: Unit, outcome: str) -> None:
        self.log.append(("end", unit.id))

    def wave_started(self, index: int, units: list[Unit]) -> None:
        self.log.append(("wave", str(index)))

    def wave_finished(self, wave) -> None:
        self.log.append(("wave_end", str(wave.index)))

    def budget_tripped(self, trip) -> None:
        self.trips.append(trip)

    def window_closed(self, closing) -> None:
        self.closings.append(closing)

    def started(self) -> list[str]:
        return [unit for kind, unit in self.log if kind == "start"]


async def rotation_plan(
    runner: Runner, inventory: Path, rollout: Rollout, *, concurrency: int = 8
) -> RunPlan:
    return await build_rotation_plan(
        runner.journal,
        inventory_path=inventory,
        limit=None,
        current_ref=None,
        new_ref=runner.secret_file("new.okm", NEW_PASSPHRASE),
        store_spec=None,
        options=RunOptions(concurrency=concurrency, backup_dir=runner.workdir / "backups", rollout=rollout),
        http=FAST_HTTP,
        report_options=rollout.options(),
    )


async def rotate(
    runner: Runner, inventory: Path, rollout: Rollout, *, concurrency: int = 8, work: UnitWork = rotate_work
) -> Report:
    plan = await rotation_plan(runner, inventory, rollout, concurrency=concurrency)
    return await execute(plan, work)
