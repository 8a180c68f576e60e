"""Helpers for rollout tests: fake units and a fake clock for the runner, rotations with a rollout."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from enginekit import FAST_HTTP, NEW_PASSPHRASE, Runner

from fleet.engine.plans import RunPlan, build_plan
from fleet.engine.rollout.settings import ConfirmWave
from fleet.engine.rollout.units import Unit
from fleet.engine.rollout.window import Clock, utc_now
from fleet.engine.run import execute
from fleet.engine.spec import RunSpec
from fleet.engine.steps.context import UnitWork
from fleet.engine.work import rotate_work
from fleet.inventory import Cluster
from fleet.outcomes import RunKind
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
    runner: Runner,
    inventory: Path,
    *,
    concurrency: int = 8,
    clock: Clock = utc_now,
    confirm_next_wave: ConfirmWave | None = None,
    only: set[str] | None = None,
    **rollout: Any,
) -> RunPlan:
    """The plan a `fleet rotate` with these rollout options (as typed: waves="1,100%") would run."""
    spec = RunSpec.create(
        kind=RunKind.ROTATE,
        workdir=runner.workdir,
        inventory=inventory,
        new=runner.secret_file("new.okm", NEW_PASSPHRASE),
        backup_dir=runner.workdir / "backups",
        concurrency=concurrency,
        clock=clock,
        **rollout,
    )
    return await plan_of(runner, spec, clock=clock, confirm_next_wave=confirm_next_wave, only=only)


async def plan_of(
    runner: Runner,
    spec: RunSpec,
    *,
    clock: Clock = utc_now,
    confirm_next_wave: ConfirmWave | None = None,
    only: set[str] | None = None,
) -> RunPlan:
    rollout = spec.rollout(clock=clock, confirm_next_wave=confirm_next_wave)
    return await build_plan(spec, runner.journal, rollout=rollout, http=FAST_HTTP, only=only)


async def rotate(
    runner: Runner,
    inventory: Path,
    *,
    concurrency: int = 8,
    work: UnitWork = rotate_work,
    **rollout: Any,
) -> Report:
    plan = await rotation_plan(runner, inventory, concurrency=concurrency, **rollout)
    return (await execute(plan, work)).report
