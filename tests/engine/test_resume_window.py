"""`fleet resume RUN --window-end …` continues a paused rollout the next night, in a new window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from enginekit import NEW_PASSPHRASE
from test_cli_rotate import run_fleet


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_a_paused_run_resumes_in_the_window_given_on_the_command_line(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=4, seed=5)
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    first = tmp_path / "first.json"
    closing = iso(datetime.now(UTC) + timedelta(seconds=20))  # less than the 30 s floor: nothing starts
    code, _, err = await run_fleet(
        "rotate", "-i", str(sim.inventory), "--new", f"file:{new}", "--journal", str(tmp_path / "j.db"),
        "--window-end", closing, "--report", str(first), cwd=tmp_path,
    )  # fmt: skip
    assert code == 4, err
    run_id = json.loads(first.read_text())["run"]["id"]
    assert sim.mutations() == 0

    code, _, err = await run_fleet(
        "resume", run_id, "--journal", str(tmp_path / "j.db"), "--window-end", "25:99", cwd=tmp_path
    )
    assert code == 2 and "--window-end" in err
    code, _, err = await run_fleet("resume", run_id, "--journal", str(tmp_path / "j.db"), cwd=tmp_path)
    assert code == 2 and "paused by its change window" in err and sim.mutations() == 0  # not windowless

    tonight = iso(datetime.now(UTC) + timedelta(hours=2))
    resumed = tmp_path / "resumed.json"
    code, _, err = await run_fleet(
        "resume", run_id, "--journal", str(tmp_path / "j.db"), "--window-end", tonight,
        "--report", str(resumed), cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(resumed.read_text())
    assert report["run"]["options"]["window_end"].startswith(tonight[:16])
    assert all(sim.passphrase(name) == NEW_PASSPHRASE for name in sim.onboard_names())


async def test_a_run_is_resumed_exactly_once_the_second_resume_names_the_latest(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=4, seed=5)
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    journal = str(tmp_path / "j.db")
    first = tmp_path / "first.json"
    closing = iso(datetime.now(UTC) + timedelta(seconds=20))
    code, _, err = await run_fleet(
        "rotate", "-i", str(sim.inventory), "--new", f"file:{new}", "--journal", journal,
        "--window-end", closing, "--report", str(first), cwd=tmp_path,
    )  # fmt: skip
    assert code == 4, err
    run_id = json.loads(first.read_text())["run"]["id"]
    closing = iso(datetime.now(UTC) + timedelta(seconds=20))  # the second night is short too
    second = tmp_path / "second.json"
    code, _, err = await run_fleet(
        "resume", run_id, "--journal", journal, "--window-end", closing, "--report", str(second), cwd=tmp_path
    )
    assert code == 4, err
    second_id = json.loads(second.read_text())["run"]["id"]

    requests = sim.requests()
    code, _, err = await run_fleet("resume", run_id, "--journal", journal, cwd=tmp_path)
    assert code == 2 and f"fleet resume {second_id}" in err
    assert sim.requests() == requests, "a refused resume contacted a cluster"

    tonight = iso(datetime.now(UTC) + timedelta(hours=2))
    code, _, err = await run_fleet(
        "resume", second_id, "--journal", journal, "--window-end", tonight, cwd=tmp_path
    )
    assert code == 0, err
    assert all(sim.cluster(name).counters.rotations == 1 for name in sim.onboard_names())
