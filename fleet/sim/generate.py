"""Deterministic fleets of simulated clusters: the same seed always gives the same estate.

Every cluster draws from its own ``random.Random`` seeded by ``(seed, name)``, so cluster sim-0042 is
the same whether the fleet has 50 clusters or 10,000, and a benchmark can grow a fleet without changing
what the first clusters look like.
"""

from __future__ import annotations

import random
import string
import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

from fleet.sim import releases
from fleet.sim.state import CertRef, Cluster, Fleet, KeyId, KeyManager, KeyServer, MetroCluster, Node, Svm

Version = tuple[int, int, int]


def version_mix(oldest: tuple[int, int] = (9, 8)) -> tuple[Version, ...]:
    """The releases a generated fleet draws from: 9.<oldest>.0 … 9.16.1, two patch levels each."""
    return tuple((9, major, minor) for major in range(oldest[1], 17) for minor in (0, 1))


VERSIONS = version_mix()  # the default mix, 9.8 … 9.16: fleet's client asks 9.7+ fields unconditionally
MCC_OLDEST: Version = (9, 8, 0)  # MetroCluster REST (/api/cluster/metrocluster) arrived in 9.8
NODE_COUNTS = (2, 4, 6, 8, 10, 12)  # ONTAP nodes come in HA pairs
MCC_NODE_COUNTS = (2, 4, 8)
CC_SHARE = 0.03  # share of standalone clusters in Common Criteria mode
EXTERNAL_SHARE = 0.04  # share of standalone clusters with an external key manager (a rotation skips them)
KEY_TYPES = ("nse_ak", "aek", "vek", "nek")
# Printable ASCII without the space: passphrases end up in secret files and shell-quoted commands.
PASSPHRASE_ALPHABET = "".join(chr(c) for c in range(33, 127))
PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_."

KeyManagerChoice = Literal["onboard", "external", "none"]
SVM_EXTERNAL_SHARE = 0.6  # share of data SVMs with their own (SVM-scope) external key manager
SVM_EXPIRING_SHARE = 0.1  # share of SVM key-manager certificates that expire within 45 days


def cluster_name(index: int) -> str:
    """The generated name of the index-th cluster (1-based): sim-0001, sim-0002, …"""
    return f"sim-{index:04d}"


def make_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def make_passphrase(rng: random.Random, *, cc_mode: bool = False) -> str:
    """32–64 printable ASCII characters; 64–80 in Common Criteria mode (its minimum is 64)."""
    length = rng.randint(64, 80) if cc_mode else rng.randint(32, 64)
    return "".join(rng.choice(PASSPHRASE_ALPHABET) for _ in range(length))


def make_keys(rng: random.Random, count: int) -> list[KeyId]:
    """Key ids shaped like ONTAP's (80 hex digits, zero-padded)."""
    return [
        KeyId(
            key_id="0" * 16 + f"{rng.getrandbits(256):064x}",
            key_type=rng.choice(KEY_TYPES),
            key_tag="" if rng.random() < 0.5 else f"tag-{rng.randint(1, 999)}",
        )
        for _ in range(count)
    ]


def make_cluster(
    name: str,
    *,
    rng: random.Random,
    version: Version | None = None,
    versions: tuple[Version, ...] = VERSIONS,
    nodes: int | None = None,
    passphrase: str | None = None,
    key_manager: KeyManagerChoice = "onboard",
    cc_mode: bool = False,
) -> Cluster:
    """One cluster with nodes, credentials, installed certificates and the chosen key manager; its
    release is ``version``, else drawn from ``versions``."""
    cluster = Cluster(
        name=name,
        uuid=make_uuid(rng),
        version=version or rng.choice(versions),
        username="admin",
        password="".join(rng.choice(PASSWORD_ALPHABET) for _ in range(rng.randint(16, 24))),
        cc_mode=cc_mode,
    )
    node_count = nodes if nodes is not None else rng.choice(NODE_COUNTS)
    cluster.nodes = [Node(name=f"{name}-{i:02d}", uuid=make_uuid(rng)) for i in range(1, node_count + 1)]
    client = CertRef(name=f"{name}-kmip-client", uuid=make_uuid(rng))
    cluster.certificates = [client, CertRef(name=f"{name}-kmip-ca", uuid=make_uuid(rng), type="server_ca")]
    if key_manager == "onboard":
        cluster.key_manager = KeyManager(
            uuid=make_uuid(rng),
            kind="onboard",
            passphrase=passphrase or make_passphrase(rng, cc_mode=cc_mode),
        )
    elif key_manager == "external":
        cluster.key_manager = KeyManager(
            uuid=make_uuid(rng),
            kind="external",
            servers=[_server(rng) for _ in range(rng.randint(1, 2))],
            client_certificate=_reference(cluster.certificates[0]),
            server_ca_certificates=[_reference(cluster.certificates[1])],
        )
    if cluster.key_manager is not None:
        for node in cluster.nodes:
            node.keys = make_keys(rng, rng.randint(2, 4))
    return cluster


def _reference(cert: CertRef) -> CertRef:
    return CertRef(name=cert.name, uuid=cert.uuid, type=cert.type, svm=cert.svm)


def make_inactive_external(cluster: Cluster) -> KeyManager:
    """An inactive external configuration (9.16+), deterministic from the cluster: what ``inactive`` adds."""
    rng = random.Random(f"{cluster.uuid}/inactive")
    return KeyManager(
        uuid=make_uuid(rng),
        kind="external",
        servers=[
            KeyServer(server=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}:5696")
        ],
        client_certificate=cluster.certificates[0] if cluster.certificates else None,
        server_ca_certificates=cluster.certificates[1:2],
        enabled=False,
    )


def svm_name(index: int) -> str:
    """The generated name of a cluster's index-th data SVM (1-based): vs1, vs2, …"""
    return f"vs{index}"


def _server(rng: random.Random) -> KeyServer:
    return KeyServer(server=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}:5696")


def add_svms(
    cluster: Cluster, count: int, *, rng: random.Random, km_rng: random.Random, today: datetime
) -> None:
    """``count`` data SVMs vs1…; about ``SVM_EXTERNAL_SHARE`` of them with an SVM-scope external key
    manager (1–2 servers, a client and a server CA certificate installed on that SVM, expiring 0–900 days
    after ``today``), the rest with none. ``km_rng`` draws the key managers: a MetroCluster pair passes
    one shared by both sites, so the same SVM has the same servers on both. No SVM-scope key manager on
    a MetroCluster site older than ``releases.SVM_KEY_MANAGERS_IN_METROCLUSTER`` (65536824)."""
    release = (cluster.version[1], cluster.version[2])
    allowed = cluster.metrocluster is None or release >= releases.SVM_KEY_MANAGERS_IN_METROCLUSTER
    for index in range(1, count + 1):
        name = svm_name(index)
        svm = Svm(name=name, uuid=make_uuid(rng))
        external = km_rng.random() < SVM_EXTERNAL_SHARE
        servers = [_server(km_rng) for _ in range(km_rng.randint(1, 2))]
        expiring = km_rng.random() < SVM_EXPIRING_SHARE
        days = km_rng.randint(0, 45) if expiring else km_rng.randint(120, 900)
        if external and allowed:
            give_svm_kmip(cluster, svm, servers, expires=today + timedelta(days=days), rng=rng)
        cluster.svms.append(svm)


def give_svm_kmip(
    cluster: Cluster, svm: Svm, servers: list[KeyServer], *, expires: datetime, rng: random.Random
) -> None:
    """An SVM-scope external key manager on ``svm``, with its client certificate (expiring at
    ``expires``) and server CA installed on that SVM as ``{svm}-kmip-client`` and ``{svm}-kmip-ca``."""
    expiry = expires.isoformat(timespec="seconds")
    client = CertRef(f"{svm.name}-kmip-client", make_uuid(rng), expiry_time=expiry, svm=svm.name)
    ca = CertRef(f"{svm.name}-kmip-ca", make_uuid(rng), type="server_ca", svm=svm.name)
    cluster.certificates += [client, ca]
    svm.key_manager = KeyManager(
        uuid=make_uuid(rng),
        kind="external",
        servers=servers,
        client_certificate=_reference(client),
        server_ca_certificates=[_reference(ca)],
    )


def generate_fleet(
    clusters: int,
    *,
    mcc_pairs: int = 0,
    seed: int = 0,
    oldest: tuple[int, int] = (9, 8),
    svms: int = 0,
    today: datetime | None = None,
) -> Fleet:
    """Clusters named sim-0001…; the first ``2 * mcc_pairs`` form reciprocal MetroCluster pairs.

    ``oldest`` widens the version mix down to 9.6 (``fleet sim serve --oldest 9.6``); the default mix
    (9.8 …) draws exactly as before, so a seed keeps its fleet. MetroCluster pairs stay on 9.8+.
    ``svms`` data SVMs per cluster (``add_svms``) draw from their own generators, so adding them leaves
    the rest of the estate as it was; their certificates expire relative to ``today`` (default: the
    current UTC day's midnight, so the same seed gives the same estate all day).
    """
    day = today or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if mcc_pairs * 2 > clusters:
        raise ValueError(f"{mcc_pairs} MetroCluster pairs need {mcc_pairs * 2} clusters, not {clusters}")
    if not (9, 6) <= oldest <= (9, 16):
        raise ValueError(f"oldest release {oldest[0]}.{oldest[1]} is outside 9.6 … 9.16")
    versions = version_mix(oldest)
    fleet = Fleet(seed=seed)
    for index in range(1, clusters + 1):
        name = cluster_name(index)
        rng = random.Random(f"{seed}/{name}")
        if index <= mcc_pairs * 2:
            cluster = _make_mcc_site(index, name, rng, seed, versions)
        else:
            roll = rng.random()
            cc_mode = roll < CC_SHARE
            external = CC_SHARE <= roll < CC_SHARE + EXTERNAL_SHARE
            cluster = make_cluster(
                name,
                rng=rng,
                versions=versions,
                key_manager="external" if external else "onboard",
                cc_mode=cc_mode,
            )
        cluster.lockout_threshold = fleet.settings.lockout_threshold
        if svms:
            first = index if index % 2 == 1 or index > mcc_pairs * 2 else index - 1
            km_rng = random.Random(f"{seed}/svms/{cluster_name(first)}")
            add_svms(cluster, svms, rng=random.Random(f"{seed}/{name}/svms"), km_rng=km_rng, today=day)
        fleet.clusters[name] = cluster
    return fleet


def _make_mcc_site(
    index: int, name: str, rng: random.Random, seed: int, versions: tuple[Version, ...]
) -> Cluster:
    """A MetroCluster site: the pair shares version, node count and passphrase (drawn from the pair's rng)."""
    first = index if index % 2 == 1 else index - 1
    partner = cluster_name(first + 1 if index == first else first)
    pair_rng = random.Random(f"{seed}/pair/{cluster_name(first)}")
    version = pair_rng.choice([v for v in versions if v >= MCC_OLDEST])  # MetroCluster REST's minimum
    nodes = pair_rng.choice(MCC_NODE_COUNTS)
    passphrase = make_passphrase(pair_rng)
    cluster = make_cluster(name, rng=rng, version=version, nodes=nodes, passphrase=passphrase)
    cluster.metrocluster = MetroCluster(partner=partner)
    return cluster
