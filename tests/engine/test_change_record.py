"""One record per change: a run and the resumes that continued it read as one, from any of its runs."""

from __future__ import annotations

import json
from pathlib import Path

from enginekit import NEW_PASSPHRASE
from test_cli_rotate import run_fleet
from test_cli_terminal import on_terminal

from fleet.report import load_report


async def three_night_rollout(sim, tmp_path: Path) -> tuple[list[str], list[Path]]:
    """Night 1 aborts on the first unreachable cluster, night 2 on the second, night 3 finishes."""
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    journal = str(tmp_path / "j.db")
    reports = [tmp_path / f"night{n}.json" for n in (1, 2, 3)]
    code, _, err = await run_fleet(
        "rotate", "-i", str(sim.inventory), "--new", f"file:{new}", "--journal", journal,
        "--concurrency", "1", "--max-failures", "1", "--report", str(reports[0]), cwd=tmp_path,
    )  # fmt: skip
    assert code == 3, err
    runs = [json.loads(reports[0].read_text())["run"]["id"]]
    code, _, err = await run_fleet(
        "resume", runs[0], "--journal", journal, "--report", str(reports[1]), cwd=tmp_path
    )
    assert code == 3, err
    runs.append(json.loads(reports[1].read_text())["run"]["id"])
    code, _, err = await run_fleet(
        "resume", runs[1], "--journal", journal, "--max-failures", "5", "--report", str(reports[2]),
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    runs.append(json.loads(reports[2].read_text())["run"]["id"])
    return runs, reports


async def test_the_last_report_of_a_three_run_lineage_lists_every_cluster_once(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=8, seed=7)
    onboard = sim.onboard_names()
    first, second = onboard[:2]
    sim.unreachable([first, second])
    runs, reports = await three_night_rollout(sim, tmp_path)

    change = load_report(reports[2]).change
    assert change is not None and change.runs == runs and change.complete
    names = [record.name for record in change.clusters]
    assert sorted(names) == sorted(sim.fleet.clusters) and len(names) == len(set(names))
    final = {record.name: record for record in change.clusters}
    assert (final[first].outcome, final[first].run) == ("failed", runs[0])
    assert (final[second].outcome, final[second].run) == ("failed", runs[1])
    for name in onboard[2:]:
        assert (final[name].outcome, final[name].run) == ("succeeded", runs[2]), final[name]
        assert sim.cluster(name).counters.rotations == 1
    assert change.by_outcome["failed"] == 2 and change.by_outcome["not_started"] == 0
    assert sum(change.by_outcome.values()) == len(sim.fleet.clusters)


async def test_report_show_of_any_run_shows_the_whole_change(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=8, seed=7)
    onboard = sim.onboard_names()
    sim.unreachable(onboard[:2])
    runs, reports = await three_night_rollout(sim, tmp_path)
    journal = str(tmp_path / "j.db")

    for run_id in runs:
        code, out, err = await run_fleet(
            "report", "show", run_id, "--journal", journal, "--json", cwd=tmp_path
        )
        assert code == 0, err
        shown = json.loads(out)
        assert shown["run"]["id"] == runs[2] and shown["change"]["runs"] == runs
    code, out, _ = await run_fleet("report", "show", runs[0], "--journal", journal, cwd=tmp_path)
    assert code == 0 and f"3 runs: {runs[0]} → {runs[1]} → {runs[2]}" in out
    assert f"{onboard[0]} failed (run {runs[0]})" in out

    reports[2].unlink()  # the last report is gone: the change is told from what is left, and says so
    code, out, _ = await run_fleet("report", "show", runs[0], "--journal", journal, "--json", cwd=tmp_path)
    shown = json.loads(out)
    assert code == 0 and shown["run"]["id"] == runs[1] and shown["change"]["complete"] is False
    final = {record["name"]: record for record in shown["change"]["clusters"]}
    assert final[onboard[2]]["outcome"] == "succeeded" and final[onboard[2]]["run"] == runs[2]

    code, _, err = await run_fleet("report", "show", "no-such-run", "--journal", journal, cwd=tmp_path)
    assert code == 2 and "no-such-run" in err and "Traceback" not in err


async def test_fleet_runs_shows_the_lineage(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=8, seed=7)
    sim.unreachable(sim.onboard_names()[:2])
    runs, _ = await three_night_rollout(sim, tmp_path)
    code, out, err = await run_fleet("runs", "--journal", str(tmp_path / "j.db"), "--json", cwd=tmp_path)
    assert code == 0, err
    listed = {row["id"]: row for row in json.loads(out)}
    assert listed[runs[0]]["resumed_by"] == runs[1] and listed[runs[0]]["resumed_from"] is None
    assert listed[runs[1]]["resumed_from"] == runs[0] and listed[runs[1]]["resumed_by"] == runs[2]
    assert listed[runs[2]]["resumed_by"] is None
    code, out, _ = await run_fleet("runs", "--journal", str(tmp_path / "j.db"), cwd=tmp_path)
    header, *lines = out.splitlines()  # piped: tab-separated, "-" for an empty field
    columns = header.split("\t")
    rows = {line.split("\t")[0]: dict(zip(columns, line.split("\t"), strict=True)) for line in lines}
    assert (rows[runs[0]]["resumed_from"], rows[runs[0]]["resumed_by"]) == ("-", runs[1])
    assert (rows[runs[1]]["resumed_from"], rows[runs[1]]["resumed_by"]) == (runs[0], runs[2])
    code, drawn = await on_terminal(["runs", "--journal", str(tmp_path / "j.db")], tmp_path)
    assert code == 0 and f"resumed by {runs[1]}" in drawn and f"resumes {runs[0]}" in drawn
