"""From parsed documents to a checked ``Inventory``: inheritance, addresses, names, pairs.

Shared by the YAML loader and the Harvest/Ansible importers, so every source gets the same checks.
Each piece of settings is a ``Layer`` that remembers its file and field path (``groups.east``,
``clusters[3]``, ``Pollers.cl1``), so every error names where to fix it.

Inheritance: defaults → the cluster's groups in the order it lists them (a later group wins) →
the cluster itself. ``vars``, ``labels`` and ``tls`` merge key by key in that order; ``username``
and ``password`` are replaced.

A cluster needs a ``username`` unless its password is a ``script:`` reference (a credentials script
in NetApp Harvest's form, which may print the user name with the password).

A ``password``, and any ``vars`` entry whose name contains "password", "passphrase" or "secret",
must be a secret reference (``env:``, ``file:``, ``cmd:``): literals are refused wherever they are
set.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from fleet.errors import InputError
from fleet.inventory.document import ClusterDoc, SettingsDoc
from fleet.inventory.model import Cluster, Inventory, TlsSettings
from fleet.secrets.refs import is_credentials_script, is_reference, real_file

SECRET_VAR_WORDS = ("password", "passphrase", "secret")
_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True, slots=True)
class Layer:
    """Settings from one place in one file."""

    where: str
    file: Path
    settings: SettingsDoc


@dataclass(frozen=True, slots=True)
class ClusterEntry:
    """One cluster as a source file defines it; ``origins`` names another file and place for fields
    set elsewhere (an overlay's ``metrocluster_partner``), so errors point where to fix them."""

    where: str
    file: Path
    doc: ClusterDoc
    origins: Mapping[str, tuple[Path, str]] = field(default_factory=dict)


@dataclass(slots=True)
class Parts:
    """Everything one or more files define, before inheritance; ``add`` merges another file's parts."""

    defaults: list[Layer] = field(default_factory=list)
    groups: dict[str, Layer] = field(default_factory=dict)
    clusters: list[ClusterEntry] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)

    def add(self, other: Parts) -> None:
        """Merge ``other`` in; a default key or a group defined in two files is an error naming both."""
        for layer in other.defaults:
            for key in layer.settings.model_fields_set:
                first = next((d for d in self.defaults if key in d.settings.model_fields_set), None)
                if first is not None:
                    raise InputError(
                        f"defaults.{key} is also defined in {first.file}",
                        file=str(layer.file),
                        field=f"defaults.{key}",
                    )
        for name, layer in other.groups.items():
            if name in self.groups:
                raise InputError(
                    f"group {name!r} is also defined in {self.groups[name].file}",
                    file=str(layer.file),
                    field=layer.where,
                )
        self.defaults.extend(other.defaults)
        self.groups.update(other.groups)
        self.clusters.extend(other.clusters)
        self.sources.extend(other.sources)


def build_inventory(parts: Parts) -> Inventory:
    """Apply inheritance and check the whole inventory; the first problem is an InputError."""
    if not parts.clusters:
        raise InputError(
            "the inventory defines no clusters", file=str(parts.sources[0]) if parts.sources else None
        )
    for layer in [*parts.defaults, *parts.groups.values()]:
        _check_secret_refs(layer)
    clusters: dict[str, Cluster] = {}
    entries: dict[str, ClusterEntry] = {}
    by_url: dict[str, ClusterEntry] = {}
    for entry in parts.clusters:
        own = Layer(entry.where, entry.file, entry.doc)
        _check_secret_refs(own)
        name = entry.doc.name
        if name in entries:
            first = entries[name]
            raise _error(
                entry, "name", f"duplicate cluster name {name!r}: also at {first.file} {first.where}"
            )
        base_url = _base_url(entry)
        if base_url in by_url:
            first = by_url[base_url]
            raise _error(
                entry, "address", f"duplicate address {base_url}: also at {first.file} {first.where}"
            )
        entries[name], by_url[base_url] = entry, entry
        clusters[name] = _resolve(entry, base_url, parts)
    _check_partners(clusters, entries)
    return Inventory(
        clusters=clusters, groups=tuple(parts.groups), sources=list(parts.sources), digest=_digest(clusters)
    )


def _error(entry: ClusterEntry, key: str, message: str) -> InputError:
    root = key.split("[", 1)[0].split(".", 1)[0]
    file, where = entry.origins.get(root, (entry.file, entry.where))
    return InputError(message, file=str(file), field=f"{where}.{key}")


def _check_secret_refs(layer: Layer) -> None:
    settings = layer.settings
    if settings.password is not None and not is_reference(settings.password):
        raise InputError(
            "a password must be a secret reference (env:NAME, file:PATH or cmd:COMMAND), not a literal",
            file=str(layer.file),
            field=f"{layer.where}.password",
        )
    for key, value in (settings.vars or {}).items():
        if any(word in key.lower() for word in SECRET_VAR_WORDS) and not is_reference(value):
            raise InputError(
                f"vars.{key} looks like a secret and must be a secret reference (env:, file:, cmd:)",
                file=str(layer.file),
                field=f"{layer.where}.vars.{key}",
            )


def _base_url(entry: ClusterEntry) -> str:
    """``host``, ``host:port`` or ``scheme://host[:port]`` → ``scheme://host:port`` (https, 443)."""
    text = entry.doc.address.strip()
    if "://" not in text:
        # A bare IPv6 address has several colons and no brackets; ``[v6]:port`` carries a port.
        text = "https://" + (f"[{text}]" if text.count(":") > 1 and not text.startswith("[") else text)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise _error(entry, "address", "not a valid host, host:port or URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _error(entry, "address", f"scheme {scheme!r} is not supported; use https (or http)")
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise _error(entry, "address", "expected host, host:port or scheme://host:port, nothing more")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS[scheme]}"


def _resolve(entry: ClusterEntry, base_url: str, parts: Parts) -> Cluster:
    layers = list(parts.defaults)
    for index, group in enumerate(entry.doc.groups):
        if group not in parts.groups:
            raise _error(entry, f"groups[{index}]", f"group {group!r} is not defined")
        layers.append(parts.groups[group])
    layers.append(Layer(entry.where, entry.file, entry.doc))

    username = password = None
    verify, ca_file = True, None
    variables: dict[str, str] = {}
    labels: dict[str, str] = {}
    for layer in layers:
        settings = layer.settings
        username = settings.username if settings.username is not None else username
        password = settings.password if settings.password is not None else password
        if settings.tls is not None:
            verify = settings.tls.verify if settings.tls.verify is not None else verify
            if settings.tls.ca_file is not None:
                ca_file = real_file(layer.file.parent, settings.tls.ca_file)
        variables.update(settings.vars or {})
        labels.update(settings.labels or {})
    if not username and not is_credentials_script(password):
        raise _error(
            entry,
            "username",
            "no username: set it on the cluster, one of its groups or defaults (or in an --overlay)",
        )
    if not password:
        raise _error(
            entry,
            "password",
            "no password reference: set it on the cluster, one of its groups or defaults "
            "(an imported Harvest or Ansible inventory: --import-password REF)",
        )
    return Cluster(
        name=entry.doc.name,
        address=entry.doc.address,
        base_url=base_url,
        username=username or None,
        password=password,
        tls=TlsSettings(verify=verify, ca_file=ca_file),
        vars=variables,
        labels=labels,
        groups=tuple(entry.doc.groups),
        metrocluster_partner=entry.doc.metrocluster_partner,
        ontap_name=entry.doc.ontap_name,
        source=entry.file,
        where=entry.where,
    )


def _check_partners(clusters: dict[str, Cluster], entries: dict[str, ClusterEntry]) -> None:
    for name, cluster in clusters.items():
        partner = cluster.metrocluster_partner
        if partner is None:
            continue
        entry = entries[name]
        if partner == name:
            raise _error(entry, "metrocluster_partner", "a cluster cannot be its own MetroCluster partner")
        if partner not in clusters:
            raise _error(entry, "metrocluster_partner", f"partner {partner!r} is not in the inventory")
        back = clusters[partner].metrocluster_partner
        if back != name:
            says = f"names {back!r}" if back else "names no partner"
            raise _error(
                entry,
                "metrocluster_partner",
                f"partner {partner!r} {says} ({entries[partner].file} {entries[partner].where}); "
                "both sites must name each other",
            )


def _digest(clusters: dict[str, Cluster]) -> str:
    where_written = {"source", "where"}  # not what the cluster is: moving an entry changes nothing
    normalised = [cluster.model_dump(mode="json", exclude=where_written) for cluster in clusters.values()]
    return hashlib.sha256(json.dumps(normalised, sort_keys=True).encode()).hexdigest()
