"""Each rule on hand-made facts: what complies, what does not, and what an old release cannot show."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from fleet.policy import ClusterFacts, KeyServerFacts, KeyStoreFacts, Policy, evaluate

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ONBOARD = Policy.model_validate(
    {
        "key_manager": "onboard",
        "onboard": {"passphrase_max_age_days": 90},
        "require": {"volume_encryption_supported": True, "default_data_at_rest_encryption_disabled": False},
    }
)
EXTERNAL = Policy.model_validate(
    {
        "key_manager": "external",
        "external": {
            "servers": ["10.0.0.5:5696", "10.0.0.6:5696"],
            "timeout": 25,
            "client_certificate": "{cluster}-kmip-client",
            "server_ca_certificates": ["{cluster}-kmip-ca"],
        },
    }
)


def onboard_facts(**changes) -> ClusterFacts:
    facts = ClusterFacts(
        name="cl-1",
        version=(9, 14, 1),
        km_uuid="km",
        kind="onboard",
        status_code=0,
        volume_encryption_supported=True,
        dare_disabled=False,
        missing_keys={"cl-1-01": 0, "cl-1-02": 0},
        key_stores=(KeyStoreFacts("okm", True, None),),
        verified_at=NOW - timedelta(days=10),
    )
    return replace(facts, **changes)


def external_facts(**changes) -> ClusterFacts:
    servers = tuple(
        KeyServerFacts(s, 25, {"cl-1-01": "available", "cl-1-02": "available"})
        for s in ("10.0.0.5:5696", "10.0.0.6:5696")
    )
    facts = ClusterFacts(
        name="cl-1",
        version=(9, 14, 1),
        km_uuid="km",
        kind="external",
        status_code=0,
        servers=servers,
        client_certificate="cl-1-kmip-client",
        server_ca_certificates=("cl-1-kmip-ca",),
        key_stores=(KeyStoreFacts("kmip", True, None),),
    )
    return replace(facts, **changes)


def rules_of(policy: Policy, facts: ClusterFacts, partner: ClusterFacts | None = None) -> dict[str, str]:
    return {f.rule: f.severity for f in evaluate(policy, facts, partner, NOW).findings}


def test_a_healthy_onboard_cluster_is_compliant_with_no_findings_and_no_actions():
    ev = evaluate(ONBOARD, onboard_facts(), None, NOW)
    assert ev.findings == [] and ev.actions == [] and ev.compliant


def test_a_healthy_external_cluster_is_compliant():
    ev = evaluate(EXTERNAL, external_facts(), None, NOW)
    assert ev.findings == [] and ev.actions == []


def test_wrong_key_manager_kind_is_critical_and_has_no_action():
    ev = evaluate(EXTERNAL, onboard_facts(), None, NOW)
    assert rules_of(EXTERNAL, onboard_facts())["key_manager"] == "critical"
    assert ev.actions == []


def test_no_key_manager_at_all_is_critical():
    assert rules_of(ONBOARD, onboard_facts(km_uuid=None, kind=None)) == {"key_manager": "critical"}


def test_unhealthy_status_is_critical_and_65537200_counts_as_healthy():
    assert rules_of(ONBOARD, onboard_facts(status_code=346758))["status_healthy"] == "critical"
    assert "status_healthy" not in rules_of(ONBOARD, onboard_facts(status_code=65537200))


def test_passphrase_older_than_the_policy_or_unknown_is_a_warning():
    old = onboard_facts(verified_at=NOW - timedelta(days=91))
    assert rules_of(ONBOARD, old)["passphrase_age"] == "warning"
    assert rules_of(ONBOARD, onboard_facts(verified_at=None))["passphrase_age"] == "warning"


def test_nodes_missing_keys_are_critical_and_apply_would_sync():
    facts = onboard_facts(missing_keys={"cl-1-01": 0, "cl-1-02": 3})
    ev = evaluate(ONBOARD, facts, None, NOW)
    [finding] = ev.findings
    assert finding.rule == "node_keys" and finding.observed == {"cl-1-02": 3}
    assert [a.kind for a in ev.actions] == ["sync_nodes"] and ev.actions[0].needs_passphrase


def test_missing_key_servers_are_added_before_extra_ones_are_removed():
    facts = external_facts(
        servers=(KeyServerFacts("10.0.0.9:5696", 25, {}), KeyServerFacts("10.0.0.5:5696", 25, {}))
    )
    ev = evaluate(EXTERNAL, facts, None, NOW)
    assert rules_of(EXTERNAL, facts)["key_servers"] == "critical"
    kinds = [(a.kind, a.server or a.value) for a in ev.actions]
    assert kinds[0] == ("add_key_servers", ("10.0.0.6:5696",))
    assert ("remove_key_server", "10.0.0.9:5696") in kinds
    assert ("set_key_server_timeout", "10.0.0.6:5696") in kinds  # the new server gets the policy's timeout


def test_at_four_servers_only_as_many_are_removed_first_as_the_limit_needs():
    four = tuple(KeyServerFacts(f"10.9.9.{i}:5696", 25, {}) for i in range(4))
    ev = evaluate(EXTERNAL, external_facts(servers=four), None, NOW)
    kinds = [a.kind for a in ev.actions if a.kind != "set_key_server_timeout"]
    assert kinds == [
        "remove_key_server",
        "remove_key_server",
        "add_key_servers",
        "remove_key_server",
        "remove_key_server",
    ]


def test_wrong_timeout_is_a_warning_with_a_per_server_action():
    facts = external_facts(
        servers=(KeyServerFacts("10.0.0.5:5696", 10, {}), KeyServerFacts("10.0.0.6:5696", 25, {}))
    )
    ev = evaluate(EXTERNAL, facts, None, NOW)
    assert rules_of(EXTERNAL, facts) == {"key_server_timeout": "warning"}
    assert [(a.kind, a.server, a.value) for a in ev.actions] == [
        ("set_key_server_timeout", "10.0.0.5:5696", 25)
    ]


def test_certificates_are_named_per_cluster_and_swapped_by_apply():
    facts = external_facts(client_certificate="old-client", server_ca_certificates=("old-ca",))
    ev = evaluate(EXTERNAL, facts, None, NOW)
    assert rules_of(EXTERNAL, facts) == {
        "client_certificate": "critical",
        "server_ca_certificates": "critical",
    }
    assert {(a.kind, a.value) for a in ev.actions} == {
        ("set_client_certificate", "cl-1-kmip-client"),
        ("set_server_ca_certificates", ("cl-1-kmip-ca",)),
    }


def test_a_node_that_cannot_reach_a_key_server_is_critical():
    down = KeyServerFacts("10.0.0.6:5696", 25, {"cl-1-01": "available", "cl-1-02": "not_responding"})
    facts = external_facts(servers=(external_facts().servers[0], down))
    [finding] = evaluate(EXTERNAL, facts, None, NOW).findings
    assert finding.rule == "key_server_connectivity" and finding.observed == {"10.0.0.6:5696": ["cl-1-02"]}


def test_inactive_key_store_is_critical():
    facts = onboard_facts(key_stores=(KeyStoreFacts("okm", True, "blocked"),))
    assert rules_of(ONBOARD, facts) == {"key_store": "critical"}


def test_volume_encryption_and_default_dare_are_warnings():
    facts = onboard_facts(volume_encryption_supported=False, dare_disabled=True)
    assert rules_of(ONBOARD, facts) == {"volume_encryption": "warning", "default_dare_disabled": "warning"}


def test_fields_an_old_release_lacks_are_info_not_verifiable_and_still_compliant():
    facts = onboard_facts(
        version=(9, 6, 0),
        missing_keys=None,
        key_stores=None,
        volume_encryption_supported=None,
        dare_disabled=None,
    )
    ev = evaluate(ONBOARD, facts, None, NOW)
    assert {f.rule for f in ev.findings} == {
        "status_healthy",
        "node_keys",
        "key_store",
        "volume_encryption",
        "default_dare_disabled",
    }
    assert all(f.severity == "info" and "not verifiable on this version" in f.message for f in ev.findings)
    assert ev.compliant


def test_external_connectivity_before_9_13_is_not_verifiable():
    facts = external_facts(version=(9, 12, 1))
    assert rules_of(EXTERNAL, facts) == {"key_server_connectivity": "info"}


def test_metrocluster_sites_with_different_key_managers_are_critical_on_both():
    site_a = external_facts(partner="cl-2")
    site_b = external_facts(name="cl-2", partner="cl-1", servers=external_facts().servers[:1])
    assert rules_of(EXTERNAL, site_a, site_b)["metrocluster_same_key_manager"] == "critical"
    assert rules_of(EXTERNAL, site_b, site_a)["metrocluster_same_key_manager"] == "critical"
    assert "metrocluster_same_key_manager" not in rules_of(EXTERNAL, site_a, replace(site_a, name="cl-2"))


def test_an_unread_partner_makes_the_metrocluster_rule_info():
    assert rules_of(ONBOARD, onboard_facts(partner="cl-2")) == {"metrocluster_same_key_manager": "info"}
