"""A small reader for the inventory ``fleet sim serve`` writes, for the peer tools.

The peers stand in for an admin's own scripts, so they do not use fleet's inventory code: this reads
just what they need (address, credentials, OKM secret reference, MetroCluster partner). Secret
references are ``file:PATH`` with ``{cluster}`` expanded, relative to the inventory's folder; values
are read only when a peer needs them and never printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    host: str
    port: int
    username: str
    password_file: Path
    okm_file: Path | None  # None: not in a group that carries vars.okm_passphrase
    ca_file: Path | None
    partner: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def password(self) -> str:
        return self.password_file.read_text()

    def okm_passphrase(self) -> str:
        if self.okm_file is None:
            raise LookupError(f"{self.name}: the inventory has no okm_passphrase for it")
        return self.okm_file.read_text()


def _file_ref(ref: str, cluster: str, base: Path) -> Path:
    scheme, _, path = ref.partition(":")
    if scheme != "file":
        raise ValueError(f"only file: secret references are supported here, not {scheme}:")
    return base / path.replace("{cluster}", cluster)


def load_targets(inventory: Path) -> list[Target]:
    """Every cluster of the inventory, defaults and group vars applied (cluster > groups > defaults)."""
    document: dict[str, Any] = yaml.load(inventory.read_text(), Loader=_Loader)
    base = inventory.absolute().parent
    defaults = document.get("defaults") or {}
    groups = document.get("groups") or {}
    tls = defaults.get("tls") or {}
    ca = base / tls["ca_file"] if tls.get("verify", True) and tls.get("ca_file") else None
    targets = []
    for entry in document["clusters"]:
        name = entry["name"]
        merged: dict[str, Any] = dict(defaults.get("vars") or {})
        labels: dict[str, str] = {}
        for group in entry.get("groups", []):
            merged.update((groups.get(group) or {}).get("vars") or {})
            labels.update((groups.get(group) or {}).get("labels") or {})
        merged.update(entry.get("vars") or {})
        labels.update(entry.get("labels") or {})
        host, _, port = str(entry["address"]).rpartition(":")
        okm_ref = merged.get("okm_passphrase")
        targets.append(
            Target(
                name=name,
                host=host,
                port=int(port),
                username=entry.get("username", defaults.get("username", "admin")),
                password_file=_file_ref(entry.get("password", defaults["password"]), name, base),
                okm_file=_file_ref(okm_ref, name, base) if okm_ref else None,
                ca_file=ca,
                partner=entry.get("metrocluster_partner"),
                labels=labels,
            )
        )
    return targets


def units(targets: list[Target]) -> list[tuple[Target, ...]]:
    """Standalone clusters alone; a MetroCluster pair as one unit, (site A, site B) with A the lower name."""
    by_name = {target.name: target for target in targets}
    seen: set[str] = set()
    result: list[tuple[Target, ...]] = []
    for target in targets:
        if target.name in seen:
            continue
        partner = by_name.get(target.partner) if target.partner else None
        if partner is None:
            result.append((target,))
            seen.add(target.name)
        else:
            pair = tuple(sorted((target, partner), key=lambda t: t.name))
            result.append(pair)
            seen.update(t.name for t in pair)
    return result
