"""A sweep that did not check every cluster says so, and misleads neither Prometheus nor drift."""

from __future__ import annotations

from policykit import lose_keys, write_policy
from sweepkit import Gate, by_cluster, interrupted_sweep, run_fleet, samples

from fleet.outcomes import ExitCode
from fleet.report import Finding, load_report

POLICY = "key_manager: onboard\nonboard: {require_all_nodes_keys: true}\n"
HELD = 3  # the third selected cluster is in flight when the signal comes; the ones after it never start


def counted(findings: list[Finding]) -> list[tuple[str, str]]:
    """(cluster, rule) of the findings that make a cluster non-compliant (not the ``info`` blind spots)."""
    return [(f.cluster, f.rule) for f in findings if f.severity != "info"]


async def held_fleet(sim_fleet, tmp_path):  # type: ignore[no-untyped-def]
    """Eight onboard-or-not clusters, a gate on the third onboard one, and the sweep's arguments."""
    gate = Gate("")
    sim = await sim_fleet(clusters=8, seed=7, middlewares=[gate.middleware])
    onboard = sim.onboard_names()
    gate.name = onboard[HELD - 1]
    policy = write_policy(tmp_path / "policy.yml", POLICY)
    base = ["sweep", "-i", str(sim.inventory), "-p", str(policy), "--limit", "key_manager=onboard"]
    base += ["--journal", str(tmp_path / "j.db")]
    return sim, gate, onboard, base


async def test_an_interrupted_sweep_leaves_the_last_prom_untouched_and_marks_unchecked_clusters_unknown(
    sim_fleet, tmp_path
):
    _sim, gate, onboard, base = await held_fleet(sim_fleet, tmp_path)
    prom, reports = tmp_path / "fleet.prom", tmp_path / "sweeps"
    code, out, err = await run_fleet(
        *base, "--report", str(reports / "1.json"), "--prom", str(prom), cwd=tmp_path
    )
    assert code == ExitCode.OK, out + err
    published, inode = prom.read_bytes(), prom.stat().st_ino

    code, out, err = await interrupted_sweep(
        gate, *base, "--report", str(reports / "2.json"), "--prom", str(prom), cwd=tmp_path
    )
    assert code == ExitCode.INTERRUPTED, out + err
    assert prom.read_bytes() == published and prom.stat().st_ino == inode
    assert "not written" in out and "--publish-partial" in out
    report = load_report(reports / "2.json")
    assert report.compliance is not None and report.compliance.complete is False
    states = report.compliance.clusters
    checked, unchecked = onboard[:HELD], onboard[HELD:]
    assert {name: states[name].state for name in checked} == dict.fromkeys(checked, "compliant")
    assert {name: (states[name].state, states[name].unknown) for name in unchecked} == dict.fromkeys(
        unchecked, ("unknown", "not_checked")
    )
    assert report.compliance.by_state == {"compliant": HELD, "non_compliant": 0, "unknown": len(unchecked)}
    assert not [c for c in report.clusters if c.name in unchecked and c.outcome != "not_started"]
    assert not [f for f in report.findings if f.cluster in unchecked]


async def test_publish_partial_writes_unknown_states_and_keeps_the_time_of_the_last_complete_sweep(
    sim_fleet, tmp_path
):
    _sim, gate, onboard, base = await held_fleet(sim_fleet, tmp_path)
    prom, reports = tmp_path / "fleet.prom", tmp_path / "sweeps"
    code, out, err = await run_fleet(*base, "--report", str(reports / "1.json"), cwd=tmp_path)
    assert code == ExitCode.OK, out + err
    complete = load_report(reports / "1.json")

    code, out, err = await interrupted_sweep(
        gate,
        *base,
        "--report",
        str(reports / "2.json"),
        "--prom",
        str(prom),
        "--publish-partial",
        cwd=tmp_path,
    )
    assert code == ExitCode.INTERRUPTED, out + err
    partial = load_report(reports / "2.json")
    found = samples(prom)
    unchecked = set(onboard[HELD:])
    states = found["fleet_cluster_compliance_state"]
    assert {n for n, v in by_cluster(states, state="unknown").items() if v == 1} == unchecked
    assert {n for n, v in by_cluster(states, state="compliant").items() if v == 1} == set(onboard[:HELD])
    assert set(by_cluster(found["fleet_cluster_reachable"])) == set(onboard[:HELD])  # unchecked: no sample
    [done] = found["fleet_sweep_complete"]
    assert done.value == 0
    [last] = found["fleet_last_complete_sweep_timestamp_seconds"]
    assert last.value == complete.run.finished_at.timestamp()
    [stamp] = found["fleet_sweep_timestamp_seconds"]
    assert stamp.value == partial.run.finished_at.timestamp()


async def test_drift_after_an_interrupted_sweep_compares_with_the_last_complete_sweep(sim_fleet, tmp_path):
    sim, gate, onboard, base = await held_fleet(sim_fleet, tmp_path)
    target = next(n for n in onboard[HELD:] if sim.cluster(n).version[1] >= 12)
    lose_keys(sim, target)
    reports = tmp_path / "sweeps"
    base += ["--keep", "1"]
    code, out, err = await run_fleet(*base, "--report", str(reports / "1.json"), cwd=tmp_path)
    assert code == ExitCode.FAILED, out + err
    assert counted(load_report(reports / "1.json").findings) == [(target, "node_keys")]

    code, out, err = await interrupted_sweep(gate, *base, "--report", str(reports / "2.json"), cwd=tmp_path)
    assert code == ExitCode.INTERRUPTED, out + err
    partial = load_report(reports / "2.json")
    assert partial.drift is not None
    assert (
        partial.drift.resolved == [] and partial.drift.new == []
    )  # target was not checked: nothing resolved
    assert (reports / "1.json").exists(), "--keep never prunes the newest complete sweep"
    kept = tmp_path / "partial.json"
    kept.write_bytes((reports / "2.json").read_bytes())

    code, out, err = await run_fleet(*base, "--report", str(reports / "3.json"), cwd=tmp_path)
    assert code == ExitCode.FAILED, out + err
    drift = load_report(reports / "3.json").drift
    assert drift is not None
    assert drift.new == [] and drift.resolved == []
    assert counted(drift.unchanged) == [(target, "node_keys")]
    assert sorted(p.name for p in reports.glob("*.json")) == ["3.json"]

    code, _, err = await run_fleet(*base, "--since", str(kept), cwd=tmp_path)
    assert code == ExitCode.INPUT and "not a drift baseline" in err, err
    assert sorted(p.name for p in reports.glob("*.json")) == ["3.json"]
