"""The --faults spec: parsing (clear errors naming the item) and deterministic per-cluster assignment."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import InputError
from fleet.ontap import codes
from fleet.sim.faults import FaultSpec, apply_faults, parse_faults
from fleet.sim.generate import generate_fleet
from fleet.sim.state import Fleet


def test_none_and_empty_mean_no_faults() -> None:
    assert parse_faults("none").is_empty
    assert parse_faults(None).is_empty
    assert parse_faults("").is_empty


def test_every_documented_kind_parses() -> None:
    spec = parse_faults(
        "latency=20ms~10ms,slow=0.01:2s,hang=0.001,reset=0.01,http500=0.02,http502=0.03,http503=0.04,"
        "limit=4,partial=0.05,jobs=0.2,jobfail=0.01,auth=0.01,partner_down=0.1"
    )
    request = spec.request
    assert (request.latency_ms, request.jitter_ms) == (20, 10)
    assert (request.slow_rate, request.slow_seconds) == (0.01, 2)
    assert (request.hang_rate, request.reset_rate) == (0.001, 0.01)
    assert (request.http500_rate, request.http502_rate, request.http503_rate) == (0.02, 0.03, 0.04)
    assert request.inflight_limit == 4
    cluster_rates = (spec.partial, spec.jobs, spec.jobfail, spec.auth, spec.partner_down)
    assert cluster_rates == (0.05, 0.2, 0.01, 0.01, 0.1)


def test_latency_ms_option_fills_in_unless_the_spec_sets_latency() -> None:
    assert parse_faults("none", latency_ms=15).request.latency_ms == 15
    assert parse_faults("latency=2s", latency_ms=15).request.latency_ms == 2000


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("hang=2", "hang=2"),
        ("latency=20", "latency=20"),
        ("slow=0.5", "slow=0.5"),
        ("bogus=1", "bogus"),
        ("limit=-1", "limit=-1"),
        ("partial", "partial"),
        ("jobs=lots", "jobs=lots"),
    ],
)
def test_bad_item_is_an_input_error_naming_it(spec: str, named: str) -> None:
    with pytest.raises(InputError, match=named) as caught:
        parse_faults(spec)
    assert caught.value.field == "--faults"


def test_yaml_file_with_per_cluster_overrides(tmp_path: Path) -> None:
    path = tmp_path / "faults.yml"
    path.write_text(
        "latency: 5ms\nhttp503: 0.5\nclusters:\n"
        "  sim-0002: {auth: true, http503: 0, partial: [sim-0002-01]}\n"
        "  sim-0003: {jobs: true, limit: 1}\n"
    )
    fleet = generate_fleet(4, seed=3)
    apply_faults(fleet, parse_faults(str(path)), seed=3)
    one, two, three = (fleet.clusters[f"sim-000{i}"] for i in (1, 2, 3))
    assert (one.faults.latency_ms, one.faults.http503_rate, one.faults.auth_fail) == (5, 0.5, False)
    assert (two.faults.http503_rate, two.faults.auth_fail) == (0, True)
    assert two.faults.partial_nodes == ["sim-0002-01"]
    assert (three.faults.jobs, three.faults.inflight_limit, three.faults.latency_ms) == (True, 1, 5)


def test_yaml_file_error_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text("clusters:\n  sim-0001: {hang: 3}\n")
    with pytest.raises(InputError) as caught:
        parse_faults(str(path))
    assert caught.value.file == str(path)
    assert caught.value.field == "clusters.sim-0001.hang"


def test_override_for_unknown_cluster_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "faults.yml"
    path.write_text("clusters:\n  nowhere-01: {auth: true}\n")
    with pytest.raises(InputError, match="nowhere-01"):
        apply_faults(generate_fleet(2), parse_faults(str(path)), seed=0)


def _assignment(fleet: Fleet) -> dict[str, tuple[object, ...]]:
    return {
        name: (
            tuple(c.faults.partial_nodes),
            c.faults.jobs,
            c.faults.job_fail,
            c.faults.auth_fail,
            c.metrocluster.partner_reachable if c.metrocluster else None,
        )
        for name, c in fleet.clusters.items()
    }


SPEC = "partial=0.05,jobs=0.2,jobfail=0.02,auth=0.03,partner_down=0.25"


def test_same_seed_same_faulty_clusters_other_seed_others() -> None:
    first, again, other = (generate_fleet(200, mcc_pairs=20, seed=s) for s in (7, 7, 8))
    spec = parse_faults(SPEC)
    apply_faults(first, spec, seed=7)
    apply_faults(again, spec, seed=7)
    apply_faults(other, spec, seed=8)
    assert _assignment(first) == _assignment(again)
    assert _assignment(first) != _assignment(other)


def test_cluster_rates_pick_exact_shares() -> None:
    fleet = generate_fleet(200, mcc_pairs=20, seed=1)
    apply_faults(fleet, parse_faults(SPEC), seed=1)
    clusters = list(fleet.clusters.values())
    assert sum(bool(c.faults.partial_nodes) for c in clusters) == 10
    assert sum(c.faults.auth_fail for c in clusters) == 6
    assert sum(c.faults.job_fail is not None for c in clusters) == 4
    assert sum(c.faults.jobs for c in clusters) >= 40  # jobs=0.2, plus the jobfail clusters
    down = [c for c in clusters if c.metrocluster is not None and not c.metrocluster.partner_reachable]
    assert len(down) == 5  # one site of 5 of the 20 pairs
    assert len({tuple(sorted((c.name, c.metrocluster.partner))) for c in down}) == 5  # type: ignore[union-attr]


def test_partial_clusters_have_onboard_and_keep_some_nodes_healthy() -> None:
    fleet = generate_fleet(300, seed=2)
    apply_faults(fleet, parse_faults("partial=0.2"), seed=2)
    partial = [c for c in fleet.clusters.values() if c.faults.partial_nodes]
    assert partial
    for cluster in partial:
        assert cluster.key_manager is not None and cluster.key_manager.kind == "onboard"
        node_names = {node.name for node in cluster.nodes}
        assert set(cluster.faults.partial_nodes) < node_names


def test_jobfail_cluster_answers_with_a_job_that_fails_with_an_ontap_code() -> None:
    fleet = generate_fleet(10)
    apply_faults(fleet, parse_faults("jobfail=0.1"), seed=0)
    (failing,) = [c for c in fleet.clusters.values() if c.faults.job_fail]
    assert failing.faults.jobs
    code, message = failing.faults.job_fail  # type: ignore[misc]
    assert message == codes.message_for(code)


def test_adding_a_kind_does_not_move_another_kinds_clusters() -> None:
    alone, mixed = generate_fleet(100, seed=4), generate_fleet(100, seed=4)
    apply_faults(alone, parse_faults("auth=0.1"), seed=4)
    apply_faults(mixed, parse_faults("auth=0.1,jobs=0.3,partial=0.1"), seed=4)
    assert [c.faults.auth_fail for c in alone.clusters.values()] == [
        c.faults.auth_fail for c in mixed.clusters.values()
    ]


def test_request_rates_reach_every_cluster() -> None:
    fleet = generate_fleet(5)
    apply_faults(fleet, parse_faults("latency=20ms~10ms,limit=3,http502=0.1"), seed=0)
    for cluster in fleet.clusters.values():
        assert (cluster.faults.latency_ms, cluster.faults.jitter_ms) == (20, 10)
        assert (cluster.faults.inflight_limit, cluster.faults.http502_rate) == (3, 0.1)


def test_applying_no_faults_clears_earlier_ones() -> None:
    fleet = generate_fleet(20, mcc_pairs=2)
    apply_faults(fleet, parse_faults("auth=1,partner_down=1,latency=5ms"), seed=0)
    apply_faults(fleet, FaultSpec(), seed=0)
    assert not any(c.faults.auth_fail or c.faults.latency_ms for c in fleet.clusters.values())
    assert all(c.metrocluster.partner_reachable for c in fleet.clusters.values() if c.metrocluster)
