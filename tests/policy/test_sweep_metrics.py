"""The Prometheus textfile a sweep writes, as a monitoring stack reads it: the journal's truth, promtool."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from policykit import write_policy
from sweepkit import WRITTEN, by_cluster, monitored_sweep, promtool, run_fleet, samples

from fleet.inventory import load_inventory
from fleet.journal import Journal
from fleet.outcomes import ExitCode
from fleet.report import load_report

DAY = 86400.0


async def test_the_passphrase_age_and_last_rotation_metrics_match_the_journal(sim_fleet, tmp_path):
    swept = await monitored_sweep(sim_fleet, tmp_path)
    found = samples(swept.prom)
    finished = swept.report.run.finished_at.timestamp()
    journal = await Journal.open(swept.journal)
    try:
        verified = {}
        for name in swept.rotated:
            state = await journal.cluster_state(name)
            assert state is not None and state.verified_at is not None
            verified[name] = datetime.fromisoformat(state.verified_at).timestamp()
        [rotation] = [run for run in await journal.runs() if run.kind == "rotate"]
    finally:
        await journal.close()
    assert by_cluster(found["fleet_passphrase_verified_timestamp_seconds"]) == verified
    ages = by_cluster(found["fleet_passphrase_age_seconds"])
    assert ages == pytest.approx({name: finished - at for name, at in verified.items()}, abs=1e-3)
    assert all(0 < age < 600 for age in ages.values())
    [last] = found["fleet_last_successful_rotation_timestamp_seconds"]
    assert rotation.outcome == "succeeded" and rotation.finished_at is not None
    assert last.value == datetime.fromisoformat(rotation.finished_at).timestamp()
    [limit] = found["fleet_policy_passphrase_max_age_seconds"]
    assert limit.value == 90 * DAY
    states = swept.report.compliance.clusters  # type: ignore[union-attr]
    assert {n: states[n].passphrase_verified_at.timestamp() for n in swept.rotated} == verified  # type: ignore[union-attr]


async def test_an_unreachable_cluster_is_unknown_not_non_compliant_and_the_finished_sweep_is_published(
    sim_fleet, tmp_path
):
    swept = await monitored_sweep(sim_fleet, tmp_path)
    found = samples(swept.prom)
    compliance = swept.report.compliance
    assert compliance is not None and compliance.complete is True
    lost = compliance.clusters[swept.unreachable]
    assert (lost.state, lost.unknown) == ("unknown", "unreachable")
    states = found["fleet_cluster_compliance_state"]
    assert by_cluster(states, cluster=swept.unreachable) == {swept.unreachable: 1.0}  # one-hot
    assert [s.labels["state"] for s in states if s.labels["cluster"] == swept.unreachable and s.value] == [
        "unknown"
    ]
    assert {n for n, v in by_cluster(states, state="non_compliant").items() if v} == {
        n for n in swept.onboard if n not in swept.rotated and n != swept.unreachable
    }  # the rest have no verified passphrase in the journal (age unknown), and one lost keys
    reachable = by_cluster(found["fleet_cluster_reachable"])
    assert reachable == {n: float(n != swept.unreachable) for n in swept.onboard}
    [done] = found["fleet_sweep_complete"]
    [last] = found["fleet_last_complete_sweep_timestamp_seconds"]
    assert done.value == 1 and last.value == swept.report.run.finished_at.timestamp()
    labels = {c.name: c.labels for c in load_inventory(Path(swept.report.run.inventory)).clusters.values()}
    for sample in states:
        cluster = labels[sample.labels["cluster"]]
        assert sample.labels["datacenter"] == cluster["site"]
        assert sample.labels["tier"] == cluster["tier"]
    findings = {(s.labels["rule"], s.labels["severity"]): s.value for s in found["fleet_findings"]}
    assert findings[("node_keys", "critical")] == 1 and findings[("readable", "critical")] == 1


async def test_a_sweep_whose_only_problem_is_an_unreachable_cluster_fails_and_calls_nothing_non_compliant(
    sim_fleet, tmp_path
):
    sim = await sim_fleet(clusters=4, seed=7)
    down = sim.onboard_names()[0]
    sim.unreachable([down])
    policy = write_policy(tmp_path / "policy.yml", "key_manager: onboard\n")
    prom = tmp_path / "fleet.prom"
    code, out, err = await run_fleet(
        "sweep", "-i", str(sim.inventory), "-p", str(policy), "--limit", "key_manager=onboard",
        "--journal", str(tmp_path / "j.db"), "--report", str(tmp_path / "sweep.json"), "--prom", str(prom),
        cwd=tmp_path,
    )  # fmt: skip
    assert code == ExitCode.FAILED, out + err
    report = load_report(tmp_path / "sweep.json")
    assert report.run.outcome == "failed"  # not "non_compliant": nothing was found out of policy
    assert report.compliance is not None and report.compliance.complete
    assert report.compliance.by_state == {
        "compliant": len(sim.onboard_names()) - 1,
        "non_compliant": 0,
        "unknown": 1,
    }
    assert f"clusters {len(sim.onboard_names()) - 1} compliant, 0 non_compliant, 1 unknown" in out
    found = samples(prom)
    assert by_cluster(found["fleet_cluster_reachable"])[down] == 0
    assert not [
        s for s in found["fleet_cluster_compliance_state"] if s.labels["state"] == "non_compliant" and s.value
    ]


async def test_promtool_accepts_every_metric_a_sweep_writes(sim_fleet, tmp_path):
    swept = await monitored_sweep(sim_fleet, tmp_path)
    assert set(samples(swept.prom)) == WRITTEN
    assert all(samples(swept.prom).values()), "every family has samples in this sweep"
    checked = promtool("check", "metrics", stdin=swept.prom.read_bytes())
    assert checked.returncode == 0, checked.stdout + checked.stderr
