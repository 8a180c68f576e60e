"""The policy file: the key-manager state a security team wants on every cluster.

Pydantic with ``extra="forbid"`` everywhere: a misspelt key in a policy would otherwise switch a
check off without a word. ``{cluster}`` in a certificate name is replaced by the cluster's name
(certificates are installed per cluster, so their names often carry it), as in secret references;
in ``svms:``, ``{svm}`` is replaced by the data SVM's name.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

KeyManagerKind = Literal["onboard", "external"]
MAX_PRIMARY_SERVERS = 4  # ONTAP: at most four primary key servers (65536038)
DEFAULT_KMIP_PORT = 5696
_SERVER = re.compile(r"^(?P<host>[A-Za-z0-9.\-\[\]:]+?)(?::(?P<port>\d{1,5}))?$")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OnboardPolicy(_Strict):
    """What an Onboard Key Manager must look like."""

    passphrase_max_age_days: int | None = Field(
        default=None,
        ge=1,
        description="Days since the journal's last verified rotation; older (or unknown) is a finding.",
    )
    require_all_nodes_keys: bool = Field(
        default=True, description="No node may report restored=false keys (ONTAP 9.12+)."
    )


class ExternalPolicy(_Strict):
    """What an external (KMIP) key manager must look like; unset fields are not checked."""

    servers: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_PRIMARY_SERVERS,
        description='Primary key servers, "host:port" (port 5696 when left out); the exact set.',
    )
    timeout: int | None = Field(default=None, ge=1, le=60, description="Key-server timeout, seconds.")
    client_certificate: str | None = Field(
        default=None, description="Name of the KMIP client certificate; {cluster} is the cluster's name."
    )
    server_ca_certificates: list[str] | None = Field(
        default=None, min_length=1, description="Names of the KMIP server CA certificates; {cluster} allowed."
    )

    @field_validator("servers")
    @classmethod
    def _normalise_servers(cls, servers: list[str] | None) -> list[str] | None:
        """ONTAP lists servers as "ip:port"; a bare host means the KMIP port, as Ansible assumes."""
        if servers is None:
            return None
        normalised = []
        for server in servers:
            match = _SERVER.match(server.strip())
            if match is None:
                raise ValueError(f'{server!r} is not "host:port"')
            port = int(match["port"] or DEFAULT_KMIP_PORT)
            if not 1 <= port <= 65535:
                raise ValueError(f"{server!r}: port out of range")
            normalised.append(f"{match['host']}:{port}")
        if len(set(normalised)) != len(normalised):
            raise ValueError("a key server is listed twice")
        return normalised

    def client_certificate_for(self, cluster: str, svm: str = "") -> str | None:
        if not self.client_certificate:
            return None
        return self.client_certificate.replace("{cluster}", cluster).replace("{svm}", svm)

    def server_ca_certificates_for(self, cluster: str, svm: str = "") -> list[str] | None:
        if self.server_ca_certificates is None:
            return None
        return [
            name.replace("{cluster}", cluster).replace("{svm}", svm) for name in self.server_ca_certificates
        ]


# ONTAP's answer to an Onboard Key Manager on a data SVM (POST /api/security/key-managers).
OKM_ON_DATA_SVM = (
    "ONTAP refuses an Onboard Key Manager on a data SVM (65536916: The Onboard Key Manager is only "
    "supported for an admin SVM); a data SVM's own key manager is external (KMIP): use key_manager: external"
)


class SvmPolicy(ExternalPolicy):
    """A data SVM's own (SVM-scope) key manager: it must exist, external, with these settings (unset
    fields are not checked). ``{cluster}`` and ``{svm}`` are replaced in certificate names."""

    key_manager: KeyManagerKind = Field(
        default="external", description="Always external: ONTAP has no Onboard Key Manager on a data SVM."
    )

    @field_validator("key_manager")
    @classmethod
    def _external_only(cls, kind: str) -> str:
        if kind != "external":
            raise ValueError(OKM_ON_DATA_SVM)
        return kind


class CertificatesPolicy(_Strict):
    """The certificates every key manager uses (cluster and SVM scope: KMIP client and server CAs)."""

    min_days_left: int | None = Field(
        default=None, ge=1, description="Days a certificate must still be valid; fewer is a finding."
    )


class RequirePolicy(_Strict):
    """Health and encryption requirements; ``None`` means "not checked"."""

    status_healthy: bool = Field(default=True, description="status.code says nothing is left to do.")
    key_servers_reachable: bool = Field(
        default=True, description="External: every node reaches every key server (ONTAP 9.13+)."
    )
    key_store_active: bool = Field(
        default=True, description="The key store of the policy's kind is enabled and active (ONTAP 9.10+)."
    )
    volume_encryption_supported: bool | None = None
    default_data_at_rest_encryption_disabled: bool | None = None


class MetroClusterPolicy(_Strict):
    same_key_manager_both_sites: bool = Field(
        default=True, description="Both sites use the same kind of key manager (and the same key servers)."
    )


class Policy(_Strict):
    """The whole policy file."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="fleet key-manager policy")

    key_manager: KeyManagerKind
    onboard: OnboardPolicy = OnboardPolicy()
    external: ExternalPolicy = ExternalPolicy()
    require: RequirePolicy = RequirePolicy()
    metrocluster: MetroClusterPolicy = MetroClusterPolicy()
    svms: dict[str, SvmPolicy] = Field(
        default_factory=dict,
        description="Data SVMs by name glob (first match in file order wins): their own external KM.",
    )
    certificates: CertificatesPolicy = CertificatesPolicy()

    def digest(self) -> str:
        """What the policy asks for, as a hash: two files that differ only in comments, layout, the
        order of top-level keys or spelled-out defaults give one digest (a list's order counts, and
        ``svms:``'s, whose first match wins). Defaults are hashed too: a fleet whose defaults differ
        means another policy by the same file, and a resumed ``fleet apply`` that compares it is
        refused rather than guessing."""
        return "sha256:" + hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    def svm_policy(self, name: str) -> SvmPolicy | None:
        """The ``svms:`` entry whose glob matches the SVM's name first; None: the SVM is not checked."""
        return next((want for glob, want in self.svms.items() if fnmatch.fnmatchcase(name, glob)), None)

    @model_validator(mode="after")
    def _external_needs_servers(self) -> Policy:
        if self.key_manager == "external" and self.external.servers is None:
            raise ValueError("key_manager: external needs external.servers")
        return self
