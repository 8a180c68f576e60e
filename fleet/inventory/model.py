"""The resolved inventory: clusters with every default and group setting applied, frozen."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from fleet.inventory.select import select_clusters


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TlsSettings(_Frozen):
    verify: bool = True
    ca_file: Path | None = None  # absolute: resolved against the file that set it


class Cluster(_Frozen):
    """One ONTAP cluster as fleet will contact it; ``password`` is a secret *reference*."""

    name: str
    address: str
    base_url: str  # "https://host:port", always with an explicit port
    username: str | None  # None only with a ``script:`` password, whose output names the user
    password: str
    tls: TlsSettings = TlsSettings()
    vars: dict[str, str] = {}
    labels: dict[str, str] = {}
    groups: tuple[str, ...] = ()
    metrocluster_partner: str | None = None
    ontap_name: str | None = None  # what GET /api/cluster must answer; default: ``name``
    source: Path
    where: str = ""  # the entry's place in ``source`` (``clusters[3]``, ``Pollers.cl1``), for messages

    def field(self, key: str) -> str:
        """``key`` as an input error names it: under the entry's place in its file when known."""
        return f"{self.where}.{key}" if self.where else key

    @property
    def expected_name(self) -> str:
        """The name the cluster must report for fleet to touch it (identity check)."""
        return self.ontap_name or self.name


class Inventory(_Frozen):
    """Every cluster in file order, the groups defined, the files read and a content digest.

    ``digest`` is the SHA-256 of the normalised clusters (not of the files' bytes), so ``fleet
    resume`` can warn when what the run was planned against has changed, and comments or file
    layout do not matter.
    """

    clusters: dict[str, Cluster]
    groups: tuple[str, ...] = ()
    sources: list[Path]
    digest: str

    def select(self, limit: str | None, *, keep_pairs: bool = True) -> list[Cluster]:
        """The clusters a ``--limit`` expression selects; see ``fleet.inventory.select``."""
        return select_clusters(list(self.clusters.values()), limit, groups=self.groups, keep_pairs=keep_pairs)

    def partner(self, cluster: Cluster | str) -> Cluster | None:
        """The MetroCluster partner of ``cluster`` (validated to exist and to name it back), or None."""
        name = cluster if isinstance(cluster, str) else cluster.name
        partner = self.clusters[name].metrocluster_partner
        return self.clusters[partner] if partner else None
