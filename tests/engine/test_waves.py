"""Waves: documented sizing, pairs kept whole, a barrier between waves, waves in report and journal."""

from __future__ import annotations

import asyncio

import pytest
from rolloutkit import Watch, cluster, crash, fail_on, rotate, units

from fleet.engine.rollout.runner import run_waves
from fleet.engine.rollout.settings import Rollout, WaveQuestion
from fleet.engine.rollout.units import Unit, build_units
from fleet.engine.rollout.waves import assign_waves, parse_waves, wave_sizes
from fleet.engine.run import run_outcome
from fleet.errors import InputError

# The table of fleet/engine/waves.py's docstring and docs/rollouts.md, row by row.
SIZING = [
    ("1,5,10%,100%", 100, [1, 5, 10, 84]),
    ("1,5,10%,100%", 7, [1, 5, 1]),
    ("1,5,10%,100%", 3, [1, 2]),
    ("1,10%", 1000, [1, 999]),
    ("10%,10%,100%", 25, [3, 3, 19]),
    ("1%,100%", 30, [1, 29]),
    ("2.5%,100%", 200, [5, 195]),
    ("33%,33%,33%", 10, [4, 4, 2]),
    (None, 12, [12]),
]


@pytest.mark.parametrize(("spec", "total", "sizes"), SIZING)
def test_wave_sizes_match_the_documented_table(spec, total, sizes):
    assert wave_sizes(parse_waves(spec) if spec else None, total) == sizes


def test_ten_percent_of_thirty_is_three_not_four():
    """Exact fractions: a float 0.1 * 30 would round up to 4."""
    assert wave_sizes(parse_waves("10%,100%"), 30) == [3, 27]


def test_waves_round_trip_to_the_same_text_for_the_journal():
    assert str(parse_waves(" 1, 5 ,2.5%,100% ")) == "1,5,2.5%,100%"


@pytest.mark.parametrize("text", ["", "0", "1,,5", "0%", "101%", "1.5", "-1", "ten", "5%%", "1/3%"])
def test_bad_waves_are_input_errors_naming_the_option(text):
    with pytest.raises(InputError, match="--waves"):
        parse_waves(text)


def test_a_pair_counts_once_and_is_never_split_across_waves():
    clusters = [
        cluster("a1", site="east").model_copy(update={"metrocluster_partner": "a2"}),
        cluster("a2", site="west").model_copy(update={"metrocluster_partner": "a1"}),
        cluster("b1"),
        cluster("b2"),
    ]
    unit_list = build_units(clusters)
    assert [unit.id for unit in unit_list] == ["a1+a2", "b1", "b2"]
    assert assign_waves(unit_list, parse_waves("1,100%")) == {"a1+a2": 1, "b1": 2, "b2": 2}


async def test_a_wave_starts_only_after_every_unit_of_the_previous_wave_ended():
    watch = Watch()
    finish_slowly = {"u01": 0.05, "u02": 0.01}

    async def run_unit(unit: Unit) -> str:
        await asyncio.sleep(finish_slowly.get(unit.id, 0))
        return "succeeded"

    result = await run_waves(
        units(8),
        run_unit,
        concurrency=8,
        on_error=crash,
        observers=[watch],
        rollout=Rollout(waves=parse_waves("2,100%")),
    )
    assert [wave.index for wave in result.waves] == [1, 2]
    assert [wave.outcome for wave in result.waves] == ["succeeded", "succeeded"]
    wave_two = watch.log.index(("wave", "2"))
    assert {("end", "u01"), ("end", "u02")} <= set(watch.log[:wave_two])
    assert all(kind != "start" or unit in ("u01", "u02") for kind, unit in watch.log[:wave_two])
    assert len(result.outcomes) == 8 and result.stop is None


async def test_failures_in_a_wave_without_a_budget_do_not_stop_the_rollout():
    result = await run_waves(
        units(5),
        fail_on("u01"),
        concurrency=2,
        on_error=crash,
        rollout=Rollout(waves=parse_waves("1,100%")),
    )
    assert [(wave.outcome, wave.failures) for wave in result.waves] == [("failed", 1), ("succeeded", 0)]
    assert len(result.outcomes) == 5 and result.stop is None


async def test_rotation_in_waves_records_each_wave_in_report_and_journal(sim_fleet, runner):
    sim = await sim_fleet(clusters=6, mcc_pairs=1, seed=31)
    report = await rotate(runner, sim.inventory, waves="1,2,100%")
    assert report.run.exit_code == 0, report.run.stop_reason
    assert [(wave.index, wave.size, wave.outcome) for wave in report.waves] == [
        (1, 1, "succeeded"),
        (2, 2, "succeeded"),
        (3, 2, "succeeded"),
    ]
    assert report.run.options["waves"] == "1,2,100%"
    pair = "sim-0001+sim-0002"
    wave_of_pair = next(wave.index for wave in report.waves if pair in wave.units)
    rows = {record.name: record for record in report.clusters}
    assert rows["sim-0001"].wave == rows["sim-0002"].wave == wave_of_pair
    assert all(record.wave is not None for record in report.clusters)
    journal_waves = {unit.unit_id: unit.wave for unit in await runner.journal.units(report.run.id)}
    assert journal_waves == {unit: wave.index for wave in report.waves for unit in wave.units}
    assert sum(wave.size for wave in report.waves) == 5  # 4 standalone clusters + 1 pair


async def test_pause_between_waves_asks_before_each_later_wave_and_a_no_pauses_the_run():
    asked: list[str] = []

    async def operator(question: WaveQuestion) -> bool:
        asked.append(question.text())
        return question.next < 3  # yes to wave 2, no to wave 3

    rollout = Rollout(waves=parse_waves("1,2,100%"), confirm_next_wave=operator)
    result = await run_waves(
        units(6),
        fail_on("u01"),
        concurrency=2,
        on_error=crash,
        rollout=rollout,
        explain=lambda unit: f"{unit} refused the passphrase",
    )
    assert asked == [
        "Start wave 2 of 3 (2 units)? Previous wave: 0 succeeded, 1 failed (u01: u01 refused the passphrase)",
        "Start wave 3 of 3 (3 units)? Previous wave: 2 succeeded, 0 failed",
    ]
    assert sorted(result.outcomes) == ["u01", "u02", "u03"]
    assert result.stop.kind == "declined"
    assert run_outcome([], interrupted=False, halted=result.stop.kind) == ("paused", 4)


async def test_a_stop_while_the_question_is_open_starts_no_further_wave():
    stop = asyncio.Event()

    async def operator(_: WaveQuestion) -> bool:
        stop.set()  # SIGINT arrives while the prompt waits
        await asyncio.Event().wait()
        return True

    rollout = Rollout(waves=parse_waves("1,100%"), confirm_next_wave=operator)
    result = await run_waves(units(3), fail_on(), concurrency=2, on_error=crash, stop=stop, rollout=rollout)
    assert list(result.outcomes) == ["u01"] and result.stop.kind == "signal"


async def test_the_terminal_prompt_answers_through_a_daemon_thread(monkeypatch):
    import click

    from fleet.cli.run_support import confirm_on_terminal

    prompts: list[str] = []
    monkeypatch.setattr(click, "confirm", lambda text, **_: prompts.append(text) or True)
    question = WaveQuestion(finished=1, succeeded=1, failed=(), others=0, next=2, last=2, size=5)
    assert await confirm_on_terminal(question) is True
    assert prompts == ["Start wave 2 of 2 (5 units)? Previous wave: 1 succeeded, 0 failed"]


def test_the_question_names_at_most_three_failures_and_shortens_their_reasons():
    failed = tuple((f"cl-{n:04d}", "x" * 100) for n in range(5))
    question = WaveQuestion(finished=2, succeeded=19, failed=failed, others=1, next=3, last=4, size=28)
    text = question.text()
    assert text.startswith("Start wave 3 of 4 (28 units)? Previous wave: 19 succeeded, 5 failed (cl-0000: x")
    assert text.count("cl-") == 3 and "; 2 more)" in text and text.endswith(", 1 other")
    assert "x" * 60 not in text
