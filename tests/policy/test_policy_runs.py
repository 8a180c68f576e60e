"""plan, apply and sweep over the simulator (verified HTTPS): read-only where promised, and converging."""

from __future__ import annotations

from policykit import lose_keys, make_external, mutations_seen, run_policy

from fleet.policy import Policy

ONBOARD = Policy.model_validate({"key_manager": "onboard"})
EXTERNAL = Policy.model_validate(
    {
        "key_manager": "external",
        "external": {
            "servers": ["10.0.0.5:5696", "10.0.0.6:5696"],
            "timeout": 30,
            "client_certificate": "{cluster}-kmip-client",
            "server_ca_certificates": ["{cluster}-kmip-ca"],
        },
    }
)


def newest(sim, minimum: int = 12) -> list[str]:
    return [n for n in sim.onboard_names() if sim.cluster(n).version[1] >= minimum]


async def test_sweep_sends_no_mutating_request_and_finds_nodes_missing_keys(sim_fleet, journal):
    sim = await sim_fleet(clusters=16, mcc_pairs=2, seed=7)
    target = newest(sim)[0]
    node = lose_keys(sim, target)
    report = await run_policy(sim, journal, "sweep", ONBOARD)
    assert mutations_seen(sim) == 0 and sim.mutations() == 0
    assert sim.requests() > 0
    node_keys = [f for f in report.findings if f.rule == "node_keys" and f.severity != "info"]
    assert [(f.cluster, list(f.observed)) for f in node_keys] == [(target, [node])]  # type: ignore[arg-type]
    assert report.run.kind == "sweep" and report.run.outcome == "non_compliant" and report.run.exit_code == 1


async def test_a_sweep_of_a_healthy_onboard_fleet_is_compliant_and_old_releases_are_info(sim_fleet, journal):
    sim = await sim_fleet(clusters=20, seed=11)
    report = await run_policy(sim, journal, "sweep", ONBOARD, limit="key_manager=onboard")
    assert report.run.outcome == "compliant" and report.run.exit_code == 0
    assert {f.severity for f in report.findings} <= {"info"}
    old = {n for n in sim.onboard_names() if sim.cluster(n).version[1] < 12}
    assert old and {f.cluster for f in report.findings if f.rule == "node_keys"} == old
    assert all("not verifiable on this version" in f.message for f in report.findings)


async def test_plan_then_apply_then_sweep_syncs_missing_keys_and_ends_compliant(sim_fleet, journal):
    sim = await sim_fleet(clusters=12, seed=7)
    targets = newest(sim)[:2]
    for name in targets:
        lose_keys(sim, name)
    plan = await run_policy(sim, journal, "plan", ONBOARD, limit="key_manager=onboard")
    assert mutations_seen(sim) == 0
    planned = {c.name: [s.name for s in c.steps if s.name.startswith("plan_")] for c in plan.clusters}
    assert {name for name, steps in planned.items() if steps} == set(targets)
    assert all(steps == ["plan_sync_nodes"] for name, steps in planned.items() if name in targets)

    applied = await run_policy(sim, journal, "apply", ONBOARD, limit="key_manager=onboard")
    rows = {c.name: c for c in applied.clusters}
    assert {n for n, r in rows.items() if r.outcome == "succeeded"} == set(targets)
    assert all(rows[n].outcome == "already_current" for n in rows if n not in targets)
    assert sum(sim.cluster(n).counters.syncs for n in targets) == 2
    steps = await journal.steps(applied.run.id)
    assert [(s.cluster, s.name, s.status) for s in steps] == [
        (n, "sync_nodes", "ok") for n in rows if n in targets
    ]

    swept = await run_policy(sim, journal, "sweep", ONBOARD, limit="key_manager=onboard")
    assert swept.run.outcome == "compliant"


async def test_apply_configures_external_key_servers_on_both_metrocluster_sites(sim_fleet, journal):
    sim = await sim_fleet(clusters=2, mcc_pairs=1, seed=3)
    site_a, site_b = sim.pairs()[0]
    make_external(sim, site_a, [("10.0.0.5:5696", 25), ("10.9.9.9:5696", 25)])
    make_external(sim, site_b, [("10.0.0.7:5696", 30)])
    before = await run_policy(sim, journal, "sweep", EXTERNAL)
    assert {(f.cluster, f.rule) for f in before.findings if f.severity != "info"} >= {
        (site_a, "key_servers"),
        (site_b, "key_servers"),
        (site_a, "metrocluster_same_key_manager"),
        (site_b, "metrocluster_same_key_manager"),
    }

    applied = await run_policy(sim, journal, "apply", EXTERNAL)
    assert {c.name: c.outcome for c in applied.clusters} == {site_a: "succeeded", site_b: "succeeded"}
    for name in (site_a, site_b):
        servers = sim.cluster(name).key_manager.servers  # type: ignore[union-attr]
        assert sorted((s.server, s.timeout) for s in servers) == [
            ("10.0.0.5:5696", 30),
            ("10.0.0.6:5696", 30),
        ]
    journaled = {(s.cluster, s.status) for s in await journal.steps(applied.run.id)}
    assert journaled == {(site_a, "ok"), (site_b, "ok")}

    after = await run_policy(sim, journal, "sweep", EXTERNAL)
    assert after.run.outcome == "compliant", after.findings


async def test_apply_changes_neither_metrocluster_site_when_the_pair_is_not_in_normal_mode(
    sim_fleet, journal
):
    sim = await sim_fleet(clusters=2, mcc_pairs=1, seed=3)
    site_a, site_b = sim.pairs()[0]
    make_external(sim, site_a, [("10.0.0.5:5696", 30)])
    make_external(sim, site_b, [("10.0.0.5:5696", 30)])
    sim.cluster(site_b).metrocluster.mode = "switchover"  # type: ignore[union-attr]
    applied = await run_policy(sim, journal, "apply", EXTERNAL)
    assert {c.outcome for c in applied.clusters} == {"skipped"}
    assert mutations_seen(sim) == 0
    assert applied.run.exit_code == 1


async def test_plan_probe_proves_the_inventory_passphrase_and_flags_a_wrong_one(sim_fleet, journal):
    sim = await sim_fleet(clusters=6, seed=5)
    onboard = sim.onboard_names()
    wrong = onboard[0]
    sim.cluster(wrong).key_manager.passphrase = "a-different-passphrase-" + "z" * 20  # type: ignore[union-attr]
    plan = await run_policy(sim, journal, "plan", ONBOARD, limit="key_manager=onboard", probe=True)
    probes = {f.cluster: f.severity for f in plan.findings if f.rule == "passphrase_current"}
    assert probes == {wrong: "critical"}
    assert all(sim.cluster(n).counters.rotations == 0 for n in onboard)
    assert all(sim.cluster(n).counters.by_method.get("PATCH", 0) == 1 for n in onboard)
