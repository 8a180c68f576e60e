"""The JSON log tells each cluster's story: retries name their cluster, every cluster starts and finishes."""

from __future__ import annotations

import json
from pathlib import Path

from enginekit import NEW_PASSPHRASE
from test_cli_rotate import run_fleet


async def test_retries_name_their_cluster_and_every_cluster_starts_and_finishes(sim_fleet, tmp_path: Path):
    sim = await sim_fleet(clusters=6, mcc_pairs=1, seed=7, faults="http503=0.2")
    pair = sim.pairs()[0]
    down = next(name for name in sim.onboard_names() if name not in pair)
    sim.unreachable([down])
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    new.chmod(0o600)
    code, _, err = await run_fleet(
        "rotate", "-i", str(sim.inventory), "--new", f"file:{new}", "--journal", str(tmp_path / "j.db"),
        "--log-format", "json", cwd=tmp_path,
    )  # fmt: skip
    assert code == 1, err
    events = [json.loads(line) for line in err.splitlines()]
    retries = [event for event in events if event["event"] == "ontap_retry"]
    assert {event.get("http_status") for event in retries} >= {503}, retries
    assert any(event.get("reason") for event in retries), retries  # the unreachable one's retries too
    assert all(event.get("cluster") in sim.fleet.clusters for event in retries), retries
    assert all(event["run_id"] and event["unit"] for event in retries), retries

    started = {event["cluster"]: event for event in events if event["event"] == "cluster_started"}
    finished = {event["cluster"]: event for event in events if event["event"] == "cluster_finished"}
    assert set(started) == set(finished) == set(sim.fleet.clusters)  # one story per cluster
    for site in pair:  # each site of the pair has its own lines, under the pair's unit
        assert started[site]["unit"] == finished[site]["unit"] in {"+".join(pair), "+".join(pair[::-1])}
        assert started[site]["wave"] == 1
    assert (finished[down]["level"], finished[down]["outcome"]) == ("warning", "failed")
    assert "cannot connect" in finished[down]["reason"]
    others = [event for name, event in finished.items() if name != down]
    assert all(event["level"] == "info" and event["outcome"] != "failed" for event in others), others
    assert all(isinstance(event["seconds"], float) for event in finished.values())
