"""The rollout options as an admin types them: ``fleet rotate --waves … --events …`` in a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

from enginekit import NEW_PASSPHRASE


def an_hour_from_now_as_hh_mm() -> str:
    """A window end typed as HH:MM that is valid at any hour the suite runs (HH:MM must end within 12 h)."""
    return (datetime.now() + timedelta(hours=1)).strftime("%H:%M")


async def fleet(*args: str, cwd: Path) -> tuple[int, str, str]:
    """Run ``fleet`` with no terminal on stdin, as cron or CI would."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fleet",
        *args,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, out.decode(), err.decode()


def rotate_args(sim, tmp_path: Path, *extra: str) -> list[str]:
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    return [
        "rotate",
        "-i",
        str(sim.inventory),
        "--new",
        f"file:{new}",
        "--journal",
        str(tmp_path / "journal.db"),
        "--report",
        str(tmp_path / "report.json"),
        "--log-format",
        "json",
        *extra,
    ]


async def test_pause_between_waves_without_a_terminal_needs_yes(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=81)
    code, _, err = await fleet(
        *rotate_args(sim, tmp_path, "--waves", "1,100%", "--pause-between-waves"), cwd=tmp_path
    )
    assert code == 2
    assert "--pause-between-waves" in err and "--yes" in err
    assert sim.requests() == 0


async def test_bad_rollout_options_exit_2_naming_the_option(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=81)
    bad = [
        ("--waves", "0,100%"),
        ("--waves", ""),  # not "one wave of everything"
        ("--max-failures", "0"),
        ("--max-failures", ""),
        ("--window-end", "25:99"),
        ("--window-end", "2020-01-01T00:00Z"),  # already passed: refused, no run recorded
    ]
    for option, value in bad:
        code, _, err = await fleet(*rotate_args(sim, tmp_path, option, value), cwd=tmp_path)
        assert code == 2 and option in err, (option, value, err)
    assert sim.requests() == 0
    assert not (tmp_path / "journal.db").exists()  # refused before a run was recorded


async def test_rollout_options_reach_the_report_events_and_exit_code(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=6, seed=81)
    events = tmp_path / "events.jsonl"
    args = rotate_args(
        sim,
        tmp_path,
        "--waves",
        "1,100%",
        "--max-failures",
        "1",
        "--limit-per",
        "site=1",
        "--pause-between-waves",
        "--yes",
        "--events",
        str(events),
        "--window-end",
        an_hour_from_now_as_hh_mm(),
        "--current",
        f"file:{tmp_path / 'wrong.okm'}",
    )
    (tmp_path / "wrong.okm").write_text("W" * 40)
    code, out, err = await fleet(*args, cwd=tmp_path)
    assert code == 3, err
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["run"]["outcome"] == "aborted"
    assert "--max-failures 1 reached" in report["run"]["stop_reason"]
    options = report["run"]["options"]
    assert options["waves"] == "1,100%" and options["max_failures"] == "1"
    assert options["limit_per"] == ["site=1"] and options["window_end"] and options["events"] == str(events)
    assert options["pause_between_waves"] is False  # --yes: nobody was asked
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert lines[-1]["type"] == "run_ended" and lines[-1]["exit_code"] == 3
    assert "W" * 40 not in events.read_text() + out + err
