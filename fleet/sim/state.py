"""The simulator's model of a cluster: plain data, no HTTP, no clock, no randomness.

This module is the contract between the simulator's parts: ``rules`` (ONTAP's checks: read this
state, change nothing), ``effects`` (the changes ONTAP makes to it), ``app`` (HTTP over both),
``faults`` (failure injection), ``generate`` (fleets of N clusters) and ``persist`` (save/reload).
Add fields freely; renaming one breaks saved state files, so bump ``STATE_VERSION`` when a change is
not backward compatible. Passphrases are held in clear here on purpose: the simulator's secrets are
test data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

STATE_VERSION = 1

KeyManagerKind = Literal["onboard", "external"]
JobState = Literal["queued", "running", "paused", "success", "failure"]
PartnerSyncMethod = Literal["patch", "post", "either"]
NodeState = Literal["up", "down"]
McConfigState = Literal[
    "configuration_error", "configured", "not_configured", "not_reachable", "partially_configured", "unknown"
]
McMode = Literal[
    "normal",
    "not_configured",
    "not_reachable",
    "partial_switchback",
    "partial_switchover",
    "switchover",
    "unknown",
    "waiting_for_switchback",
]


# How an answer is lost after ONTAP applied the change (the ``lost*`` faults): the connection resets, hangs
# past any client timeout, or an intermediary (proxy, load balancer) answers 502/503/504 in HTML.
LOST_MODES = ("reset", "hang", "502", "503", "504")


@dataclass(slots=True)
class KeyId:
    """One key as ``…/keys/{node.uuid}/key-ids`` lists it; ``restored`` False = missing on the node."""

    key_id: str
    key_type: str = "nse_ak"  # nse_ak | aek | vek | nek | svm_kek | mroot_ak
    key_tag: str = ""
    restored: bool = True


@dataclass(slots=True)
class Node:
    name: str
    uuid: str
    keys: list[KeyId] = field(default_factory=list)
    # Common Criteria lockout, counted per node ("wait 24 hours or reboot the node"): the node that serves
    # the management request keeps the streak (``Cluster.serving_node``, UNCONFIRMED which node that is)
    wrong_passphrase_streak: int = 0
    locked: bool = False
    locked_at: float | None = None  # simulator clock when the lock began (None: set at the next request)
    state: NodeState = "up"  # "down": a passphrase change or sync cannot reach it (its keys stay stale)
    version: tuple[int, int, int] | None = None  # None: the cluster's; else mid-upgrade (mixed versions)


@dataclass(slots=True)
class CertRef:
    """A certificate: a reference (name, uuid) in a key manager, or one installed on the cluster
    (``Cluster.certificates``, ``/api/security/certificates``) with its type and key-pair identity."""

    name: str
    uuid: str
    type: str = "client"  # client | server_ca (what the key managers use)
    # the key pair's identity (the spec's subject_key_identifier, 9.8+); "" = its own, derived from the uuid.
    # A renewed certificate that keeps its key pair carries its predecessor's.
    subject_key_identifier: str = ""
    expiry_time: str = "2030-01-25T11:20:13+00:00"
    # the data SVM the certificate is installed on; "" = the admin SVM (``scope: cluster``). Key managers
    # use the certificates of their own SVM; ONTAP does not replicate them to a MetroCluster partner.
    svm: str = ""

    @property
    def key_pair(self) -> str:
        """The key-pair identity two certificates share exactly when they hold the same key pair."""
        if self.subject_key_identifier:
            return self.subject_key_identifier
        digest = hashlib.sha1(self.uuid.encode(), usedforsecurity=False).hexdigest().upper()
        return ":".join(digest[i : i + 2] for i in range(0, 40, 2))


@dataclass(slots=True)
class KeyServer:
    server: str  # "ip:port"
    timeout: int = 25
    username: str | None = None
    secondary_key_servers: list[str] = field(default_factory=list)
    # per-node reachability as connectivity.node_states reports it (9.13+): node name -> state
    node_states: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class KeyManager:
    uuid: str
    kind: KeyManagerKind
    passphrase: str | None = None  # onboard only; the truth ONTAP never returns
    key_generation: int = 1  # bumped whenever the key hierarchy changes; drives key_backup
    servers: list[KeyServer] = field(default_factory=list)  # external only
    client_certificate: CertRef | None = None
    server_ca_certificates: list[CertRef] = field(default_factory=list)
    enabled: bool = True


@dataclass(slots=True)
class Svm:
    """A data SVM (``/api/svm/svms``) and its SVM-scope key manager, if any (multitenant key management:
    external only, 65536916 refuses an onboard one)."""

    name: str
    uuid: str
    key_manager: KeyManager | None = None
    state: str = "running"


@dataclass(slots=True)
class MetroCluster:
    """This site's view of its MetroCluster configuration (``GET /api/cluster/metrocluster``)."""

    partner: str  # the partner cluster's name (its state lives in the same Fleet)
    configuration_state: McConfigState = "configured"
    mode: McMode = "normal"
    partner_reachable: bool = True


@dataclass(slots=True)
class Job:
    uuid: str
    description: str
    state: JobState = "running"
    code: int = 0
    message: str = ""
    start_time: float = 0.0  # simulator clock, seconds
    ends_at: float = 0.0  # when the job reaches its terminal state
    end_time: float | None = None
    # outcome to apply when the job ends: None = success, else (code, message)
    failure: tuple[int, str] | None = None
    # the deferred change the job applies when it ends (effects.apply_change): data, so it persists
    operation: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    error_code: int = 0  # the ONTAP code the job ended with (0 = success)


@dataclass(slots=True)
class Counters:
    """What tests and benchmarks read back through ``/_sim/``."""

    requests: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    mutations: int = 0  # POST/PATCH/DELETE under /api/security
    rotations: int = 0  # passphrase changes applied
    syncs: int = 0  # synchronize operations applied (PATCH or POST)
    inflight: int = 0
    max_inflight: int = 0
    mutations_inflight: int = 0
    max_mutations_inflight: int = 0
    lost_answers: int = 0  # mutations applied whose answer the ``lost*`` faults withheld
    lost_by_mode: dict[str, int] = field(default_factory=dict)
    # answers the request faults sent instead of ONTAP's ("429", "500", "502", "503"), and connections they
    # dropped ("reset", "hang"): what a client saw as transient, counted where it was decided
    injected: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class ClusterFaults:
    """Per-cluster behaviours drawn from the fault spec (or set at run time)."""

    partial_nodes: list[str] = field(default_factory=list)  # nodes that fail the next change/sync
    partial_once: bool = True  # only the first passphrase change or sync fails on those nodes
    # the code a partial change answers: 65536407, or 65536408 (same text in the seed's PATCH table, same
    # effect: the passphrase changed, those nodes keep stale keys)
    partial_code: int = 65536407
    # this MetroCluster site's partner step after its partner rotated: None = SimSettings.partner_sync_method;
    # "post" (the ``partner_post`` fault): PATCH synchronize is refused with the status message (346758) and
    # POST synchronize with the NEW passphrase completes the sync although OKM exists here
    partner_sync_method: PartnerSyncMethod | None = None
    jobs: bool = False  # answer mutations with 202 + job
    job_seconds: float = 0.5
    job_fail: tuple[int, str] | None = None  # next job ends in failure with this code/message
    job_http_status: int = 202  # 202 + job (ONTAP's async answer) or 200 + job (what ANS has seen)
    kmip_tls_fail: int | None = None  # 66060338/9/40: external key-server operations fail with this code
    auth_fail: bool = False  # reject the inventory's credentials with 401
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    hang_rate: float = 0.0
    reset_rate: float = 0.0
    http500_rate: float = 0.0
    http502_rate: float = 0.0
    http503_rate: float = 0.0
    http429_rate: float = 0.0  # ONTAP's 429 (code 262160, Retry-After) whatever is in flight
    inflight_limit: int = 0  # above this many requests in flight: 429 + Retry-After (0 = off)
    # answers lost AFTER the change applied (mutations under /api/ that succeeded): ``lost_rate`` draws the
    # mode among LOST_MODES per event, the others are one mode each
    lost_rate: float = 0.0
    lost_reset_rate: float = 0.0
    lost_hang_rate: float = 0.0
    lost_502_rate: float = 0.0
    lost_503_rate: float = 0.0
    lost_504_rate: float = 0.0
    lose_next: list[str] = field(default_factory=list)  # LOST_MODES the next successful mutations meet


@dataclass(slots=True)
class Cluster:
    name: str
    uuid: str
    version: tuple[int, int, int]  # (generation, major, minor), e.g. (9, 14, 1)
    username: str
    password: str
    port: int = 0  # its own management address: 127.0.0.1:port
    nodes: list[Node] = field(default_factory=list)
    key_manager: KeyManager | None = None
    # 9.16+: an inactive (enabled=False) external configuration listed beside the active key manager
    inactive_key_manager: KeyManager | None = None
    cc_mode: bool = False
    metrocluster: MetroCluster | None = None
    # set on a site whose partner changed its passphrase: the passphrase it must be synced with
    pending_partner_sync: str | None = None
    wrong_passphrase_total: int = 0  # every wrong passphrase any node saw (the streaks live on the nodes)
    lockout_threshold: int = 5
    jobs: dict[str, Job] = field(default_factory=dict)
    job_seq: int = 0  # makes job and key-manager uuids deterministic (uuid5 of the cluster uuid)
    # certificates installed on the cluster (security certificates): what external key managers may name
    certificates: list[CertRef] = field(default_factory=list)
    # data SVMs (the admin SVM is the cluster itself): each may hold an SVM-scope external key manager.
    # A MetroCluster site lists its own; the mirrored ``-mc`` SVMs of its partner are not modelled.
    svms: list[Svm] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    faults: ClusterFaults = field(default_factory=ClusterFaults)
    # the name GET /api/cluster answers when it is not ``name`` (the ``misnamed`` fault, /_sim answer_name):
    # the inventory's name points at a cluster that calls itself something else
    answer_name: str | None = None

    def svm_named(self, name: str) -> Svm | None:
        return next((svm for svm in self.svms if svm.name == name), None)

    @property
    def version_full(self) -> str:
        generation, major, minor = self.version
        return f"NetApp Release {generation}.{major}.{minor}: simulated"

    def node_version(self, node: Node) -> tuple[int, int, int]:
        return node.version or self.version

    def at_least(self, major: int, minor: int = 0) -> bool:
        """Feature gate: is this cluster at ONTAP 9.<major>.<minor> or later?"""
        return self.version[1:] >= (major, minor)

    @property
    def serving_node(self) -> Node | None:
        """The node that serves management requests (and keeps the lockout streak): the first node.
        Which node ONTAP counts on is UNCONFIRMED (the cluster management LIF's home node, presumably)."""
        return self.nodes[0] if self.nodes else None

    @property
    def locked(self) -> bool:
        """Is the serving node locked out (Common Criteria)? True locks it; False clears every node."""
        node = self.serving_node
        return node is not None and node.locked

    @locked.setter
    def locked(self, value: bool) -> None:
        if value:
            node = self.serving_node
            if node is not None and not node.locked:
                node.locked, node.locked_at = True, None
            return
        for node in self.nodes:
            node.locked, node.locked_at, node.wrong_passphrase_streak = False, None, 0

    @property
    def wrong_passphrase_streak(self) -> int:
        """The serving node's consecutive wrong passphrases."""
        node = self.serving_node
        return node.wrong_passphrase_streak if node is not None else 0

    @wrong_passphrase_streak.setter
    def wrong_passphrase_streak(self, value: int) -> None:
        node = self.serving_node
        if node is not None:
            node.wrong_passphrase_streak = value


@dataclass(slots=True)
class SimSettings:
    """Fleet-wide knobs, all configurable because ontap-notes marks these UNCONFIRMED."""

    job_retention_seconds: float = 300.0  # jobs disappear this long after they end
    lockout_threshold: int = 5  # Common Criteria: consecutive wrong passphrases before lockout
    retry_after_seconds: int = 1  # Retry-After sent with 429
    # How the partner site takes a rotated passphrase (UNCONFIRMED, ontap-notes §4.1): "patch" = PATCH
    # synchronize with existing_passphrase = NEW (the default); "post" = POST synchronize with passphrase =
    # NEW (what the status message literally says); "either" accepts both.
    partner_sync_method: PartnerSyncMethod = "patch"
    pending_sync_accepts_old: bool = False  # True: the partner's sync also accepts its OLD passphrase
    # The status a site shows while its pair is out of sync. 346758 is the spec's example value (probably a
    # placeholder; UNCONFIRMED), the message is the seed's. Shown on the rotated site too unless False.
    pending_sync_status_code: int = 346758
    pending_status_on_both_sites: bool = True
    healthy_status_code: int = 0  # the spec says 0 when setup is complete; PYLIB shows 65537200
    lockout_all_modes: bool = False  # False: only Common Criteria clusters lock after wrong passphrases
    lockout_seconds: float = 24 * 3600.0  # a locked node clears after this long (simulator clock) or a reboot
    # A filter or body field of a later release than the cluster's: 262179 "Unexpected argument" (what ONTAP
    # answers for any argument it does not know) or 262197 (what it answers for such a ``fields=`` name).
    # Which one ONTAP sends for a field a later release has is UNCONFIRMED (``releases``).
    release_gap_code: int = 262179
    # Mutations running as jobs wait up to ``return_timeout`` s and answer 200 when the job ended in time
    # (ONTAP's documented behaviour). Off for now: fleet's client always sends return_timeout and its tests
    # (tests/ontap/test_ontap_sim.py) still expect 202 + job; flip to True when fleet's side lands.
    honour_return_timeout: bool = True


@dataclass(slots=True)
class Fleet:
    clusters: dict[str, Cluster] = field(default_factory=dict)  # by name
    settings: SimSettings = field(default_factory=SimSettings)
    seed: int = 0

    def partner_of(self, cluster: Cluster) -> Cluster | None:
        if cluster.metrocluster is None:
            return None
        return self.clusters.get(cluster.metrocluster.partner)
