"""An overlay: what an imported inventory cannot say, declared in a file of its own (``--overlay``).

Harvest's ``harvest.yml`` and Ansible inventories know nothing of MetroCluster pairs, of the name a
cluster reports, or of fleet's labels and groups; rewriting them would fork a file another tool
owns. An overlay names clusters of the inventory and adds what is missing::

    clusters:
      cl-east-1:
        metrocluster_partner: cl-west-1   # both sites name each other, as in a fleet inventory
        labels: {site: east, tier: gold}
        groups: [metro]
        ontap_name: CL-EAST-1             # what GET /api/cluster answers, when it differs
        username: admin                   # for a source that names no user

It works on top of any inventory (fleet, Harvest or Ansible). Merge rules: ``labels`` key by key,
the overlay winning; ``groups`` appended (a group the inventory does not define is created, empty,
for ``--limit @metro``; one it defines brings its settings); ``metrocluster_partner``,
``ontap_name`` and ``username`` replace. Passwords are not overlaid: a source's literal password is
replaced with ``--import-password``.

Validated before the inventory is checked: an unknown key, or a cluster the inventory does not
have, is an ``InputError`` naming the overlay file and the field (``clusters.cl-9.labels``). The
checks that follow (partners naming each other, duplicates) name the overlay for what it set.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from fleet.errors import InputError
from fleet.inventory.build import ClusterEntry, Layer, Parts
from fleet.inventory.document import ClusterDoc, Name, SettingsDoc, _Doc, parse_document
from fleet.inventory.yamlfile import read_yaml

FORM = (
    "an overlay is a mapping `clusters: {NAME: {metrocluster_partner, labels, groups, ontap_name, username}}`"
)


class OverlayCluster(_Doc):
    """What an overlay may say about one cluster; every field optional, unknown ones refused."""

    metrocluster_partner: Name | None = None
    labels: dict[str, str] | None = None
    groups: list[Name] | None = None
    ontap_name: str | None = None
    username: str | None = None


class OverlayDoc(_Doc):
    clusters: dict[Name, OverlayCluster]


def read_overlay(path: Path) -> OverlayDoc:
    """The overlay in ``path``, validated; an ``InputError`` naming the file and field otherwise."""
    path = Path(path)
    raw = read_yaml(path)
    if not isinstance(raw, dict) or not raw:
        raise InputError(FORM, file=str(path))
    if "clusters" not in raw:
        first = next(iter(raw))
        raise InputError(f"unknown key {first!r}: {FORM}", file=str(path), field=str(first))
    doc: OverlayDoc = parse_document(raw, OverlayDoc, file=path)
    return doc


def apply_overlay(parts: Parts, overlay: OverlayDoc, path: Path) -> Parts:
    """``parts`` with the overlay merged into the clusters it names (a new ``Parts``)."""
    path = Path(path)
    by_name = {entry.doc.name: index for index, entry in enumerate(parts.clusters)}
    for name in overlay.clusters:
        if name not in by_name:
            raise InputError(
                f"no cluster {name!r} in the inventory ({', '.join(str(s) for s in parts.sources)})",
                file=str(path),
                field=f"clusters.{name}",
            )
    clusters = list(parts.clusters)
    groups = dict(parts.groups)
    for name, extra in overlay.clusters.items():
        index = by_name[name]
        where = f"clusters.{name}"
        clusters[index] = _merged(clusters[index], extra, path, where)
        for group in extra.groups or []:
            groups.setdefault(group, Layer(f"{where}.groups", path, SettingsDoc()))
    return Parts(
        defaults=list(parts.defaults),
        groups=groups,
        clusters=clusters,
        sources=[*parts.sources, path],
    )


def _merged(entry: ClusterEntry, extra: OverlayCluster, path: Path, where: str) -> ClusterEntry:
    given = extra.model_dump(exclude_none=True)
    if not given:
        return entry
    doc: dict[str, Any] = entry.doc.model_dump(exclude_unset=True)
    if "labels" in given:
        given["labels"] = {**(entry.doc.labels or {}), **given["labels"]}
    if "groups" in given:
        given["groups"] = [*entry.doc.groups, *(g for g in given["groups"] if g not in entry.doc.groups)]
    doc.update(given)
    merged: ClusterDoc = parse_document(doc, ClusterDoc, file=path, prefix=where)
    origins = {**entry.origins, **{key: (path, where) for key in given}}
    return replace(entry, doc=merged, origins=origins)
