"""What ``fleet apply`` would change to bring a cluster to the policy: the diff as a list of actions.

Only what ONTAP lets fleet change safely becomes an action: key servers (added before removed, so a
cluster never loses all of them; only as many removed first as the four-primary limit needs), key
server timeouts, the KMIP certificates, and a sync for nodes that miss keys. A wrong key-manager
kind, an unhealthy status or an old passphrase stay findings, for a human or ``fleet rotate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fleet.policy.facts import ClusterFacts
from fleet.policy.model import MAX_PRIMARY_SERVERS, Policy

ActionKind = Literal[
    "add_key_servers",
    "remove_key_server",
    "set_key_server_timeout",
    "set_client_certificate",
    "set_server_ca_certificates",
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

    @property
    def needs_passphrase(self) -> bool:
        return self.kind == "sync_nodes"

    def describe(self) -> str:
        match self.kind:
            case "add_key_servers":
                return f"add key server(s) {', '.join(self.value)}"  # type: ignore[arg-type]
            case "remove_key_server":
                return f"remove key server {self.server}"
            case "set_key_server_timeout":
                return f"set the timeout of key server {self.server} to {self.value} s"
            case "set_client_certificate":
                return f"set the KMIP client certificate to {self.value}"
            case "set_server_ca_certificates":
                return f"set the KMIP server CA certificates to {', '.join(self.value)}"  # type: ignore[arg-type]
            case "sync_nodes":
                return f"sync the onboard key manager (nodes missing keys: {self.value})"
        raise AssertionError(self.kind)


def plan_actions(policy: Policy, facts: ClusterFacts) -> list[Action]:
    """The ordered actions for one cluster; empty when nothing fleet may change is out of policy."""
    if facts.km_uuid is None or facts.kind != policy.key_manager:
        return []
    if facts.kind == "onboard":
        return _onboard_actions(policy, facts)
    return _external_actions(policy, facts)


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
