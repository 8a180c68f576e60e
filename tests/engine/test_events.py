"""``--events``: valid JSON Lines, in order, agreeing with the report line for line."""

from __future__ import annotations

import json
from datetime import timedelta

from aiohttp import web
from rolloutkit import START, FakeClock, crash, rotate, units

from fleet.engine.rollout.events import EventsObserver
from fleet.engine.rollout.runner import run_waves
from fleet.engine.rollout.settings import Rollout
from fleet.engine.rollout.units import Unit
from fleet.engine.rollout.window import Window
from fleet.sim.http import CLUSTER


def read_events(path) -> list[dict]:
    lines = path.read_text().splitlines()
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(event, dict) and {"ts", "type"} <= set(event) for event in events)
    return events


async def test_events_agree_with_the_report_of_an_aborted_rollout(sim_fleet, runner, tmp_path):
    @web.middleware
    async def refuse_two(request, handler):
        sim_cluster = request.get(CLUSTER)
        if (
            sim_cluster is not None
            and sim_cluster.name in ("sim-0004", "sim-0005")
            and request.method == "PATCH"
        ):
            body = {"error": {"message": "The change of passphrase failed.", "code": "65536406"}}
            return web.json_response(body, status=400)
        return await handler(request)

    sim = await sim_fleet(clusters=10, mcc_pairs=1, seed=71, middlewares=[refuse_two])
    path = tmp_path / "events" / "run.jsonl"
    report = await rotate(
        runner, sim.inventory, concurrency=1, waves="1,2,100%", max_failures="2", events=path
    )
    assert report.run.exit_code == 3
    events = read_events(path)
    types = [event["type"] for event in events]
    assert types[0] == "run_started" and types[-1] == "run_ended"
    assert events[0]["run_id"] == events[-1]["run_id"] == report.run.id
    assert events[0]["units"] == 9  # 8 standalone + 1 pair

    ended = {event["unit"]: event["outcome"] for event in events if event["type"] == "unit_ended"}
    started = [event["unit"] for event in events if event["type"] == "unit_started"]
    assert sorted(started) == sorted(ended)
    by_cluster = {record.name: record.outcome for record in report.clusters}
    pairs = {pair.name: pair.outcome for pair in report.pairs}
    for unit, outcome in ended.items():
        assert outcome == pairs.get(unit, by_cluster.get(unit)), unit
    never_started = {name for name, outcome in by_cluster.items() if outcome == "not_started"}
    assert never_started and not never_started & {name for unit in started for name in unit.split("+")}

    waves = [(e["wave"], e["outcome"], e["failures"]) for e in events if e["type"] == "wave_ended"]
    assert waves == [(wave.index, wave.outcome, wave.failures) for wave in report.waves]
    assert [e["wave"] for e in events if e["type"] == "wave_started"] == [wave.index for wave in report.waves]
    [trip] = [event for event in events if event["type"] == "budget_tripped"]
    assert (trip["budget"], trip["limit"], trip["failures"]) == ("max-failures", 2, 2)
    assert types.index("budget_tripped") < types.index("run_ended")
    last = events[-1]
    assert (last["outcome"], last["exit_code"], last["stop_reason"]) == (
        report.run.outcome,
        report.run.exit_code,
        report.run.stop_reason,
    )
    assert last["by_outcome"] == {k: v for k, v in report.summary.by_outcome.items() if v}
    for secret in sim.secret_values():
        assert secret not in path.read_text()


async def test_window_closed_is_an_event_and_events_append_across_runs(tmp_path):
    path = tmp_path / "events.jsonl"
    clock = FakeClock()

    async def ten_minutes(unit: Unit) -> str:
        clock.advance(600)
        return "succeeded"

    for night in range(2):
        clock.now = START + timedelta(days=night)
        rollout = Rollout(window=Window(clock.now + timedelta(minutes=25)), clock=clock)
        with EventsObserver(path, clock=clock) as events:
            await run_waves(
                units(3), ten_minutes, concurrency=1, on_error=crash, observers=[events], rollout=rollout
            )
    events = read_events(path)
    closed = [event for event in events if event["type"] == "window_closed"]
    assert len(closed) == 2  # one per night, appended to the same file
    assert closed[0]["left_s"] == 300 and closed[0]["needed_s"] == 600
    assert [e["type"] for e in events].count("unit_ended") == 4  # two units fit in each 25-minute window
