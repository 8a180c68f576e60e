"""Every key manager, not only the cluster's: data SVMs' own KMIP key managers and the certificates
every key manager uses, swept, planned and applied over the simulator (issue 20)."""

from __future__ import annotations

from pathlib import Path

import pytest
from policykit import install_certificate, make_svm, mutations_seen, run_policy, write_policy
from prometheus_client.parser import text_string_to_metric_families

from fleet.errors import InputError
from fleet.policy import Policy, load_policy
from fleet.report.prom import SweepContext, prom_text

WANTED = ["10.0.0.5:5696", "10.0.0.6:5696"]
POLICY = Policy.model_validate(
    {
        "key_manager": "onboard",
        "onboard": {"require_all_nodes_keys": False},
        "require": {"key_store_active": False},
        "svms": {"vs*": {"servers": WANTED, "server_ca_certificates": ["{svm}-kmip-ca"]}},
        "certificates": {"min_days_left": 30},
    }
)


def counted(report) -> set[tuple[str, str | None, str]]:  # type: ignore[no-untyped-def]
    return {(f.cluster, f.svm, f.rule) for f in report.findings if f.severity != "info"}


async def test_sweep_names_svm_key_server_drift_and_an_expiring_client_certificate(sim_fleet, journal):
    sim = await sim_fleet(clusters=3, seed=7)
    name = sim.onboard_names()[0]
    make_svm(sim, name, "vs1", ["10.0.0.5:5696", "10.9.9.9:5696"], expires_in_days=10)
    make_svm(sim, name, "vs2", WANTED)
    make_svm(sim, name, "scratch", None)  # no glob matches it: not checked

    report = await run_policy(sim, journal, "sweep", POLICY, limit=name)

    assert mutations_seen(sim) == 0
    assert counted(report) == {(name, "vs1", "key_servers"), (name, "vs1", "certificate_expiry")}
    by_rule = {f.rule: f for f in report.findings if f.svm == "vs1"}
    assert by_rule["key_servers"].subject == f"{name}/vs1"
    assert by_rule["key_servers"].message.startswith(f"{name}/vs1: key servers differ from the policy")
    assert "vs1-kmip-client (client) expires in 10 days" in by_rule["certificate_expiry"].message
    assert report.run.outcome == "non_compliant"
    expiry = {(c.cluster, c.svm, c.name) for c in report.certificates}
    assert {(name, "vs1", "vs1-kmip-client"), (name, "vs2", "vs2-kmip-ca")} <= expiry
    families = {f.name: f for f in text_string_to_metric_families(prom_text(report, SweepContext(labels={})))}
    samples = {
        (s.labels["cluster"], s.labels["svm"], s.labels["certificate"]): s.value
        for s in families["fleet_certificate_expiry_seconds"].samples
    }
    assert 9 * 86400 < samples[(name, "vs1", "vs1-kmip-client")] < 10 * 86400


async def test_apply_fixes_svm_key_servers_and_renews_the_certificate_verified_by_a_reread(
    sim_fleet, journal
):
    sim = await sim_fleet(clusters=3, seed=7)
    name = sim.onboard_names()[0]
    svm = make_svm(sim, name, "vs1", ["10.0.0.5:5696", "10.9.9.9:5696"], expires_in_days=10)
    install_certificate(sim, name, "vs1-kmip-client-2027", svm="vs1", key_pair_of="vs1-kmip-client",
                        expires_in_days=400)  # fmt: skip

    plan = await run_policy(sim, journal, "plan", POLICY, limit=name)
    planned = {c.name: [s.name for s in c.steps if s.name.startswith("plan_")] for c in plan.clusters}
    assert planned[name] == [
        "plan_add_key_servers",
        "plan_remove_key_server",
        "plan_renew_client_certificate",
    ]
    assert mutations_seen(sim) == 0

    applied = await run_policy(sim, journal, "apply", POLICY, limit=name)

    row = next(c for c in applied.clusters if c.name == name)
    assert row.outcome == "succeeded", row.reason
    assert svm.key_manager is not None
    assert sorted(s.server for s in svm.key_manager.servers) == WANTED  # the simulator's truth
    assert svm.key_manager.client_certificate is not None
    assert svm.key_manager.client_certificate.name == "vs1-kmip-client-2027"
    assert sim.cluster(name).key_manager.kind == "onboard"  # the admin SVM's key manager untouched
    steps = [(s.cluster, s.name, s.status) for s in await journal.steps(applied.run.id)]
    assert steps == [
        (name, "add_key_servers", "ok"),
        (name, "remove_key_server", "ok"),
        (name, "renew_client_certificate", "ok"),
    ]
    assert not counted(applied)  # the re-read after the changes found nothing left
    swept = await run_policy(sim, journal, "sweep", POLICY, limit=name)
    assert swept.run.outcome == "compliant"


async def test_apply_fixes_svm_key_servers_on_both_sites_of_a_metrocluster_pair(sim_fleet, journal):
    sim = await sim_fleet(clusters=2, mcc_pairs=1, seed=3)
    site_a, site_b = sim.pairs()[0]
    svms = [make_svm(sim, site, "vs1", ["10.0.0.5:5696"]) for site in (site_a, site_b)]

    applied = await run_policy(sim, journal, "apply", POLICY)

    assert {c.name: c.outcome for c in applied.clusters} == {site_a: "succeeded", site_b: "succeeded"}
    for svm in svms:
        assert svm.key_manager is not None and sorted(s.server for s in svm.key_manager.servers) == WANTED
    steps = [(s.cluster, s.name) for s in await journal.steps(applied.run.id)]
    assert steps == [(site_a, "add_key_servers"), (site_b, "add_key_servers")]


async def test_a_client_certificate_with_another_key_pair_is_refused_and_explained(sim_fleet, journal):
    sim = await sim_fleet(clusters=3, seed=7)
    name = sim.onboard_names()[0]
    svm = make_svm(sim, name, "vs1", WANTED)
    install_certificate(sim, name, "vs1-newkey", svm="vs1", key_pair_of=None, expires_in_days=400)
    pinned = Policy.model_validate(
        {**POLICY.model_dump(exclude_none=True), "svms": {"vs*": {"client_certificate": "{svm}-newkey"}}}
    )

    applied = await run_policy(sim, journal, "apply", pinned, limit=name)

    row = next(c for c in applied.clusters if c.name == name)
    assert row.outcome == "failed"
    assert "65536850" in (row.reason or "") and "same key pair" in (row.reason or "")
    assert svm.key_manager is not None and svm.key_manager.client_certificate is not None
    assert svm.key_manager.client_certificate.name == "vs1-kmip-client"


def test_a_policy_asking_for_an_svm_onboard_key_manager_is_refused_at_plan_time(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path / "policy.yml", "key_manager: onboard\nsvms:\n  'vs*': {key_manager: onboard}\n"
    )
    with pytest.raises(InputError) as caught:
        load_policy(path)
    assert "65536916" in str(caught.value) and "svms.vs*.key_manager" in str(caught.value)
