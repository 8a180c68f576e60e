"""Write the inventory (DESIGN.md format) and the secret files for a simulated fleet.

The inventory holds secret *references* only; the values go to one file per cluster and secret in the
secrets directory (0600, directory 0700): ``{cluster}.password`` for every cluster, ``{cluster}.okm``
with the *current* onboard passphrase. Only clusters with an Onboard Key Manager are in the ``onboard``
group, which carries ``vars.okm_passphrase``: a reference to a file that cannot exist (external or no
key manager) would make every run over the whole inventory fail its input check.

Labels give ``--limit`` something to select on: ``site`` (east/west, through the groups of those
names; the two sites of a MetroCluster pair are always east and west), ``tier``, ``ontap``,
``key_manager`` and ``cc_mode`` (read by the engine for the 64-character minimum).
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from fleet.atomic import write_atomically
from fleet.sim.state import Cluster, Fleet

PASSWORD_SUFFIX = ".password"
PASSPHRASE_SUFFIX = ".okm"
ONBOARD_GROUP = "onboard"
_TIERS = (("gold", 0.2), ("silver", 0.3), ("bronze", 0.5))
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: 10,000 clusters in well under a second


def write_inventory(
    fleet: Fleet,
    *,
    addresses: Mapping[str, str],
    path: Path | str,
    secrets_dir: Path | str,
    ca_file: Path | str | None,
    username: str = "admin",
) -> Path:
    """Write the secret files, then the inventory at ``path`` (atomically); returns the inventory path.

    ``addresses`` maps cluster names to ``127.0.0.1:PORT``. ``ca_file`` None means plain HTTP: the
    addresses get an ``http://`` scheme and the inventory no ``tls`` section.
    """
    path = Path(path).absolute()
    secrets_dir = Path(secrets_dir).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_secret_files(fleet, secrets_dir)
    document = inventory_document(
        fleet,
        addresses=addresses,
        secrets_ref=_relative_to(secrets_dir, path.parent),
        ca_ref=_relative_to(Path(ca_file).absolute(), path.parent) if ca_file is not None else None,
        username=username,
    )
    text = yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=200)
    header = "# Written by `fleet sim serve`: one entry per simulated cluster. Secrets are references.\n"
    write_atomically(path, (header + text).encode(), mode=0o644)
    return path


def inventory_document(
    fleet: Fleet,
    *,
    addresses: Mapping[str, str],
    secrets_ref: str,
    ca_ref: str | None,
    username: str = "admin",
) -> dict[str, Any]:
    """The inventory as plain data (what ``write_inventory`` dumps as YAML)."""
    defaults: dict[str, Any] = {
        "username": username,
        "password": f"file:{secrets_ref}/{{cluster}}{PASSWORD_SUFFIX}",
    }
    if ca_ref is not None:
        defaults["tls"] = {"verify": True, "ca_file": ca_ref}
    groups = {
        "east": {"labels": {"site": "east"}},
        "west": {"labels": {"site": "west"}},
        ONBOARD_GROUP: {"vars": {"okm_passphrase": f"file:{secrets_ref}/{{cluster}}{PASSPHRASE_SUFFIX}"}},
    }
    scheme = "" if ca_ref is not None else "http://"
    clusters = [
        _cluster_entry(fleet, cluster, scheme + addresses[name], username, index)
        for index, (name, cluster) in enumerate(fleet.clusters.items())
    ]
    return {"defaults": defaults, "groups": groups, "clusters": clusters}


def write_secret_files(fleet: Fleet, secrets_dir: Path) -> None:
    """One 0600 file per secret. No fsync: the files are re-derived from the state at every start."""
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(secrets_dir, 0o700)
    for name, cluster in fleet.clusters.items():
        _write_secret(secrets_dir / f"{name}{PASSWORD_SUFFIX}", cluster.password)
        passphrase = _onboard_passphrase(cluster)
        if passphrase is not None:
            _write_secret(secrets_dir / f"{name}{PASSPHRASE_SUFFIX}", passphrase)


def _cluster_entry(fleet: Fleet, cluster: Cluster, address: str, username: str, index: int) -> dict[str, Any]:
    generation, major, _minor = cluster.version
    entry: dict[str, Any] = {"name": cluster.name, "address": address}
    if cluster.username != username:
        entry["username"] = cluster.username
    groups = [_site(fleet, cluster, index)]
    if _onboard_passphrase(cluster) is not None:
        groups.append(ONBOARD_GROUP)
    entry["groups"] = groups
    labels = {
        "tier": _tier(fleet.seed, cluster.name),
        "ontap": f"{generation}.{major}",
        "key_manager": cluster.key_manager.kind if cluster.key_manager is not None else "none",
    }
    if cluster.cc_mode:
        labels["cc_mode"] = "true"
    entry["labels"] = labels
    if cluster.metrocluster is not None:
        entry["metrocluster_partner"] = cluster.metrocluster.partner
    return entry


def _site(fleet: Fleet, cluster: Cluster, index: int) -> str:
    """A MetroCluster pair spans both sites (the lower name is east); standalone clusters alternate."""
    if cluster.metrocluster is not None:
        return "east" if cluster.name < cluster.metrocluster.partner else "west"
    return "east" if index % 2 == 0 else "west"


def _tier(seed: int, name: str) -> str:
    roll = random.Random(f"{seed}/tier/{name}").random()
    for tier, share in _TIERS:
        if roll < share:
            return tier
        roll -= share
    return _TIERS[-1][0]


def _onboard_passphrase(cluster: Cluster) -> str | None:
    km = cluster.key_manager
    return km.passphrase if km is not None and km.kind == "onboard" and km.enabled else None


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _relative_to(target: Path, base: Path) -> str:
    """``target`` relative to ``base`` when it lies inside it (the inventory moves with its files)."""
    try:
        return target.relative_to(base).as_posix()
    except ValueError:
        return target.as_posix()
