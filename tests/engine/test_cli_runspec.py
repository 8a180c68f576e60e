"""The RunSpec as an admin meets it: a resumed run does what the run was asked, wherever it resumes from.

And what cannot start (a damaged journal key, a secret store that fails) is one line and exit 2,
before any cluster is contacted.
"""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web
from test_cli_rotate import run_fleet

from fleet.secrets.store import FileStore
from fleet.sim.http import CLUSTER

REFUSED = "sim-0001"  # the first unit: with --max-failures 1 and one unit at a time, the run aborts on it


def refuse_first_cluster(refusing: dict[str, bool]):
    """While ``refusing["on"]``, sim-0001 answers every request with 401 (an admin's expired account)."""

    @web.middleware
    async def refuse(request, handler):
        cluster = request.get(CLUSTER)
        if refusing["on"] and cluster is not None and cluster.name == REFUSED:
            return web.json_response({"error": {"message": "not authorized", "code": "6"}}, status=401)
        return await handler(request)

    return refuse


def written_at_root(*names: str) -> list[str]:
    """What a resume started in / wrote there (it should write nothing there)."""
    return [name for name in names if (Path("/") / name).exists()]


def report_of(path: Path) -> dict:
    return json.loads(path.read_text())


async def test_resume_of_a_sync_run_from_another_directory_keeps_every_option(sim_fleet, tmp_path):
    refusing = {"on": True}
    sim = await sim_fleet(clusters=8, seed=5, middlewares=[refuse_first_cluster(refusing)])
    start = sim.workdir  # every path below is relative to where the run starts
    first_report = tmp_path / "first.json"
    code, _, err = await run_fleet(
        "sync", "-i", "inventory.yml", "--journal", "journal.db", "--backup-dir", "backups",
        "--cluster-deadline", "120", "--timeout", "9", "--per-cluster", "1", "--concurrency", "1",
        "--max-failures", "1", "--events", "events.jsonl", "--report", str(first_report),
        cwd=start,
    )  # fmt: skip
    assert code == 3, err
    first = report_of(first_report)
    assert {c["name"] for c in first["clusters"] if c["outcome"] != "not_started"} == {REFUSED}

    refusing["on"] = False
    resumed_report = tmp_path / "resumed.json"
    code, _, err = await run_fleet(
        "resume", first["run"]["id"], "--journal", str(start / "journal.db"), "--report", str(resumed_report),
        cwd=Path("/"),
    )  # fmt: skip
    assert code == 0, err
    resumed = report_of(resumed_report)
    options = dict(resumed["run"]["options"])
    assert options.pop("resumed_from") == first["run"]["id"]
    options.pop("retry_failed")
    assert options == {
        k: v for k, v in first["run"]["options"].items() if k not in ("resumed_from", "retry_failed")
    }
    assert options["backup_dir"] == str(start / "backups") and options["cluster_deadline"] == 120
    assert options["timeout"] == 9 and options["per_cluster"] == 1 and options["concurrency"] == 1
    synced = {c["name"] for c in resumed["clusters"] if c["outcome"] == "succeeded"}
    assert synced, "pre-9.12 clusters are always synced"
    assert {path.stem.removesuffix(".okm-backup") for path in (start / "backups").iterdir()} >= synced
    assert written_at_root("backups", "events.jsonl") == []
    assert resumed["run"]["id"] in (start / "events.jsonl").read_text()


async def test_resume_from_root_of_a_generated_rotation_uses_the_runs_own_store_and_inventory(
    sim_fleet, tmp_path
):
    refusing = {"on": True}
    sim = await sim_fleet(clusters=6, seed=9, middlewares=[refuse_first_cluster(refusing)])
    start = sim.workdir
    code, _, err = await run_fleet(
        "rotate", "-i", "inventory.yml", "--new", "generate", "--store", "store", "--journal", "journal.db",
        "--concurrency", "1", "--max-failures", "1", "--report", str(tmp_path / "first.json"),
        cwd=start,
    )  # fmt: skip
    assert code == 3, err
    run_id = report_of(tmp_path / "first.json")["run"]["id"]

    refusing["on"] = False
    code, _, err = await run_fleet(
        "resume", run_id, "--journal", str(start / "journal.db"), "--report", str(tmp_path / "resumed.json"),
        cwd=Path("/"),
    )  # fmt: skip
    assert code in (0, 1), err
    resumed = report_of(tmp_path / "resumed.json")
    rotated = [c["name"] for c in resumed["clusters"] if c["outcome"] == "succeeded"]
    assert rotated
    store = FileStore(start / "store")
    for name in rotated:
        current = await store.get(name, "current")
        assert current is not None and current.reveal() == sim.passphrase(name), name
    assert written_at_root("store", "reports") == []


async def test_a_damaged_journal_key_exits_2_in_one_line_and_contacts_nothing(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=2)
    journal = tmp_path / "journal.db"
    key = tmp_path / "journal.db.key"
    key.write_bytes(b"short")
    key.chmod(0o600)
    code, out, err = await run_fleet(
        "sync", "-i", str(sim.inventory), "--journal", str(journal), cwd=tmp_path
    )
    assert code == 2, err
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "journal key" in lines[0] and str(key) in lines[0]
    assert sim.requests() == 0


async def test_a_failing_secret_store_command_exits_2_in_one_line_and_contacts_nothing(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=2)
    code, out, err = await run_fleet(
        "rotate", "-i", str(sim.inventory), "--new", "generate", "--store", "cmd:/bin/false",
        "--journal", str(tmp_path / "journal.db"),
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 2, err
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "false get sim-0001 current: exit 1" in lines[0]
    assert sim.requests() == 0
