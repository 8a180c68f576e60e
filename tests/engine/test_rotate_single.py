"""Fleet-wide rotation of standalone clusters against the simulator over verified HTTPS."""

from __future__ import annotations

from enginekit import NEW_PASSPHRASE, by_name

from fleet.sim.http import CLUSTER


async def test_rotation_moves_every_onboard_cluster_to_the_new_passphrase(sim_fleet, runner):
    sim = await sim_fleet(clusters=30, seed=3)
    report = await runner.rotate(sim.inventory)
    rows = by_name(report)
    assert set(rows) == set(sim.fleet.clusters)
    for name in sim.fleet.clusters:
        if name in sim.onboard_names():
            assert rows[name].outcome == "succeeded", rows[name].reason
            assert sim.passphrase(name) == NEW_PASSPHRASE
            assert sim.cluster(name).counters.rotations == 1
            assert rows[name].key_backup_sha256
        else:
            assert rows[name].outcome == "skipped"
            assert sim.cluster(name).counters.mutations == 0
    assert report.run.exit_code == 0
    assert max(c.counters.max_inflight for c in sim.fleet.clusters.values()) <= 2


async def test_a_remediated_partial_failure_is_recovered_by_code_with_node_names(sim_fleet, runner):
    sim = await sim_fleet(clusters=20, seed=5, faults="partial=0.2")
    partial = {
        n for n, c in sim.fleet.clusters.items() if c.faults.partial_nodes and n in sim.onboard_names()
    }
    assert partial
    # Per-node key queries exist from ONTAP 9.12; before that only the cluster can be named.
    per_node = {n for n in partial if sim.cluster(n).version[1] >= 12}
    assert per_node
    expected_nodes = {(n, node) for n in per_node for node in sim.cluster(n).faults.partial_nodes}
    report = await runner.rotate(sim.inventory)
    assert "65536407" not in report.failures.by_code  # remediated and verified: nothing left to do
    group = report.recovered.by_code["65536407"]
    assert set(group.clusters) == partial
    assert {(ref.cluster, ref.node) for ref in group.nodes} == expected_nodes
    assert set(group.remediated_clusters) == partial
    rows = by_name(report)
    for name in partial:
        assert rows[name].outcome == "succeeded" and rows[name].remediated
        assert all(key.restored for node in sim.cluster(name).nodes for key in node.keys)
        assert sim.passphrase(name) == NEW_PASSPHRASE


async def test_no_remediate_leaves_partial_clusters_partial_and_exits_1(sim_fleet, runner):
    sim = await sim_fleet(clusters=20, seed=5, faults="partial=0.2")
    partial = {
        n for n, c in sim.fleet.clusters.items() if c.faults.partial_nodes and n in sim.onboard_names()
    }
    assert partial
    report = await runner.rotate(sim.inventory, remediate=False)
    rows = by_name(report)
    assert {n for n, r in rows.items() if r.outcome == "partial"} == partial
    assert report.run.exit_code == 1
    for name in partial:
        if sim.cluster(name).version[1] < 12:
            continue
        stale = {node.name for node in sim.cluster(name).nodes if any(not k.restored for k in node.keys)}
        reported = {node.name for node in rows[name].nodes if node.keys_missing}
        assert reported == stale


async def test_wrong_current_passphrase_stops_after_one_attempt(sim_fleet, runner):
    sim = await sim_fleet(clusters=6, seed=2)
    wrong = runner.secret_file("wrong.okm", "W" * 40)
    report = await runner.rotate(sim.inventory, current_ref=wrong)
    rows = by_name(report)
    for name in sim.onboard_names():
        assert rows[name].outcome == "failed"
        assert "65536139" in rows[name].reason
        assert sim.cluster(name).wrong_passphrase_total == 1
        assert sim.cluster(name).counters.rotations == 0
    assert "65536139" in report.failures.by_code
    assert report.run.exit_code == 1


async def test_rerun_after_success_proves_instead_of_resending(sim_fleet, runner):
    sim = await sim_fleet(clusters=8, seed=4)
    first = await runner.rotate(sim.inventory)
    assert first.run.exit_code == 0
    second = await runner.rotate(sim.inventory)
    rows = by_name(second)
    for name in sim.onboard_names():
        assert rows[name].outcome == "already_current"
        assert sim.cluster(name).counters.rotations == 1
        assert sim.cluster(name).wrong_passphrase_total == 0
    assert second.run.exit_code == 0


async def test_rotation_through_202_jobs_succeeds(sim_fleet, runner):
    sim = await sim_fleet(clusters=6, seed=8, faults="jobs=1.0")
    report = await runner.rotate(sim.inventory)
    for name in sim.onboard_names():
        assert by_name(report)[name].outcome == "succeeded"
        assert sim.passphrase(name) == NEW_PASSPHRASE


async def test_429_with_retry_after_is_honoured(sim_fleet, runner):
    sim = await sim_fleet(clusters=4, seed=8, faults="limit=1")
    sim.fleet.settings.retry_after_seconds = 0
    report = await runner.rotate(sim.inventory)
    assert report.run.exit_code == 0
    for name in sim.onboard_names():
        assert sim.passphrase(name) == NEW_PASSPHRASE
        assert sim.cluster(name).counters.rotations == 1


async def test_wrong_credentials_fail_the_cluster_with_an_auth_reason(sim_fleet, runner):
    sim = await sim_fleet(clusters=6, seed=9)
    victim = sim.onboard_names()[0]
    sim.cluster(victim).faults.auth_fail = True
    report = await runner.rotate(sim.inventory)
    row = by_name(report)[victim]
    assert row.outcome == "failed"
    assert "401" in row.reason
    assert victim in report.failures.by_code["6691623"].clusters
    assert "username and password" in report.failures.by_code["6691623"].next_step
    assert row.requests == 1  # a 401 is not retried
    assert sim.cluster(victim).counters.mutations == 0


def drop_answer_after_applying(victims: set[str]):
    """A middleware: the cluster applies the PATCH, then the connection dies before the answer."""
    from aiohttp import web

    @web.middleware
    async def drop(request, handler):
        response = await handler(request)
        cluster = request.get(CLUSTER)
        if request.method == "PATCH" and cluster is not None and cluster.name in victims:
            victims.discard(cluster.name)
            request.transport.abort()
        return response

    return drop


async def test_lost_answer_is_reconciled_by_one_probe_never_by_resending(sim_fleet, runner, tmp_path):
    victims = {"sim-0002", "sim-0004"}
    sim = await sim_fleet(clusters=6, seed=4, middlewares=[drop_answer_after_applying(victims)])
    targets = [name for name in ("sim-0002", "sim-0004") if name in sim.onboard_names()]
    assert targets
    report = await runner.rotate(sim.inventory)
    rows = by_name(report)
    for name in targets:
        assert rows[name].outcome == "succeeded", rows[name].reason
        assert sim.passphrase(name) == NEW_PASSPHRASE
        assert sim.cluster(name).counters.rotations == 1  # the change was never sent twice
        steps = [step.name for step in rows[name].steps]
        assert "probe_new_passphrase" in steps
        assert steps.count("change_passphrase") == 1


async def test_cluster_deadline_fails_a_slow_cluster_and_spares_the_rest(sim_fleet, runner):
    from dataclasses import replace

    from enginekit import FAST_HTTP

    sim = await sim_fleet(clusters=6, seed=4)
    slow = sim.onboard_names()[0]
    sim.cluster(slow).faults.latency_ms = 400
    runner_http = replace(FAST_HTTP, cluster_deadline=0.5)
    report = await runner.rotate(sim.inventory, http=runner_http, cluster_deadline=0.5)
    rows = by_name(report)
    assert rows[slow].outcome == "failed" and "deadline" in rows[slow].reason
    assert list(report.failures.by_code) == ["deadline"]  # not an "internal" fleet bug
    assert report.failures.by_code["deadline"].kind == "timeout"
    assert all(rows[n].outcome == "succeeded" for n in sim.onboard_names() if n != slow)


async def test_a_stale_reference_stops_the_run_once_three_clusters_refuse_it(sim_fleet, runner):
    """One wrong --current must not become a lockout strike on every cluster of the estate."""
    sim = await sim_fleet(clusters=12, seed=2)
    wrong = runner.secret_file("wrong.okm", "W" * 40)
    report = await runner.rotate(sim.inventory, current_ref=wrong, concurrency=1)
    assert (report.run.outcome, report.run.exit_code) == ("aborted", 3)
    assert "--max-wrong-passphrase 3" in report.run.stop_reason
    assert sum(c.wrong_passphrase_total for c in sim.fleet.clusters.values()) == 3
    outcomes = [r.outcome for r in report.clusters if r.name in sim.onboard_names()]
    assert outcomes.count("failed") == 3 and outcomes.count("not_started") == len(outcomes) - 3
    assert all(sim.cluster(name).counters.rotations == 0 for name in sim.onboard_names())
