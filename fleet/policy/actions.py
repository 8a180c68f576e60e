"""What ``fleet apply`` would change to bring a cluster to the policy: the diff as a list of actions.

Only what ONTAP lets fleet change safely becomes an action: key servers (added before removed, so a
cluster never loses all of them; only as many removed first as the four-primary limit needs), key
server timeouts, the KMIP certificates, the renewal of an expiring client certificate (by an installed
successor with the same key pair: ONTAP refuses another, 65536850), and a sync for nodes that miss
keys. The same, per data SVM, for each SVM's own key manager. A wrong key-manager kind, a missing SVM
key manager, an unhealthy status or an old passphrase stay findings, for a human or ``fleet rotate``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fleet.policy.facts import ClusterFacts
from fleet.policy.model import MAX_PRIMARY_SERVERS, Policy
from fleet.policy.rules import renewal_for, svm_view, used_certificates

ActionKind = Literal[
    "add_key_servers",
    "remove_key_server",
    "set_key_server_timeout",
    "set_client_certificate",
    "set_server_ca_certificates",
    "renew_client_certificate",
    "sync_nodes",
]


@dataclass(frozen=True, slots=True)
class Action:
    """One change on one cluster; ``value`` is JSON-friendly and never secret."""

    kind: ActionKind
    cluster: str
    rule: str
    value: str | int | tuple[str, ...]
    server: str | None = None  # the key server a per-server action targets
    svm: str | None = None  # the data SVM whose own key manager the action changes (None: the cluster's)
    km: str | None = None  # that key manager's uuid (None: the cluster-scope one)

    @property
    def needs_passphrase(self) -> bool:
        return self.kind == "sync_nodes"

    def describe(self) -> str:
        text = self._what()
        return text if self.svm is None else f"{self.cluster}/{self.svm}: {text}"

    def _what(self) -> str:
        match self.kind:
            case "add_key_servers":
                return f"add key server(s) {', '.join(self.value)}"  # type: ignore[arg-type]
            case "remove_key_server":
                return f"remove key server {self.server}"
            case "set_key_server_timeout":
                return f"set the timeout of key server {self.server} to {self.value} s"
            case "set_client_certificate":
                return f"set the KMIP client certificate to {self.value}"
            case "renew_client_certificate":
                return f"renew the KMIP client certificate with {self.value} (same key pair)"
            case "set_server_ca_certificates":
                return f"set the KMIP server CA certificates to {', '.join(self.value)}"  # type: ignore[arg-type]
            case "sync_nodes":
                return f"sync the onboard key manager (nodes missing keys: {self.value})"
        raise AssertionError(self.kind)


def plan_actions(policy: Policy, facts: ClusterFacts, now: datetime | None = None) -> list[Action]:
    """The ordered actions for one cluster: its own key manager's, then each data SVM's in name order;
    empty when nothing fleet may change is out of policy. ``now`` dates certificate renewals."""
    actions: list[Action] = []
    if facts.km_uuid is not None and facts.kind == policy.key_manager:
        own = _onboard_actions(policy, facts) if facts.kind == "onboard" else _external_actions(policy, facts)
        actions += own + _renewals(policy, facts, None, facts.km_uuid, pinned=facts.kind == "onboard" or
                                   policy.external.client_certificate is not None, now=now)  # fmt: skip
    for svm in sorted(facts.svms or (), key=lambda svm: svm.name):
        wanted = policy.svm_policy(svm.name)
        if svm.kind != "external" or svm.km_uuid is None:
            continue
        if wanted is not None:
            view_policy, view = svm_view(policy, facts, svm, wanted)
            actions += [
                dataclasses.replace(action, svm=svm.name, km=svm.km_uuid)
                for action in _external_actions(view_policy, view)
            ]
        pinned = wanted is not None and wanted.client_certificate is not None
        actions += _renewals(policy, facts, svm.name, svm.km_uuid, pinned=pinned, now=now)
    return actions


def _renewals(
    policy: Policy, facts: ClusterFacts, svm: str | None, km: str, *, pinned: bool, now: datetime | None
) -> list[Action]:
    """An expiring client certificate with an installed successor (same key pair) is switched to it,
    unless the policy names the client certificate itself (then that name is what apply sets)."""
    min_days = policy.certificates.min_days_left
    if min_days is None or now is None or pinned:
        return []
    actions = []
    for owner, cert in used_certificates(facts):
        if owner != svm or cert.type != "client" or cert.expiry is None:
            continue
        if (cert.expiry - now).total_seconds() / 86400 >= min_days:
            continue
        renewal = renewal_for(facts, cert, min_days, now)
        if renewal is not None:
            action = Action("renew_client_certificate", facts.name, "certificate_expiry", renewal.name)
            actions.append(dataclasses.replace(action, svm=svm, km=None if svm is None else km))
    return actions


def _onboard_actions(policy: Policy, facts: ClusterFacts) -> list[Action]:
    if not policy.onboard.require_all_nodes_keys or not facts.missing_keys:
        return []
    stale = sorted(node for node, count in facts.missing_keys.items() if count)
    if not stale:
        return []
    return [Action("sync_nodes", facts.name, "node_keys", ", ".join(stale))]


def _external_actions(policy: Policy, facts: ClusterFacts) -> list[Action]:
    external, name = policy.external, facts.name
    actions: list[Action] = []
    have = facts.server_names
    if external.servers is not None:
        missing = [server for server in external.servers if server not in have]
        extra = [server for server in have if server not in external.servers]
        adds = [Action("add_key_servers", name, "key_servers", tuple(missing))] if missing else []
        removes = [Action("remove_key_server", name, "key_servers", server, server) for server in extra]
        make_room = max(0, len(have) + len(missing) - MAX_PRIMARY_SERVERS)
        actions += removes[:make_room] + adds + removes[make_room:]
        kept = [server for server in have if server in external.servers]
    else:
        missing, kept = [], have
    if external.timeout is not None:
        timeouts = {server.server: server.timeout for server in facts.servers}
        for server in kept + missing:
            if timeouts.get(server) != external.timeout:
                actions.append(
                    Action("set_key_server_timeout", name, "key_server_timeout", external.timeout, server)
                )
    client = external.client_certificate_for(name)
    if client is not None and client != facts.client_certificate:
        actions.append(Action("set_client_certificate", name, "client_certificate", client))
    cas = external.server_ca_certificates_for(name)
    if cas is not None and set(cas) != set(facts.server_ca_certificates):
        actions.append(Action("set_server_ca_certificates", name, "server_ca_certificates", tuple(cas)))
    return actions
