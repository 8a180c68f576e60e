"""A dry run beside a real run: it reads, it reports what it can know, and it leaves the real run alone.

The real run is a `fleet rotate` subprocess held mid-run by ``HoldOnce`` (some units done, one
cluster in flight under its lease, the rest not started); the dry run is a second subprocess of
the same selection, run to its end meanwhile. Then the real run is let go and must end as if the
dry run had never happened.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.typedefs import Middleware
from enginekit import NEW_PASSPHRASE
from test_cli_rotate import run_fleet

from fleet.secrets.store import FileStore
from fleet.sim.http import CLUSTER

HELD = "sim-0006"  # standalone, after the pair, sim-0003 and sim-0005 in inventory order
DONE = ("sim-0001", "sim-0002", "sim-0003", "sim-0005")  # rotated (the pair: site A, then B synced)
LATER = ("sim-0007", "sim-0008")  # not started while HELD is held (--concurrency 1)
MUTATING = frozenset({"PATCH", "POST", "DELETE"})


@dataclass
class HoldOnce:
    """Holds the first request to ``cluster`` (only a mutation, with ``mutation``) until opened.

    Only that one request waits: the dry run's own reads of the cluster pass, so the two runs
    overlap on the held cluster without the dry run being held too.
    """

    cluster: str
    mutation: bool = False
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    opened: asyncio.Event = field(default_factory=asyncio.Event)

    def middleware(self) -> Middleware:
        @web.middleware
        async def hold(request: web.Request, handler: Any) -> web.StreamResponse:
            cluster = request.get(CLUSTER)
            wanted = not self.mutation or request.method in MUTATING
            if cluster is not None and cluster.name == self.cluster and wanted and not self.reached.is_set():
                self.reached.set()
                await self.opened.wait()
            return await handler(request)

        return hold


async def start_fleet(*args: str, cwd: Path) -> asyncio.Task[tuple[int, str, str]]:
    """A fleet subprocess left running: the task ends with its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet", *args, cwd=cwd, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip

    async def finished() -> tuple[int, str, str]:
        out, err = await asyncio.wait_for(process.communicate(), timeout=180)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    return asyncio.ensure_future(finished())


async def held_run(gate: HoldOnce, run: asyncio.Task[tuple[int, str, str]]) -> None:
    """Wait until the real run is held at the gate (fail with its output if it ended instead)."""
    reached = asyncio.ensure_future(gate.reached.wait())
    await asyncio.wait({run, reached}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
    if not reached.done():
        reached.cancel()
        code, out, err = await run if run.done() else (None, "", "still running")
        raise AssertionError(f"the real run never reached {gate.cluster} (exit {code}): {out}{err}")


def journal_facts(path: Path, *, without: Sequence[str] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """What the journal says about clusters and runs; the rows of the runs ``without`` names left out.

    Lease expiries and run holds are left out too: the held run renews them while it waits.
    """
    queries = {
        "cluster_state": "SELECT cluster, uuid, current_fp, verified_at, run_id, pending_fp "
        "FROM cluster_state",
        "leases": "SELECT cluster, uuid, run_id, pid, host, acquired_at FROM leases",
        "ledger": "SELECT cluster, uuid, fp, event, code, at, run_id FROM ledger",
        "steps": "SELECT run_id, unit_id, cluster, name, status, from_fp, to_fp FROM steps",
        "runs": "SELECT id, kind, finished_at, outcome FROM runs",
        "units": "SELECT run_id, unit_id, status FROM units",
    }
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        facts = {
            name: sorted(connection.execute(query).fetchall(), key=repr) for name, query in queries.items()
        }
    finally:
        connection.close()
    return {
        name: [row for row in rows if not any(run in row for run in without)] for name, rows in facts.items()
    }


def tree(directory: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``directory``: its content and modification time (a rewrite shows)."""
    if not directory.exists():
        return {}
    return {
        str(path.relative_to(directory)): (path.read_text(), path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def leaked(secrets: set[str], texts: list[str]) -> list[str]:
    """The secret values (their first characters only) found in any of ``texts``."""
    return sorted({secret[:6] + "…" for secret in secrets for text in texts if secret in text})


def files_text(*paths: Path) -> list[str]:
    """The text of these files and of every file under these folders (journal, reports, logs)."""
    texts = []
    for path in paths:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        texts += [file.read_bytes().decode("utf-8", "replace") for file in files]
    return texts


def rows(report_path: Path) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in json.loads(report_path.read_text())["clusters"]}


@pytest.mark.parametrize(
    ("hold_at", "new"),
    [("read", "file"), ("change", "generate")],
    ids=["held-at-first-read", "held-at-change"],
)
async def test_a_dry_run_beside_a_held_real_run_reports_its_work_and_leaves_it_alone(
    sim_fleet, tmp_path, hold_at, new
):
    """Same journal, same store: the dry run says which cluster the real run holds (busy, by that
    run) and which it already rotated (by that run), takes no lease, writes no store slot and no
    cluster state, sends nothing; the real run then ends succeeded, every cluster rotated once."""
    gate = HoldOnce(HELD, mutation=hold_at == "change")
    sim = await sim_fleet(clusters=8, mcc_pairs=1, seed=9, middlewares=[gate.middleware()])
    assert ("sim-0001", "sim-0002") in sim.pairs() and sim.onboard_names() == [*DONE, HELD, *LATER]
    secrets = set(sim.secret_values())
    journal, store = tmp_path / "j.db", tmp_path / "store"
    new_file = tmp_path / "new.okm"
    new_file.write_text(NEW_PASSPHRASE)
    new_ref = "generate" if new == "generate" else f"file:{new_file}"
    common = ["-i", str(sim.inventory), "--journal", str(journal), "--timeout", "120"]
    common += ["--new", new_ref, "--store", str(store)]
    real = await start_fleet(
        "rotate", *common, "--concurrency", "1", "--report", str(tmp_path / "real.json"), cwd=tmp_path
    )
    await held_run(gate, real)
    before, store_before, mutations = journal_facts(journal), tree(store), sim.mutations()

    dry_code, dry_out, dry_err = await run_fleet(
        "rotate", *common, "--dry-run", "--report", str(tmp_path / "dry.json"), cwd=tmp_path
    )
    sync_code, sync_out, sync_err = await run_fleet(
        "sync", "-i", str(sim.inventory), "--passphrase", f"file:{new_file}", "--limit", HELD, "--dry-run",
        "--journal", str(journal), "--report", str(tmp_path / "sync.json"), cwd=tmp_path,
    )  # fmt: skip
    dry_runs = [json.loads((tmp_path / f"{name}.json").read_text())["run"]["id"] for name in ("dry", "sync")]
    assert sim.mutations() == mutations, "a dry run sent a change"
    assert tree(store) == store_before, "a dry run wrote the secret store"
    assert journal_facts(journal, without=dry_runs) == before, "a dry run wrote the journal"
    assert not real.done(), "the real run ended while it was held"

    gate.opened.set()
    code, out, err = await real
    assert code == 0, out + err
    real_id = json.loads((tmp_path / "real.json").read_text())["run"]["id"]
    assert {name: row["outcome"] for name, row in rows(tmp_path / "real.json").items()} == {
        **{name: "succeeded" for name in sim.onboard_names()},
        "sim-0004": "skipped",  # an external key manager
    }
    for name in sim.onboard_names():
        counters = sim.cluster(name).counters
        assert (counters.rotations, counters.syncs) == ((0, 1) if name == "sim-0002" else (1, 0)), name
        assert sim.cluster(name).wrong_passphrase_total == 0, name
    for name in sim.onboard_names():
        current = await FileStore(store).get(name, "current")
        assert current is not None and current.reveal() == sim.passphrase(name), name
        assert await FileStore(store).get(name, "pending") is None, name
    if new == "file":
        assert all(sim.passphrase(name) == NEW_PASSPHRASE for name in sim.onboard_names())

    # what the dry run said, now that the real run's id is known
    said = rows(tmp_path / "dry.json")
    assert said[HELD]["outcome"] == "busy" and real_id in said[HELD]["reason"], said[HELD]
    for name in DONE:  # rotated by the real run, and said so; the pair's site B would only be synced
        assert real_id in said[name]["reason"], said[name]
        resync = name == "sim-0002" and "would send partner_sync" in said[name]["reason"]
        assert said[name]["outcome"] in ("already_current", "skipped") or resync, said[name]
    for name in LATER:  # planned, as a run started now would; but the real run has them queued
        assert said[name]["outcome"] == "planned", said[name]
        assert f"run {real_id}, under way now, has yet to do this cluster" in said[name]["reason"]
    assert dry_code == 1, dry_out + dry_err  # the real run would not be clean now: HELD is busy
    assert f"{HELD} busy" in dry_out and "dry run: nothing was changed" in dry_out
    sync_said = rows(tmp_path / "sync.json")[HELD]  # a sync's dry run asks for the lease as well
    assert sync_said["outcome"] == "busy" and real_id in sync_said["reason"], sync_said
    assert sync_code == 1, sync_out + sync_err

    secrets |= set(sim.secret_values()) | {NEW_PASSPHRASE}
    texts = [dry_out, dry_err, sync_out, sync_err, out, err]
    texts += files_text(
        *tmp_path.glob("j.db*"), *(tmp_path / f"{name}.json" for name in ("dry", "sync", "real"))
    )
    assert leaked(secrets, texts) == []


OTHER_PASSPHRASE = "M4x-fleet-passphrase/" + "q9" * 25 + "!Y"  # a second operator's new value


async def test_a_dry_run_on_another_journal_writes_nothing_and_claims_nothing_it_cannot_know(
    sim_fleet, tmp_path
):
    """Another journal, the same store: the dry run cannot see the real run (no lease, no record), so
    it names no run and calls nothing busy or current; but the store's pending slot the real run
    wrote for its held cluster is read, and a different new passphrase is refused there, as the
    real run with this journal and store would refuse it. It writes neither store nor journal."""
    gate = HoldOnce(HELD, mutation=True)
    sim = await sim_fleet(clusters=8, mcc_pairs=1, seed=9, middlewares=[gate.middleware()])
    secrets = set(sim.secret_values())
    journal, other_journal, store = tmp_path / "j.db", tmp_path / "other.db", tmp_path / "store"
    for name, value in (("new.okm", NEW_PASSPHRASE), ("other.okm", OTHER_PASSPHRASE)):
        (tmp_path / name).write_text(value)
    real = await start_fleet(
        "rotate", "-i", str(sim.inventory), "--new", f"file:{tmp_path / 'new.okm'}", "--store", str(store),
        "--journal", str(journal), "--concurrency", "1", "--timeout", "120",
        "--report", str(tmp_path / "real.json"), cwd=tmp_path,
    )  # fmt: skip
    await held_run(gate, real)
    assert (await FileStore(store).get(HELD, "pending")) is not None  # written before the change
    before, store_before, mutations = journal_facts(journal), tree(store), sim.mutations()

    dry_code, dry_out, dry_err = await run_fleet(
        "rotate", "-i", str(sim.inventory), "--new", f"file:{tmp_path / 'other.okm'}", "--store", str(store),
        "--journal", str(other_journal), "--dry-run", "--report", str(tmp_path / "dry.json"), cwd=tmp_path,
    )  # fmt: skip
    assert sim.mutations() == mutations, "the dry run sent a change"
    assert tree(store) == store_before, "the dry run wrote the secret store"
    assert journal_facts(journal) == before, "the dry run wrote the real run's journal"
    gate.opened.set()
    code, out, err = await real
    assert code == 0, out + err
    assert all(sim.cluster(name).counters.rotations <= 1 for name in sim.onboard_names())
    assert all(sim.passphrase(name) == NEW_PASSPHRASE for name in sim.onboard_names())

    real_id = json.loads((tmp_path / "real.json").read_text())["run"]["id"]
    said = rows(tmp_path / "dry.json")
    assert real_id not in dry_out + (tmp_path / "dry.json").read_text(), "it cannot know the real run"
    assert not [name for name, row in said.items() if row["outcome"] in ("busy", "already_current")], said
    held = said[HELD]
    assert held["outcome"] == "failed" and "different pending passphrase" in held["reason"], held
    assert dry_code == 1, dry_out + dry_err

    secrets |= set(sim.secret_values()) | {NEW_PASSPHRASE, OTHER_PASSPHRASE}
    texts = [dry_out, dry_err, out, err, *files_text(*tmp_path.glob("*.db*"), tmp_path / "dry.json")]
    assert leaked(secrets, texts) == []
