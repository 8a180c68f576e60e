"""`fleet rotate --dry-run` / `fleet sync --dry-run`: what the run would do, with reads only."""

from __future__ import annotations

import json
from pathlib import Path

from enginekit import NEW_PASSPHRASE
from test_cli_rotate import run_fleet

NEXT_PASSPHRASE = "Next-passphrase-for-the-dry-run-0123456789"


async def rotated_once(sim, tmp_path: Path) -> list[str]:
    """Rotate every onboard cluster to NEW_PASSPHRASE for real, then update the inventory's secret
    files to it: all but one standalone cluster, whose reference is left stale. Returns [the stale
    one, the others...]."""
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    code, _, err = await run_fleet(
        "rotate", "-i", str(sim.inventory), "--new", f"file:{new}", "--journal", str(tmp_path / "j.db"),
        "--report", str(tmp_path / "first.json"), cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    paired = {site for pair in sim.pairs() for site in pair}
    stale = next(name for name in sim.onboard_names() if name not in paired)
    others = [name for name in sim.onboard_names() if name != stale]
    for name in others:
        (sim.secrets_dir / f"{name}.okm").write_text(NEW_PASSPHRASE)
    return [stale, *others]


async def test_a_dry_run_names_the_stale_reference_and_sends_only_reads(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=10, mcc_pairs=1, seed=12)
    stale, *fine = await rotated_once(sim, tmp_path)
    (tmp_path / "next.okm").write_text(NEXT_PASSPHRASE)
    mutations, requests = sim.mutations(), sim.requests()
    attempts = {name: sim.cluster(name).wrong_passphrase_total for name in sim.onboard_names()}

    report_path = tmp_path / "dry.json"
    code, out, err = await run_fleet(
        "rotate", "-i", str(sim.inventory), "--new", f"file:{tmp_path / 'next.okm'}", "--dry-run",
        "--waves", "1,100%", "--journal", str(tmp_path / "j.db"), "--report", str(report_path), cwd=tmp_path,
    )  # fmt: skip
    assert code == 1, err  # one unit would be refused
    assert sim.mutations() == mutations, "a dry run sent a change"
    assert sim.requests() > requests, "a dry run must read every cluster"
    assert {name: sim.cluster(name).wrong_passphrase_total for name in sim.onboard_names()} == attempts
    assert all(sim.passphrase(name) == NEW_PASSPHRASE for name in sim.onboard_names())

    report = json.loads(report_path.read_text())
    assert report["run"]["options"]["dry_run"] is True
    rows = {row["name"]: row for row in report["clusters"]}
    assert rows[stale]["outcome"] == "failed" and rows[stale]["reason"].startswith("stale reference")
    not_planned = [name for name in fine if rows[name]["outcome"] != "planned"]
    assert not_planned == [], [(name, rows[name]["outcome"], rows[name]["reason"]) for name in not_planned]
    for name in fine:
        reason = rows[name]["reason"]
        assert "would send change_passphrase from hmac-sha256:" in reason or "would be synced with" in reason
        assert rows[name]["wave"] in (1, 2)
    assert [pair["outcome"] for pair in report["pairs"]] == ["planned"]
    assert f"{stale} failed: stale reference" in out and "dry run: nothing was changed" in out
    assert NEXT_PASSPHRASE not in out + err + report_path.read_text()

    # nothing to resume, and the real run afterwards is not held back by the dry run
    code, _, err = await run_fleet(
        "resume", report["run"]["id"], "--journal", str(tmp_path / "j.db"), cwd=tmp_path
    )
    assert code == 2 and "dry run" in err


async def test_a_clean_dry_run_exits_0_and_the_real_run_then_does_what_it_said(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=6, seed=12)
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    args = ["rotate", "-i", str(sim.inventory), "--new", f"file:{new}", "--journal", str(tmp_path / "j.db")]
    code, _, err = await run_fleet(*args, "--dry-run", "--report", str(tmp_path / "dry.json"), cwd=tmp_path)
    assert code == 0, err
    assert sim.mutations() == 0
    planned = {
        row["name"]
        for row in json.loads((tmp_path / "dry.json").read_text())["clusters"]
        if row["outcome"] == "planned"
    }
    assert planned == set(sim.onboard_names())
    code, _, err = await run_fleet(*args, "--report", str(tmp_path / "real.json"), cwd=tmp_path)
    assert code == 0, err
    rotated = {
        row["name"]
        for row in json.loads((tmp_path / "real.json").read_text())["clusters"]
        if row["outcome"] == "succeeded"
    }
    assert rotated == planned


async def test_sync_dry_run_names_the_cluster_it_would_sync_and_sends_nothing(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=6, seed=3)
    behind = next(name for name in sim.onboard_names() if sim.cluster(name).version >= (9, 12, 0))
    node = sim.cluster(behind).nodes[-1]
    for key in node.keys:  # a node whose keys are not restored: `fleet sync` would sync it
        key.restored = False
    code, out, err = await run_fleet(
        "sync", "-i", str(sim.inventory), "--dry-run", "--journal", str(tmp_path / "j.db"),
        "--report", str(tmp_path / "dry.json"), cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    assert sim.mutations() == 0 and not any(key.restored for key in node.keys)
    rows = {row["name"]: row for row in json.loads((tmp_path / "dry.json").read_text())["clusters"]}
    assert rows[behind]["outcome"] == "planned" and "would send" in rows[behind]["reason"]
    assert "dry run: nothing was changed" in out
