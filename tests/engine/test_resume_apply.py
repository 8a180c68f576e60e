"""A change-window rollout of ``fleet apply`` pauses at the window's end and resumes the next night.

The docs promised it (``fleet rotate``, ``sync`` and ``apply`` take the same rollout options), the
report said "`fleet resume RUN` continues the run", and ``fleet resume`` refused: "runs of kind
'apply' cannot be resumed".
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from test_cli_rotate import run_fleet
from test_resume_window import iso

from fleet.engine.spec import RunSpec
from fleet.engine.work import work_for
from fleet.errors import InputError
from fleet.outcomes import RunKind
from fleet.policy import load_policy


def lose_keys(sim, name: str) -> None:
    for key in sim.cluster(name).nodes[0].keys:
        key.restored = False


async def paused_apply(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=12, seed=7)
    targets = [n for n in sim.onboard_names() if sim.cluster(n).version[1] >= 12][:2]
    for name in targets:
        lose_keys(sim, name)
    policy = tmp_path / "policy.yml"
    policy.write_text("key_manager: onboard\n")
    first = tmp_path / "first.json"
    closing = iso(datetime.now(UTC) + timedelta(seconds=20))  # under the 30 s floor: nothing starts
    code, _, err = await run_fleet(
        "apply", "-i", str(sim.inventory), "-p", str(policy), "--limit", "key_manager=onboard",
        "--journal", str(tmp_path / "j.db"), "--window-end", closing, "--report", str(first),
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 4, err
    report = json.loads(first.read_text())
    assert sim.mutations() == 0
    assert all("fleet resume" in c["reason"] for c in report["clusters"])
    return sim, targets, policy, report["run"]["id"]


async def test_a_paused_apply_resumes_in_tonights_window_and_finishes_the_change(sim_fleet, tmp_path):
    sim, targets, policy, run_id = await paused_apply(sim_fleet, tmp_path)
    policy.write_text("# reviewed for tonight's window\nkey_manager:   onboard\n")  # same policy, other text
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    journal = str(tmp_path / "j.db")
    code, _, err = await run_fleet("resume", run_id, "--journal", journal, cwd=elsewhere)
    assert code == 2 and "paused by its change window" in err and sim.mutations() == 0

    tonight = iso(datetime.now(UTC) + timedelta(hours=2))
    resumed = tmp_path / "resumed.json"
    code, _, err = await run_fleet(
        "resume", run_id, "--journal", journal, "--window-end", tonight, "--report", str(resumed),
        cwd=elsewhere,
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(resumed.read_text())
    assert report["run"]["kind"] == "apply" and report["run"]["options"]["resumed_from"] == run_id
    outcomes = {c["name"]: c["outcome"] for c in report["clusters"]}
    assert {n for n, o in outcomes.items() if o == "succeeded"} == set(targets), outcomes
    assert all(sim.cluster(n).counters.syncs == 1 for n in targets)
    assert all(key.restored for n in targets for node in sim.cluster(n).nodes for key in node.keys)

    code, _, err = await run_fleet("resume", run_id, "--journal", journal, cwd=elsewhere)
    assert code == 2 and "already resumed" in err


async def test_an_apply_whose_policy_changed_since_is_not_resumed(sim_fleet, tmp_path):
    """The change was planned against the policy it started with; another policy is another change."""
    sim, _, policy, run_id = await paused_apply(sim_fleet, tmp_path)
    policy.write_text("key_manager: onboard\nonboard:\n  require_all_nodes_keys: false\n")
    tonight = iso(datetime.now(UTC) + timedelta(hours=2))
    code, _, err = await run_fleet(
        "resume", run_id, "--journal", str(tmp_path / "j.db"), "--window-end", tonight, cwd=tmp_path
    )
    assert code == 2, err
    assert str(policy) in err and "changed since run" in err and "fleet apply" in err
    assert len(err.strip().splitlines()) == 1 and sim.mutations() == 0


async def test_an_apply_that_recorded_no_policy_digest_is_not_resumed(sim_fleet, tmp_path):
    """A run started before fleet recorded what its policy asked for cannot prove it is unchanged."""
    sim, _, policy, run_id = await paused_apply(sim_fleet, tmp_path)
    with sqlite3.connect(tmp_path / "j.db") as db:
        db.execute(
            "UPDATE runs SET options = json_remove(options, '$.policy_digest') WHERE id = ?", (run_id,)
        )
    tonight = iso(datetime.now(UTC) + timedelta(hours=2))
    code, _, err = await run_fleet(
        "resume", run_id, "--journal", str(tmp_path / "j.db"), "--window-end", tonight, cwd=tmp_path
    )
    assert code == 2 and "an older fleet started it" in err and str(policy) in err, err
    assert sim.mutations() == 0


def test_the_policy_is_checked_again_where_the_resumed_work_is_built(tmp_path):
    """Between the resume's first check and the run, the file may change once more."""
    policy = tmp_path / "policy.yml"
    policy.write_text("key_manager: onboard\n")
    spec = RunSpec.create(
        kind=RunKind.APPLY, workdir=tmp_path, inventory=tmp_path / "inv.yml", policy=policy, resumed_from="r1"
    ).model_copy(update={"policy_digest": load_policy(policy).digest()})
    policy.write_text(
        "# the same, spelled out\nkey_manager: onboard\nonboard:\n  require_all_nodes_keys: true\n"
    )
    assert work_for(spec) is not None
    policy.write_text("key_manager: external\nexternal:\n  servers: ['10.0.0.5']\n")
    with pytest.raises(InputError, match="the policy changed since run r1 started"):
        work_for(spec)
