"""The audit record: who ran a change, from where, for which ticket, what each cluster went from and to."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import socket
import sqlite3

import pytest
from enginekit import NEW_PASSPHRASE
from test_cli_rotate import run_fleet

import fleet
from fleet.engine.spec import RunSpec
from fleet.journal import Journal
from fleet.outcomes import RunKind
from fleet.secrets import Secret

POLICY = "key_manager: onboard\nonboard: {require_all_nodes_keys: true}\n"


def this_operator() -> str:
    """The effective user as the password database names it, at this machine's host name."""
    return f"{pwd.getpwuid(os.geteuid()).pw_name}@{socket.gethostname()}"


async def test_a_rotation_records_operator_change_id_uuids_and_both_fingerprints(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=6, seed=31)
    rotated = sim.onboard_names()
    assert len(rotated) >= 2
    victim = rotated[0]
    sim.cluster(victim).faults.lose_next = ["504"]  # the change applies, a proxy eats the answer
    old = {name: sim.passphrase(name) for name in rotated}
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    report_path, events_path, journal_path = tmp_path / "r.json", tmp_path / "ev.jsonl", tmp_path / "j.db"
    code, out, err = await run_fleet(
        "rotate", "-i", str(sim.inventory), "--new", f"file:{new}", "--change-id", "CHG-1234",
        "--report", str(report_path), "--events", str(events_path), "--journal", str(journal_path),
        cwd=tmp_path,
        # what a caller may set does not make the audit record: the operating system does
        env={"USER": "mallory", "LOGNAME": "mallory", "FLEET_OPERATOR": "mallory"},
    )  # fmt: skip
    assert code == 0, out + err
    report = json.loads(report_path.read_text())
    run = report["run"]
    assert run["operator"] == this_operator()
    assert run["host"] == socket.gethostname()
    assert run["change_id"] == "CHG-1234"
    assert run["fleet_version"] == fleet.__version__

    # the retried-then-settled error is recovered, not a failure of this succeeded run
    assert sim.cluster(victim).counters.rotations == 1 and sim.passphrase(victim) == NEW_PASSPHRASE
    assert report["failures"]["by_code"] == {}
    recovered = report["recovered"]["by_code"]["http_504"]
    assert recovered["clusters"] == [victim] and recovered["count"] == 1
    assert re.search(r"^failures +none *$", out, re.MULTILINE)
    assert re.search(r"^recovered +1 code\(s\) on 1 cluster\(s\)", out, re.MULTILINE)

    rows = {row["name"]: row for row in report["clusters"]}
    for name, row in rows.items():
        assert row["uuid"] == sim.cluster(name).uuid
    async with await Journal.open(journal_path) as journal:
        steps = await journal.steps(run["id"])
        row_of_run = await journal.run(run["id"])
        for name in rotated:
            row = rows[name]
            assert row["outcome"] == "succeeded", row["reason"]
            [change] = [s for s in steps if s.cluster == name and s.name == "change_passphrase"]
            assert row["previous_passphrase_fingerprint"] == change.from_fp
            assert row["passphrase_fingerprint"] == change.to_fp
            assert row["previous_passphrase_fingerprint"] != row["passphrase_fingerprint"]
            assert row["previous_passphrase_fingerprint"] == journal.fingerprint(Secret(old[name]))
            assert row["passphrase_fingerprint"] == journal.fingerprint(Secret(NEW_PASSPHRASE))
            state = await journal.cluster_state(name, uuid=row["uuid"])
            assert state is not None and state.current_fp == row["passphrase_fingerprint"]
    assert row_of_run is not None
    assert (row_of_run.operator, row_of_run.host, row_of_run.change_id, row_of_run.fleet_version) == (
        this_operator(),
        socket.gethostname(),
        "CHG-1234",
        fleet.__version__,
    )

    code, listed, err = await run_fleet("runs", "--json", "--journal", str(journal_path), cwd=tmp_path)
    assert code == 0, err
    [row_listed] = json.loads(listed)
    assert (row_listed["operator"], row_listed["change_id"]) == (this_operator(), "CHG-1234")

    [started] = [json.loads(line) for line in events_path.read_text().splitlines()][:1]
    assert started["type"] == "run_started"
    assert {key: started[key] for key in ("operator", "host", "change_id", "fleet_version")} == {
        "operator": this_operator(),
        "host": socket.gethostname(),
        "change_id": "CHG-1234",
        "fleet_version": fleet.__version__,
    }

    written = {"stdout": out, "stderr": err, "report": report_path.read_text()}
    written["events"] = events_path.read_text()
    for value in [NEW_PASSPHRASE, *old.values()]:
        for where, text in written.items():
            assert value not in text, f"a passphrase leaked into {where}"
            assert hashlib.sha256(value.encode()).hexdigest() not in text, f"a plain hash leaked into {where}"


@pytest.mark.parametrize(
    ("command", "value", "why"),
    [
        ("rotate", "C" * 65, "at most 64 characters"),
        ("rotate", "CHG-1\nCHG-2", "printable"),
        ("rotate", "CHG-\x1b[31m1", "printable"),
        ("rotate", "", "empty"),
        ("rotate", "   ", "empty"),
        ("sync", "C" * 65, "at most 64 characters"),
        ("apply", "CHG\t1", "printable"),
        ("sweep", "C" * 65, "at most 64 characters"),
    ],
)
async def test_a_bad_change_id_exits_2_naming_the_option_and_sends_nothing(
    sim_fleet, tmp_path, command, value, why
):
    sim = await sim_fleet(clusters=2, seed=32)
    policy = tmp_path / "policy.yml"
    policy.write_text(POLICY)
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    extra = {
        "rotate": ["--new", f"file:{new}"],
        "sync": [],
        "apply": ["-p", str(policy)],
        "sweep": ["-p", str(policy), "--report-dir", str(tmp_path / "sweeps")],
    }[command]
    code, _, err = await run_fleet(
        command, "-i", str(sim.inventory), *extra, "--change-id", value, "--journal", str(tmp_path / "j.db"),
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 2, err
    assert "--change-id" in err and why in err, err
    assert "No such option" not in err and "Traceback" not in err
    assert sim.requests() == 0


async def test_a_sweep_records_the_change_id_and_the_operator(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=33)
    policy = tmp_path / "policy.yml"
    policy.write_text(POLICY)
    report_path = tmp_path / "sweep.json"
    code, out, err = await run_fleet(
        "sweep", "-i", str(sim.inventory), "-p", str(policy), "--change-id", "AUDIT-2026-Q4",
        "--report", str(report_path), "--journal", str(tmp_path / "j.db"), cwd=tmp_path,
    )  # fmt: skip
    assert code in (0, 1), out + err
    report = json.loads(report_path.read_text())
    assert (report["run"]["change_id"], report["run"]["operator"]) == ("AUDIT-2026-Q4", this_operator())
    assert all(row["uuid"] == sim.cluster(row["name"]).uuid for row in report["clusters"])


def test_resume_keeps_the_change_id_the_run_was_started_with(tmp_path):
    spec = RunSpec.create(kind=RunKind.ROTATE, workdir=tmp_path, inventory="inv.yml", change_id="CHG-77")
    again = RunSpec.from_journal("rotate", spec.options())
    assert again.change_id == "CHG-77"


async def test_the_journal_row_is_readable_with_plain_sqlite(tmp_path):
    """An auditor with sqlite3 and no fleet finds the audit columns on the runs table."""
    async with await Journal.open(tmp_path / "j.db") as journal:
        run_id = await journal.create_run(
            kind="rotate",
            options={},
            inventory_path="i",
            inventory_digest="d",
            operator="ops@host-1",
            host="host-1",
            change_id="CHG-9",
            fleet_version="9.9.9",
        )
    conn = sqlite3.connect(tmp_path / "j.db")
    try:
        row = conn.execute(
            "SELECT operator, host, change_id, fleet_version FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
    finally:
        conn.close()
    assert row == ("ops@host-1", "host-1", "CHG-9", "9.9.9")
