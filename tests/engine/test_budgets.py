"""Failure budgets trip on reaching their threshold, admit nothing more, and abort with exit 3."""

from __future__ import annotations

import asyncio
import json
from fractions import Fraction

import pytest
from aiohttp import web
from rolloutkit import Watch, crash, fail_on, rotate, units

from fleet.engine.rollout.budgets import Budgets, BudgetTracker, Threshold, parse_threshold
from fleet.engine.rollout.runner import run_waves
from fleet.engine.rollout.settings import Rollout, parse_rollout
from fleet.engine.rollout.units import Unit
from fleet.engine.spec import RunSpec
from fleet.errors import InputError
from fleet.outcomes import RunKind
from fleet.sim.http import CLUSTER


async def run_serially(rollout: Rollout, failing: tuple[str, ...], count: int = 10):
    """One unit at a time, so "exactly at the threshold" is observable unit by unit."""
    watch = Watch()
    result = await run_waves(
        units(count), fail_on(*failing), concurrency=1, on_error=crash, observers=[watch], rollout=rollout
    )
    return result, watch


@pytest.mark.parametrize("limit", [1, 2, 3])
async def test_max_failures_trips_exactly_at_the_nth_failure(limit):
    rollout = parse_rollout(max_failures=str(limit))
    result, watch = await run_serially(rollout, failing=("u02", "u04", "u06", "u08"))
    nth_failure = ["u02", "u04", "u06", "u08"][limit - 1]
    assert watch.started()[-1] == nth_failure  # nothing admitted after the failure that reached it
    assert list(result.outcomes.values()).count("failed") == limit
    assert result.stop is not None and result.stop.kind == "budget"
    [trip] = watch.trips
    assert (trip.budget, trip.limit, trip.failures) == ("max-failures", limit, limit)


async def test_one_failure_below_the_threshold_runs_everything():
    result, watch = await run_serially(parse_rollout(max_failures="3"), failing=("u02", "u04"))
    assert len(result.outcomes) == 10 and result.stop is None and watch.trips == []


async def test_percent_budget_rounds_up_and_counts_against_all_planned_units():
    # 25% of 10 units = 2.5 → trips at the 3rd failure, not at 25% of the units finished so far.
    _, watch = await run_serially(parse_rollout(max_failures="25%"), failing=("u01", "u02", "u03", "u04"))
    assert watch.started() == ["u01", "u02", "u03"]
    assert watch.trips[0].limit == 3


async def test_wave_budget_counts_failures_per_wave_only():
    # wave 1 = u01..u05 with 1 failure (below 2); wave 2 = u06..u10 reaches 2 at u08.
    rollout = parse_rollout(waves="5,100%", max_wave_failures="2")
    result, watch = await run_serially(rollout, failing=("u03", "u07", "u08", "u09"))
    assert watch.started()[-1] == "u08"
    [trip] = watch.trips
    assert (trip.budget, trip.wave, trip.failures) == ("max-wave-failures", 2, 2)
    assert [(wave.index, wave.outcome, wave.failures) for wave in result.waves] == [
        (1, "failed", 1),
        (2, "aborted", 2),
    ]


async def test_wave_percent_budget_is_of_the_wave_size():
    # 20% of a 5-unit wave = 1 failure; the run-wide count would need 20% of 10 = 2.
    rollout = parse_rollout(waves="5,100%", max_wave_failures="20%")
    _, watch = await run_serially(rollout, failing=("u02",))
    assert watch.started() == ["u01", "u02"]


async def test_consecutive_budget_is_reset_by_a_success():
    rollout = parse_rollout(max_consecutive_failures="2")
    _, watch = await run_serially(rollout, failing=("u01", "u03", "u05", "u06", "u07"))
    assert watch.started() == ["u01", "u02", "u03", "u04", "u05", "u06"]
    assert watch.trips[0].budget == "max-consecutive-failures"


def test_skipped_units_neither_count_nor_reset_the_streak():
    tracker = BudgetTracker(Budgets(max_consecutive_failures=2), planned=5)
    assert tracker.record("failed", in_flight=0) is None
    assert tracker.record("skipped", in_flight=0) is None
    trip = tracker.record("split", in_flight=0)
    assert trip is not None and trip.failures == 2


async def test_units_in_flight_at_the_trip_finish_and_are_counted():
    release = asyncio.Event()

    async def run_unit(unit: Unit) -> str:
        if unit.id == "u01":
            return "failed"  # trips --max-failures 1 while u02..u04 are still running
        await release.wait()
        return "failed" if unit.id == "u02" else "succeeded"

    watch = Watch()
    task = asyncio.create_task(
        run_waves(
            units(10),
            run_unit,
            concurrency=4,
            on_error=crash,
            observers=[watch],
            rollout=parse_rollout(max_failures="1"),
        )
    )
    while not watch.trips:  # noqa: ASYNC110 - the trip is the observable we wait for
        await asyncio.sleep(0.001)
    release.set()
    result = await task
    assert watch.trips[0].in_flight == 3
    assert sorted(result.outcomes) == ["u01", "u02", "u03", "u04"]  # finished, none admitted after
    assert list(result.outcomes.values()).count("failed") == 2  # honest: past the threshold, reported
    assert "3 unit(s) still in flight" in result.stop.message


@pytest.mark.parametrize(
    ("text", "kwargs"),
    [("0", {}), ("0%", {}), ("150%", {}), ("1.5", {}), ("x", {}), ("10%", {"percent_allowed": False})],
)
def test_bad_budgets_are_input_errors(text, kwargs):
    with pytest.raises(InputError, match="--max"):
        parse_threshold(text, field="--max-failures", **kwargs)


def test_budget_thresholds_round_trip_through_the_recorded_spec(tmp_path):
    spec = RunSpec.create(
        kind=RunKind.ROTATE,
        inventory=tmp_path / "inventory.yml",
        new="env:NEW",
        max_failures="2.5%",
        max_wave_failures="3",
        max_consecutive_failures="4",
    )
    again = RunSpec.from_journal("rotate", json.loads(json.dumps(spec.options())))
    assert again == spec
    assert again.rollout().budgets == spec.rollout().budgets
    assert again.rollout().budgets.max_failures == Threshold(percent=Fraction(5, 2))


async def test_a_tripped_budget_aborts_the_rotation_with_exit_3_and_leaves_the_rest_not_started(
    sim_fleet, runner
):
    refused = {"sim-0002", "sim-0003"}

    @web.middleware
    async def refuse_rotation(request, handler):
        cluster = request.get(CLUSTER)
        if cluster is not None and cluster.name in refused and request.method == "PATCH":
            body = {"error": {"message": "The change of passphrase failed.", "code": "65536406"}}
            return web.json_response(body, status=400)
        return await handler(request)

    sim = await sim_fleet(clusters=8, seed=41, middlewares=[refuse_rotation])
    report = await rotate(runner, sim.inventory, concurrency=1, waves="1,100%", max_failures="2")
    assert (report.run.outcome, report.run.exit_code) == ("aborted", 3)
    assert "--max-failures 2 reached" in report.run.stop_reason
    rows = {record.name: record for record in report.clusters}
    assert rows["sim-0001"].outcome == "succeeded"
    assert rows["sim-0002"].outcome == rows["sim-0003"].outcome == "failed"
    not_started = [name for name, record in rows.items() if record.outcome == "not_started"]
    assert not_started == [f"sim-{index:04d}" for index in range(4, 9)]
    assert f"fleet resume {report.run.id}" in rows["sim-0008"].reason
    assert all(sim.cluster(name).counters.mutations == 0 for name in not_started)
    assert [(wave.index, wave.outcome, wave.failures) for wave in report.waves] == [
        (1, "succeeded", 0),
        (2, "aborted", 2),
    ]
    unit_status = {unit.unit_id: unit.status for unit in await runner.journal.units(report.run.id)}
    assert unit_status["sim-0008"] == "pending"  # resumable: never started
