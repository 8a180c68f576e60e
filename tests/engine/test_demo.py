"""`fleet demo`, the README's first command: a simulated fleet rotated, then swept, from nothing."""

from __future__ import annotations

import json

from test_cli_rotate import run_fleet


async def test_the_demo_rotates_and_sweeps_a_simulated_fleet_and_writes_both_reports(tmp_path):
    code, out, err = await run_fleet(
        "demo", "--clusters", "16", "--mcc-pairs", "2", "--workdir", str(tmp_path / "work"), cwd=tmp_path
    )
    assert code in (0, 1), err  # the demo's faults may leave some units failed: exit 1 says so
    assert "Traceback" not in out + err
    reports = {
        json.loads(path.read_text())["run"]["kind"]: path for path in (tmp_path / "reports").glob("*.json")
    }
    assert set(reports) == {"rotate", "sweep"}
    rotation = json.loads(reports["rotate"].read_text())
    assert rotation["summary"]["total"] == 16 and rotation["summary"]["by_outcome"]["succeeded"] > 0
    assert (tmp_path / "reports" / "fleet-demo-sweep.html").exists()
    assert "fleet_cluster_compliance_state" in (tmp_path / "reports" / "fleet-demo-sweep.prom").read_text()
    assert "compliance sweep of the same fleet" in out


async def test_a_demo_asked_for_more_pairs_than_clusters_is_exit_2(tmp_path):
    code, out, err = await run_fleet("demo", "--clusters", "12", "--mcc-pairs", "10", cwd=tmp_path)
    assert code == 2 and "--mcc-pairs" in err and "Traceback" not in out + err
