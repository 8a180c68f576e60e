"""The change window: no unit starts that would not fit; exit 4; the next night finishes the run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from enginekit import NEW_PASSPHRASE
from rolloutkit import START, FakeClock, Watch, crash, plan_of, rotation_plan, units

from fleet.engine.resume import ResumeRequest, resume_spec, tonight_window
from fleet.engine.rollout.runner import run_waves
from fleet.engine.rollout.settings import Rollout
from fleet.engine.rollout.units import Unit
from fleet.engine.rollout.window import Window, parse_window_end, window_end_ahead
from fleet.engine.run import execute
from fleet.engine.work import rotate_work
from fleet.errors import InputError


def local(*fields: int) -> datetime:
    """An aware datetime for a wall-clock time in this machine's local zone."""
    return datetime(*fields).astimezone()


def test_hh_mm_is_its_next_local_occurrence():
    assert parse_window_end("05:30", now=local(2026, 11, 28, 23, 10)) == local(2026, 11, 29, 5, 30)
    assert parse_window_end("23:45", now=local(2026, 11, 28, 23, 10)) == local(2026, 11, 28, 23, 45)


def test_hh_mm_more_than_12_hours_away_is_refused_showing_the_time_it_was_read_as():
    """ "11:15" typed at 11:20 is a typo for a window that just closed, not a 23 h 55 min window."""
    with pytest.raises(InputError, match=r"2026-11-29 11:15 local time, 23.9 h from now.*2026-11-29T11:15"):
        parse_window_end("11:15", now=local(2026, 11, 28, 11, 20))
    with pytest.raises(InputError, match="--window-end"):
        parse_window_end("23:10", now=local(2026, 11, 28, 23, 10))  # equal to now: tomorrow, 24 h away
    assert parse_window_end("11:15", now=local(2026, 11, 28, 23, 20)) == local(2026, 11, 29, 11, 15)


def test_iso_8601_with_offset_and_naive_local():
    assert parse_window_end("2026-11-29T05:30Z") == datetime(2026, 11, 29, 5, 30, tzinfo=UTC)
    assert parse_window_end("2026-11-29T06:30:00+01:00") == datetime(2026, 11, 29, 5, 30, tzinfo=UTC)
    assert parse_window_end("2026-11-29T05:30") == local(2026, 11, 29, 5, 30)


def test_a_duration_from_now_is_a_window_end():
    now = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)
    assert parse_window_end("+8h", now=now) == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    assert parse_window_end("+90m", now=now) == datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert parse_window_end("+1h30m", now=now) == datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    with pytest.raises(InputError, match="ends now"):
        parse_window_end("+0h", now=now)


def test_a_past_window_end_is_refused_showing_how_it_was_read_and_how_to_write_it():
    now = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)
    with pytest.raises(InputError, match=r"read as 2026-11-29 .* local time, 60 min ago.*\+8h") as caught:
        window_end_ahead("2026-11-29T21:00Z", now=now)
    assert caught.value.field == "--window-end"
    assert window_end_ahead("+2h", now=now) == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["25:00", "5h", "tomorrow", "2026-13-01T00:00", "+", "+8x", "-2h"])
def test_bad_window_end_is_an_input_error(text):
    with pytest.raises(InputError, match="--window-end"):
        parse_window_end(text)


async def run_timed(seconds_per_unit: float, *, window_s: float, floor: float, count: int = 10):
    """Units run one at a time and each takes ``seconds_per_unit`` on a fake clock."""
    clock = FakeClock()

    async def run_unit(unit: Unit) -> str:
        clock.advance(seconds_per_unit)
        return "succeeded"

    watch = Watch()
    rollout = Rollout(window=Window(START + timedelta(seconds=window_s), floor=floor), clock=clock)
    result = await run_waves(
        units(count), run_unit, concurrency=1, on_error=crash, observers=[watch], rollout=rollout
    )
    return result, watch


async def test_the_floor_holds_back_the_last_unit_when_less_than_it_is_left():
    # 20 s units, 100 s window, 30 s floor: the unit that would start at 80 s (20 s left) is not admitted.
    result, watch = await run_timed(20, window_s=100, floor=30)
    assert len(result.outcomes) == 4
    assert result.stop.kind == "window"
    [closing] = watch.closings
    assert (closing.left_s, closing.needed_s) == (20, 30)


async def test_without_a_floor_the_p90_decides():
    result, _ = await run_timed(20, window_s=100, floor=0)
    assert len(result.outcomes) == 5  # the 5th starts with exactly 20 s left: it fits


async def test_slow_units_raise_the_estimate_above_the_floor():
    # 60 s units: after the first, a unit needs 60 s; at 120 s only 30 s are left.
    result, watch = await run_timed(60, window_s=150, floor=30)
    assert len(result.outcomes) == 2
    assert watch.closings[0].needed_s == 60


async def test_a_window_already_closed_starts_nothing():
    result, watch = await run_timed(20, window_s=10, floor=30)
    assert result.outcomes == {} and result.waves == [] and result.stop.kind == "window"
    assert watch.log == []


async def test_window_close_pauses_with_exit_4_and_the_next_night_finishes_with_no_unit_done_twice(
    sim_fleet, runner
):
    sim = await sim_fleet(clusters=6, seed=51)
    clock = FakeClock()

    async def twenty_minute_work(ctx, unit, state):
        await rotate_work(ctx, unit, state)
        clock.advance(20 * 60)

    night_one = await rotation_plan(
        runner, sim.inventory, concurrency=1, clock=clock, waves="1,100%", window_end="2026-11-29T01:50Z"
    )
    first = (await execute(night_one, twenty_minute_work)).report
    assert (first.run.outcome, first.run.exit_code) == ("paused", 4)
    assert "change window ends at 2026-11-29T01:50:00+00:00" in first.run.stop_reason
    outcomes = {record.name: record.outcome for record in first.clusters}
    done = {name for name, outcome in outcomes.items() if outcome != "not_started"}
    assert done == {"sim-0001", "sim-0002"}  # 0:00 → 0:20 → 0:40; 10 min left < 20 min
    assert [(wave.index, wave.outcome) for wave in first.waves] == [(1, "succeeded"), (2, "paused")]

    # The next night, as `fleet resume` does it: the units not done, their recorded waves, a new window.
    clock.now = START + timedelta(days=1)
    request = ResumeRequest(first.run.id, window_end="2026-11-30T01:50Z")
    spec, todo = await resume_spec(runner.journal, request, clock=clock)
    assert todo == set(outcomes) - done
    rows = await runner.journal.units(first.run.id)
    wave_of = {row.unit_id: row.wave for row in rows if row.wave is not None}
    plan = await plan_of(runner, spec, clock=clock, only=todo)
    plan.wave_of = wave_of
    second = (await execute(plan, twenty_minute_work)).report
    assert (second.run.outcome, second.run.exit_code) == ("paused", 4)  # 4 units × 20 min > 50 min
    assert [(wave.index, wave.size) for wave in second.waves] == [
        (2, 4)
    ]  # the same wave 2, what is left of it

    clock.now = START + timedelta(days=2)  # the third night: the recorded window has passed, none given
    with pytest.raises(InputError, match="paused by its change window"):
        await resume_spec(runner.journal, ResumeRequest(second.run.id), clock=clock)
    spec, todo = await resume_spec(runner.journal, ResumeRequest(second.run.id, no_window=True), clock=clock)
    assert len(todo) == 2 and spec.window_end is None
    plan = await plan_of(runner, spec, clock=clock, only=todo)
    plan.wave_of = wave_of
    third = (await execute(plan, twenty_minute_work)).report
    assert third.run.exit_code == 0
    ran_in = {}
    for report in (first, second, third):
        for record in report.clusters:
            if record.outcome != "not_started":
                assert record.name not in ran_in, f"{record.name} ran twice"
                ran_in[record.name] = report.run.id
    assert set(ran_in) == set(outcomes)
    for name in sim.onboard_names():
        assert sim.passphrase(name) == NEW_PASSPHRASE
        assert sim.cluster(name).counters.rotations == 1, name


def test_a_resumed_run_keeps_a_future_window_but_drops_one_that_has_passed():
    recorded = datetime(2026, 11, 29, 5, 30, tzinfo=UTC)
    assert tonight_window(recorded, None, now=START) == recorded
    next_day = START + timedelta(days=1)
    assert tonight_window(recorded, None, now=next_day) is None
    again = tonight_window(recorded, "2026-11-30T05:30Z", now=next_day)
    assert again == datetime(2026, 11, 30, 5, 30, tzinfo=UTC)
