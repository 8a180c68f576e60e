"""What a sweep read from one cluster: the input of every rule, plain data and JSON-friendly.

``None`` in a field means "this ONTAP release does not report it" (or the policy did not need it),
never "false": a rule turns ``None`` into an info finding "not verifiable on this version".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class KeyServerFacts:
    server: str
    timeout: int | None
    node_states: dict[str, str] | None = None  # node name -> state (9.13+), None before


@dataclass(frozen=True, slots=True)
class KeyStoreFacts:
    type: str  # okm | kmip | akv | ...
    enabled: bool | None = None  # 9.14+
    state: str | None = None  # 9.16+


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """An installed certificate (``/api/security/certificates``): its SVM ("" = the admin SVM)."""

    name: str
    uuid: str
    type: str  # client | server_ca | ...
    svm: str
    expiry: datetime | None
    key_pair: str | None = None  # subject_key_identifier (9.8+): a renewal keeps it


@dataclass(frozen=True, slots=True)
class SvmFacts:
    """A data SVM and its own (SVM-scope) key manager, if any."""

    name: str
    km_uuid: str | None = None
    kind: str | None = None  # "external" | None
    servers: tuple[KeyServerFacts, ...] = ()
    client_certificate: str | None = None
    server_ca_certificates: tuple[str, ...] = ()

    @property
    def server_names(self) -> list[str]:
        return sorted(server.server for server in self.servers)


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    name: str
    version: tuple[int, int, int]
    km_uuid: str | None
    kind: str | None  # "onboard" | "external" | None (no cluster-scope key manager)
    status_code: int | None = None
    status_message: str | None = None
    volume_encryption_supported: bool | None = None
    dare_disabled: bool | None = None
    servers: tuple[KeyServerFacts, ...] = ()
    client_certificate: str | None = None
    server_ca_certificates: tuple[str, ...] = ()
    missing_keys: dict[str, int] | None = None  # node name -> restored=false keys (9.12+)
    key_stores: tuple[KeyStoreFacts, ...] | None = None  # 9.10+
    verified_at: datetime | None = None  # journal: last verified passphrase
    partner: str | None = None  # MetroCluster partner per ONTAP, when configured
    metrocluster_ready: bool = True  # both sites configured, normal mode, partner reachable
    svms: tuple[SvmFacts, ...] | None = None  # data SVMs (read when the policy has ``svms:`` or certificates)
    certificates: tuple[CertificateFacts, ...] | None = None  # installed (read for ``certificates:``)

    @property
    def version_text(self) -> str:
        return ".".join(str(part) for part in self.version)

    def at_least(self, major: int, minor: int = 0) -> bool:
        return self.version[1:] >= (major, minor)

    @property
    def server_names(self) -> list[str]:
        return sorted(server.server for server in self.servers)
