"""`fleet resume` the next night: the night's options win, the change stays, pauses ask again.

The prompts are answered on a pseudo-terminal, as an operator at a console would.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import pexpect
from enginekit import NEW_PASSPHRASE
from test_cli_rotate import run_fleet


def rotate_args(sim, tmp_path: Path, *extra: str) -> list[str]:
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    return [
        "rotate", "-i", str(sim.inventory), "--new", f"file:{new}",
        "--journal", str(tmp_path / "j.db"), "--log-format", "json", *extra,
    ]  # fmt: skip


class Console:
    """``fleet`` on a pseudo-terminal: what it printed so far, and answers typed at its prompts."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "fleet", *args],
            cwd=str(cwd),
            env={**os.environ, "COLUMNS": "200"},
            encoding="utf-8",
            timeout=60,
            dimensions=(50, 200),
        )

    async def answer(self, prompt: str, reply: str) -> str:
        """Wait for ``prompt`` (a regex), type ``reply``; the prompt line as shown."""
        await asyncio.to_thread(self.child.expect, prompt)
        shown = self.child.after
        self.child.sendline(reply)
        return str(shown)

    async def exit_code(self) -> int:
        await asyncio.to_thread(self.child.expect, pexpect.EOF)
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)


def wave_prompt(index: int, total: int) -> str:
    return rf"Start wave {index} of {total} \(\d+ units?\)\? Previous wave: [^\r\n]*\[y/N\]: "


async def test_pause_between_waves_asks_again_after_resume(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=8, seed=7)
    report = tmp_path / "first.json"
    console = Console(
        rotate_args(sim, tmp_path, "--waves", "1,1,1,100%", "--pause-between-waves", "--report", str(report)),
        tmp_path,
    )
    shown = await console.answer(wave_prompt(2, 4), "y")
    assert "Previous wave: 1 succeeded, 0 failed" in shown
    await console.answer(wave_prompt(3, 4), "n")
    assert await console.exit_code() == 4  # paused: the operator said no
    run_id = json.loads(report.read_text())["run"]["id"]

    # No terminal to ask on, no --yes: refused before anything is sent.
    requests = sim.requests()
    code, _, err = await run_fleet("resume", run_id, "--journal", str(tmp_path / "j.db"), cwd=tmp_path)
    assert code == 2 and "--yes" in err and sim.requests() == requests

    resumed = tmp_path / "resumed.json"
    console = Console(
        ["resume", run_id, "--journal", str(tmp_path / "j.db"), "--report", str(resumed)], tmp_path
    )
    shown = await console.answer(wave_prompt(4, 4), "y")  # resuming starts wave 3; wave 4 is asked
    assert re.search(r"Previous wave: 1 succeeded, 0 failed", shown)
    assert await console.exit_code() == 0
    assert all(sim.cluster(name).counters.rotations == 1 for name in sim.onboard_names())
    assert all(sim.passphrase(name) == NEW_PASSPHRASE for name in sim.onboard_names())


async def test_the_wave_prompt_names_the_previous_waves_failures(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=6, seed=7)
    broken = sim.onboard_names()[0]
    sim.unreachable([broken])
    console = Console(rotate_args(sim, tmp_path, "--waves", "1,100%", "--pause-between-waves"), tmp_path)
    shown = await console.answer(wave_prompt(2, 2), "n")
    assert f"0 succeeded, 1 failed ({broken}: " in shown
    assert await console.exit_code() == 4


async def test_resume_takes_tonights_budget_and_keeps_the_change(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=8, seed=7)
    names = sim.onboard_names()
    sim.unreachable(names[:2])  # the first two in inventory order
    first = tmp_path / "first.json"
    code, _, err = await run_fleet(
        *rotate_args(sim, tmp_path, "--concurrency", "1", "--max-failures", "1", "--report", str(first)),
        cwd=tmp_path,
    )
    assert code == 3, err  # aborted at the first failure
    run_id = json.loads(first.read_text())["run"]["id"]

    code, _, err = await run_fleet(
        "resume", run_id, "--journal", str(tmp_path / "j.db"), "--max-failures", "0", cwd=tmp_path
    )
    assert code == 2 and "--max-failures" in err

    resumed = tmp_path / "resumed.json"
    code, _, err = await run_fleet(
        "resume", run_id, "--journal", str(tmp_path / "j.db"), "--max-failures", "5",
        "--concurrency", "4", "--report", str(resumed), cwd=tmp_path,
    )  # fmt: skip
    assert code == 1, err  # the second unreachable cluster failed; the budget of 5 was not reached
    report = json.loads(resumed.read_text())
    options = report["run"]["options"]
    assert options["max_failures"] == "5" and options["concurrency"] == 4
    assert options["new"] == f"file:{tmp_path / 'new.okm'}" and options["resumed_from"] == run_id
    for name in names[2:]:
        assert sim.passphrase(name) == NEW_PASSPHRASE and sim.cluster(name).counters.rotations == 1
