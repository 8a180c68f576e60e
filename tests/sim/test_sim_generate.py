"""Generated fleets: deterministic, mixed versions, MetroCluster pairs, CC and external shares."""

from __future__ import annotations

import random

from fleet.sim.generate import generate_fleet, make_cluster
from fleet.sim.state import Fleet


def shape(fleet: Fleet) -> list[tuple]:
    return [
        (
            c.name,
            c.uuid,
            c.version,
            c.password,
            c.key_manager.passphrase if c.key_manager else None,
            len(c.nodes),
        )
        for c in fleet.clusters.values()
    ]


def test_same_seed_same_fleet_and_another_seed_another() -> None:
    assert shape(generate_fleet(30, mcc_pairs=3, seed=5)) == shape(generate_fleet(30, mcc_pairs=3, seed=5))
    assert shape(generate_fleet(30, seed=5)) != shape(generate_fleet(30, seed=6))


def test_growing_the_fleet_keeps_the_first_clusters() -> None:
    assert shape(generate_fleet(50, seed=1))[:20] == shape(generate_fleet(20, seed=1))


def test_metrocluster_pairs_are_reciprocal_and_share_a_passphrase() -> None:
    fleet = generate_fleet(10, mcc_pairs=2, seed=9)
    names = list(fleet.clusters)
    assert names[:4] == ["sim-0001", "sim-0002", "sim-0003", "sim-0004"]
    for a, b in (("sim-0001", "sim-0002"), ("sim-0003", "sim-0004")):
        site_a, site_b = fleet.clusters[a], fleet.clusters[b]
        assert site_a.metrocluster and site_a.metrocluster.partner == b
        assert site_b.metrocluster and site_b.metrocluster.partner == a
        assert site_a.key_manager and site_b.key_manager
        assert site_a.key_manager.passphrase == site_b.key_manager.passphrase
        assert not site_a.cc_mode and not site_b.cc_mode and site_a.version >= (9, 8, 0)
    assert all(c.metrocluster is None for c in list(fleet.clusters.values())[4:])


def test_a_large_fleet_mixes_versions_node_counts_cc_and_external() -> None:
    clusters = list(generate_fleet(1000, mcc_pairs=10, seed=2).clusters.values())
    assert {c.version[1] for c in clusters} == set(range(8, 17))
    assert all(2 <= len(c.nodes) <= 12 and all(n.keys for n in c.nodes) for c in clusters)
    cc = [c for c in clusters if c.cc_mode]
    external = [c for c in clusters if c.key_manager and c.key_manager.kind == "external"]
    assert 10 <= len(cc) <= 60 and 10 <= len(external) <= 80
    for c in clusters:
        if c.key_manager and c.key_manager.kind == "onboard":
            passphrase = c.key_manager.passphrase or ""
            low, high = (64, 256) if c.cc_mode else (32, 64)
            assert low <= len(passphrase) <= high and passphrase.isascii() and passphrase.isprintable()


def test_make_cluster_without_key_manager() -> None:
    cluster = make_cluster("lonely", rng=random.Random(0), key_manager="none", nodes=2)
    assert cluster.key_manager is None and all(not node.keys for node in cluster.nodes)
