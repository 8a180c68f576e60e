"""The rules: one function per policy line, observed facts in, findings out.

Pure functions (no I/O, the clock passed in) so each rule is tested with hand-made facts. A rule
whose field the cluster's ONTAP release does not report answers with one ``info`` finding, "not
verifiable on this version": an old cluster is a blind spot to show, never a crash and never a
silent pass. Only ``critical`` and ``warning`` findings make a cluster non-compliant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import JsonValue

from fleet.policy.facts import CertificateFacts, ClusterFacts, SvmFacts
from fleet.policy.model import ExternalPolicy, Policy, SvmPolicy
from fleet.report import Finding
from fleet.report.model import Severity

# status.code values meaning "nothing left to do": 0 per the spec, 65537200 per NetApp's client examples.
HEALTHY_STATUS_CODES = frozenset({0, 65537200})
KEY_STORE_TYPE = {"onboard": "okm", "external": "kmip"}

Rule = Callable[[Policy, ClusterFacts, "ClusterFacts | None", datetime], list[Finding]]


def _finding(
    facts: ClusterFacts,
    rule: str,
    severity: Severity,
    message: str,
    observed: Any = None,
    expected: Any = None,
) -> Finding:
    """One finding; ``observed``/``expected`` are plain data (lists, dicts, text) that pydantic checks."""
    return Finding(
        cluster=facts.name,
        rule=rule,
        severity=severity,
        observed=observed,
        expected=expected,
        message=message,
    )


def not_verifiable(facts: ClusterFacts, rule: str, since: str, expected: JsonValue = None) -> Finding:
    return _finding(
        facts,
        rule,
        "info",
        f"not verifiable on this version: ONTAP {facts.version_text} does not report it (needs {since})",
        observed=None,
        expected=expected,
    )


def key_manager_kind(
    policy: Policy, facts: ClusterFacts, _p: ClusterFacts | None, _n: datetime
) -> list[Finding]:
    if facts.kind == policy.key_manager:
        return []
    seen = facts.kind or "none"
    return [
        _finding(
            facts,
            "key_manager",
            "critical",
            f"the cluster uses {'no key manager' if facts.kind is None else f'an {seen} key manager'}, "
            f"the policy wants {policy.key_manager}; changing the kind needs a human (ONTAP refuses it "
            "while one is configured)",
            observed=seen,
            expected=policy.key_manager,
        )
    ]


def status_healthy(
    policy: Policy, facts: ClusterFacts, _p: ClusterFacts | None, _n: datetime
) -> list[Finding]:
    if not policy.require.status_healthy or facts.kind is None:
        return []
    if not facts.at_least(7):
        return [not_verifiable(facts, "status_healthy", "ONTAP 9.7", expected="healthy")]
    if facts.status_code is None or facts.status_code in HEALTHY_STATUS_CODES:
        return []
    return [
        _finding(
            facts,
            "status_healthy",
            "critical",
            f"the key manager reports status {facts.status_code}: {facts.status_message or ''}".rstrip(": "),
            observed={"code": facts.status_code, "message": facts.status_message},
            expected="healthy",
        )
    ]


def passphrase_age(
    policy: Policy, facts: ClusterFacts, _p: ClusterFacts | None, now: datetime
) -> list[Finding]:
    max_days = policy.onboard.passphrase_max_age_days
    if max_days is None or policy.key_manager != "onboard" or facts.kind != "onboard":
        return []
    expected = f"<= {max_days} days"
    if facts.verified_at is None:
        return [
            _finding(
                facts,
                "passphrase_age",
                "warning",
                "the journal has no verified passphrase for this cluster: its age is unknown; "
                "rotate it with `fleet rotate`",
                observed=None,
                expected=expected,
            )
        ]
    age_days = (now - facts.verified_at).total_seconds() / 86400
    if age_days <= max_days:
        return []
    return [
        _finding(
            facts,
            "passphrase_age",
            "warning",
            f"the passphrase was last verified {age_days:.0f} days ago (policy: {max_days}); "
            "rotate it with `fleet rotate`",
            observed=f"{age_days:.1f} days",
            expected=expected,
        )
    ]


def node_keys(policy: Policy, facts: ClusterFacts, _p: ClusterFacts | None, _n: datetime) -> list[Finding]:
    if not policy.onboard.require_all_nodes_keys or facts.kind != "onboard":
        return []
    if not facts.at_least(12):
        return [not_verifiable(facts, "node_keys", "ONTAP 9.12", expected=0)]
    missing = {node: count for node, count in sorted((facts.missing_keys or {}).items()) if count}
    if not missing:
        return []
    names = ", ".join(f"{node} ({count})" for node, count in missing.items())
    return [
        _finding(
            facts,
            "node_keys",
            "critical",
            f"{len(missing)} node(s) miss keys (restored=false): {names}; `fleet apply` syncs them",
            observed=dict(missing),
            expected=0,
        )
    ]


def key_servers(policy: Policy, facts: ClusterFacts, _p: ClusterFacts | None, _n: datetime) -> list[Finding]:
    wanted = policy.external.servers
    if policy.key_manager != "external" or facts.kind != "external" or wanted is None:
        return []
    have = facts.server_names
    if set(have) == set(wanted):
        return []
    missing = sorted(set(wanted) - set(have))
    extra = sorted(set(have) - set(wanted))
    parts = [f"missing {', '.join(missing)}" if missing else "", f"extra {', '.join(extra)}" if extra else ""]
    return [
        _finding(
            facts,
            "key_servers",
            "critical",
            "key servers differ from the policy: " + "; ".join(part for part in parts if part),
            observed=list(have),
            expected=sorted(wanted),
        )
    ]


def key_server_timeout(
    policy: Policy, facts: ClusterFacts, _p: ClusterFacts | None, _n: datetime
) -> list[Finding]:
    wanted = policy.external.timeout
    if policy.key_manager != "external" or facts.kind != "external" or wanted is None:
        return []
    wrong = {s.server: s.timeout for s in facts.servers if s.timeout is not None and s.timeout != wanted}
    if not wrong:
        return []
    return [
        _finding(
            facts,
            "key_server_timeout",
            "warning",
            f"{len(wrong)} key server(s) have a timeout other than {wanted} s",
            observed=dict(sorted(wrong.items())),
            expected=wanted,
        )
    ]


def client_certificate(
    policy: Policy, facts: ClusterFacts, _p: ClusterFacts | None, _n: datetime
) -> list[Finding]:
    wanted = policy.external.client_certificate_for(facts.name)
    if policy.key_manager != "external" or facts.kind != "external" or wanted is None:
        return []
    if facts.client_certificate == wanted:
        return []
    return [
        _finding(
            facts,
            "client_certificate",
            "critical",
            f"the KMIP client certificate is {facts.client_certificate or 'not set'}, "
            f"the policy wants {wanted}",
            observed=facts.client_certificate,
            expected=wanted,
        )
    ]


def server_ca_certificates(
    policy: Policy, facts: ClusterFacts, _p: ClusterFacts | None, _n: datetime
) -> list[Finding]:
    wanted = policy.external.server_ca_certificates_for(facts.name)
    if policy.key_manager != "external" or facts.kind != "external" or wanted is None:
        return []
    if set(facts.server_ca_certificates) == set(wanted):
        return []
    return [
        _finding(
            facts,
            "server_ca_certificates",
            "critical",
            "the KMIP server CA certificates differ from the policy",
            observed=sorted(facts.server_ca_certificates),
            expected=sorted(wanted),
        )
    ]


def key_server_connectivity(
    policy: Policy, facts: ClusterFacts, _p: ClusterFacts | None, _n: datetime
) -> list[Finding]:
    if not policy.require.key_servers_reachable or facts.kind != "external":
        return []
    if not facts.at_least(13):
        return [not_verifiable(facts, "key_server_connectivity", "ONTAP 9.13", expected="available")]
    down = {
        server.server: sorted(
            node for node, state in (server.node_states or {}).items() if state != "available"
        )
        for server in facts.servers
    }
    down = {server: nodes for server, nodes in sorted(down.items()) if nodes}
    if not down:
        return []
    text = "; ".join(f"{server} from {', '.join(nodes)}" for server, nodes in down.items())
    return [
        _finding(
            facts,
            "key_server_connectivity",
            "critical",
            f"nodes cannot reach key servers: {text}",
            observed=dict(down),
            expected="available",
        )
    ]


def key_store(policy: Policy, facts: ClusterFacts, _p: ClusterFacts | None, _n: datetime) -> list[Finding]:
    if not policy.require.key_store_active or facts.kind is None:
        return []
    wanted = KEY_STORE_TYPE[policy.key_manager]
    if facts.key_stores is None:
        return [not_verifiable(facts, "key_store", "ONTAP 9.10", expected=wanted)]
    stores = [store for store in facts.key_stores if store.type == wanted]
    good = [s for s in stores if s.enabled is not False and s.state in (None, "active")]
    if good:
        return []
    observed: JsonValue = [{"type": s.type, "enabled": s.enabled, "state": s.state} for s in facts.key_stores]
    return [
        _finding(
            facts,
            "key_store",
            "critical",
            f"no enabled, active {wanted} key store",
            observed=observed,
            expected={"type": wanted, "enabled": True, "state": "active"},
        )
    ]


def volume_encryption(
    policy: Policy, facts: ClusterFacts, _p: ClusterFacts | None, _n: datetime
) -> list[Finding]:
    wanted = policy.require.volume_encryption_supported
    if wanted is None or facts.kind is None:
        return []
    if facts.volume_encryption_supported is None:
        return [not_verifiable(facts, "volume_encryption", "ONTAP 9.7", expected=wanted)]
    if facts.volume_encryption_supported == wanted:
        return []
    return [
        _finding(
            facts,
            "volume_encryption",
            "warning",
            f"volume encryption supported is {str(facts.volume_encryption_supported).lower()}",
            observed=facts.volume_encryption_supported,
            expected=wanted,
        )
    ]


def default_dare_disabled(
    policy: Policy, facts: ClusterFacts, _p: ClusterFacts | None, _n: datetime
) -> list[Finding]:
    wanted = policy.require.default_data_at_rest_encryption_disabled
    if wanted is None or facts.kind is None:
        return []
    if facts.dare_disabled is None:
        return [not_verifiable(facts, "default_dare_disabled", "ONTAP 9.7", expected=wanted)]
    if facts.dare_disabled == wanted:
        return []
    return [
        _finding(
            facts,
            "default_dare_disabled",
            "warning",
            f"is_default_data_at_rest_encryption_disabled is {str(facts.dare_disabled).lower()}",
            observed=facts.dare_disabled,
            expected=wanted,
        )
    ]


def metrocluster_same_key_manager(
    policy: Policy, facts: ClusterFacts, partner: ClusterFacts | None, _n: datetime
) -> list[Finding]:
    if not policy.metrocluster.same_key_manager_both_sites or facts.partner is None:
        return []
    if partner is None:
        return [
            _finding(
                facts,
                "metrocluster_same_key_manager",
                "info",
                f"not verifiable: the partner {facts.partner} was not read (not selected or unreachable)",
                expected="same key manager on both sites",
            )
        ]
    mine = {"kind": facts.kind, "servers": facts.server_names}
    theirs = {"kind": partner.kind, "servers": partner.server_names}
    if mine == theirs:
        return []
    return [
        _finding(
            facts,
            "metrocluster_same_key_manager",
            "critical",
            f"the MetroCluster sites differ: {facts.name} {facts.kind or 'none'} {mine['servers'] or ''}, "
            f"{partner.name} {partner.kind or 'none'} {theirs['servers'] or ''}".rstrip(),
            observed={facts.name: mine, partner.name: theirs},
            expected="same key manager on both sites",
        )
    ]


RULES: Sequence[Rule] = (
    key_manager_kind,
    status_healthy,
    passphrase_age,
    node_keys,
    key_servers,
    key_server_timeout,
    client_certificate,
    server_ca_certificates,
    key_server_connectivity,
    key_store,
    volume_encryption,
    default_dare_disabled,
    metrocluster_same_key_manager,
)
# Checks only a write-probe can make (``fleet plan --probe``): ONTAP never returns the passphrase.
PROBE_CHECKS = ("passphrase_current",)


# --- data SVMs: the external rules above, run on a view of each SVM's own key manager ----------------

SVM_RULES: Sequence[Rule] = (key_servers, key_server_timeout, client_certificate, server_ca_certificates)


def svm_view(
    policy: Policy, facts: ClusterFacts, svm: SvmFacts, wanted: SvmPolicy
) -> tuple[Policy, ClusterFacts]:
    """The SVM's key manager as if it were a cluster's, and its ``svms:`` entry as an external policy
    with ``{cluster}``/``{svm}`` already replaced: the same rules and actions serve both scopes."""
    external = ExternalPolicy.model_construct(
        servers=wanted.servers,
        timeout=wanted.timeout,
        client_certificate=wanted.client_certificate_for(facts.name, svm.name),
        server_ca_certificates=wanted.server_ca_certificates_for(facts.name, svm.name),
    )
    view_policy = policy.model_copy(update={"key_manager": "external", "external": external})
    view = ClusterFacts(
        name=facts.name,
        version=facts.version,
        km_uuid=svm.km_uuid,
        kind=svm.kind,
        servers=svm.servers,
        client_certificate=svm.client_certificate,
        server_ca_certificates=svm.server_ca_certificates,
    )
    return view_policy, view


def _on_svm(finding: Finding, svm: str) -> Finding:
    subject = f"{finding.cluster}/{svm}"
    return finding.model_copy(update={"svm": svm, "message": f"{subject}: {finding.message}"})


def svm_findings(policy: Policy, facts: ClusterFacts, now: datetime) -> list[Finding]:
    """Each data SVM an ``svms:`` glob matches: it has its own external key manager, as the entry says."""
    if not policy.svms or facts.svms is None:
        return []
    found: list[Finding] = []
    for svm in facts.svms:
        wanted = policy.svm_policy(svm.name)
        if wanted is None:
            continue
        if svm.kind != "external":
            finding = _finding(
                facts,
                "key_manager",
                "critical",
                "the SVM has no key manager of its own, the policy wants external (its volumes use the "
                "admin SVM's keys); configuring one needs a human",
                observed="none",
                expected="external",
            )
            found.append(_on_svm(finding, svm.name))
            continue
        view_policy, view = svm_view(policy, facts, svm, wanted)
        found += [_on_svm(f, svm.name) for rule in SVM_RULES for f in rule(view_policy, view, None, now)]
    return found


# --- certificates every key manager uses -------------------------------------------------------------


def used_certificates(facts: ClusterFacts) -> list[tuple[str | None, CertificateFacts]]:
    """(data SVM or None, certificate) for each certificate a key manager of the cluster names."""
    installed = {(cert.svm, cert.name): cert for cert in facts.certificates or ()}
    users: list[tuple[str | None, str | None, tuple[str, ...]]] = []
    if facts.kind == "external":
        users.append((None, facts.client_certificate, facts.server_ca_certificates))
    users += [
        (svm.name, svm.client_certificate, svm.server_ca_certificates)
        for svm in facts.svms or ()
        if svm.kind == "external"
    ]
    used = []
    for svm, client, cas in users:
        for name in (client, *cas):
            cert = installed.get((svm or "", name or ""))
            if cert is not None:
                used.append((svm, cert))
    return used


def renewal_for(
    facts: ClusterFacts, cert: CertificateFacts, min_days: int, now: datetime
) -> CertificateFacts | None:
    """An installed successor of ``cert``: same SVM and type, the same key pair (ONTAP refuses another
    one, 65536850), valid for at least ``min_days`` more days."""
    if cert.key_pair is None:
        return None
    candidates = [
        other
        for other in facts.certificates or ()
        if other.uuid != cert.uuid
        and (other.svm, other.type, other.key_pair) == (cert.svm, cert.type, cert.key_pair)
        and other.expiry is not None
        and (other.expiry - now).total_seconds() / 86400 >= min_days
    ]
    return max(candidates, key=lambda other: other.expiry or now, default=None)


def certificate_expiry(policy: Policy, facts: ClusterFacts, now: datetime) -> list[Finding]:
    """One finding per key manager (cluster or ``cluster/svm``) whose certificates expire within
    ``certificates.min_days_left``: critical once expired (nodes cannot fetch keys at boot), else warning."""
    min_days = policy.certificates.min_days_left
    if min_days is None or facts.certificates is None:
        return []
    expiring: dict[str | None, list[tuple[CertificateFacts, float]]] = {}
    for svm, cert in used_certificates(facts):
        if cert.expiry is None:
            continue
        days = (cert.expiry - now).total_seconds() / 86400
        if days < min_days:
            expiring.setdefault(svm, []).append((cert, days))
    found = []
    for svm, certs in expiring.items():
        parts = []
        for cert, days in certs:
            when = f"expired {-days:.0f} days ago" if days < 0 else f"expires in {days:.0f} days"
            renewal = renewal_for(facts, cert, min_days, now) if cert.type == "client" else None
            hint = f"; `fleet apply` renews it with {renewal.name} (same key pair)" if renewal else ""
            parts.append(f"{cert.name} ({cert.type}) {when}{hint}")
        finding = _finding(
            facts,
            "certificate_expiry",
            "critical" if any(days < 0 for _, days in certs) else "warning",
            f"KMIP certificate(s) expire within {min_days} days: " + "; ".join(parts),
            observed={cert.name: cert.expiry.isoformat() for cert, _ in certs if cert.expiry},
            expected=f">= {min_days} days left",
        )
        found.append(_on_svm(finding, svm) if svm else finding)
    return found


def findings_for(
    policy: Policy, facts: ClusterFacts, partner: ClusterFacts | None, now: datetime
) -> list[Finding]:
    found = [finding for rule in RULES for finding in rule(policy, facts, partner, now)]
    return found + svm_findings(policy, facts, now) + certificate_expiry(policy, facts, now)
