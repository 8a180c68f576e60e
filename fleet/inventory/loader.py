"""Loading inventories: one YAML file, a directory of them, or (``load_any``) an imported format.

A directory inventory is every ``*.yml``/``*.yaml`` file directly inside it (hidden files skipped),
read in name order and merged: clusters keep that order; a group, a cluster or a ``defaults`` key
defined in two files is an error naming both, never a silent override.

``load_any`` tells the format by content (a Harvest ``Pollers:`` mapping, an Ansible ``all:`` group
or ``ansible-inventory --list`` output, else fleet's own), merges an overlay on top when one is
given (``fleet.inventory.overlay``), then checks the whole as one inventory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleet.errors import InputError
from fleet.inventory.ansible import AnsibleLoader, ansible_parts, ini_hint, looks_like_ansible, looks_like_ini
from fleet.inventory.build import ClusterEntry, Layer, Parts, build_inventory
from fleet.inventory.document import FileDoc, parse_document
from fleet.inventory.harvest import harvest_parts, looks_like_harvest
from fleet.inventory.jsonfile import NotJson, looks_like_json, read_json
from fleet.inventory.model import Inventory
from fleet.inventory.overlay import apply_overlay, read_overlay
from fleet.inventory.yamlfile import read_yaml

SUFFIXES = (".yml", ".yaml")


def load_inventory(path: Path) -> Inventory:
    """The fleet-format inventory in ``path`` (a file or a directory); InputError when invalid."""
    return build_inventory(native_parts(path))


def native_parts(path: Path) -> Parts:
    """What the fleet-format file or directory ``path`` defines, before inheritance and checks."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and not p.name.startswith("."))
        if not files:
            raise InputError("no *.yml or *.yaml files in this directory", file=str(path))
    else:
        files = [path]
    parts = Parts()
    for file in files:
        parts.add(file_parts(file, read_yaml(file)))
    return parts


def file_parts(file: Path, raw: Any) -> Parts:
    """What one fleet-format document defines, each piece labelled with its file and field path."""
    if raw is not None and not isinstance(raw, dict):
        raise InputError("an inventory file is a mapping with defaults, groups and clusters", file=str(file))
    doc: FileDoc = parse_document(raw, FileDoc, file=file)
    return Parts(
        defaults=[Layer("defaults", file, doc.defaults)] if doc.defaults else [],
        groups={name: Layer(f"groups.{name}", file, group) for name, group in (doc.groups or {}).items()},
        clusters=[
            ClusterEntry(f"clusters[{i}]", file, cluster) for i, cluster in enumerate(doc.clusters or [])
        ],
        sources=[file],
    )


def load_any(path: Path, *, password: str | None = None, overlay: Path | None = None) -> Inventory:
    """Load ``path`` in whichever format its content is: fleet YAML, Harvest, or Ansible (YAML, or
    ``ansible-inventory --list`` JSON), with the ``overlay`` file merged on top when given.

    ``password`` (a secret reference, ``--import-password``) is passed to the importers, for
    sources that hold literal, vault-encrypted or no passwords; a fleet inventory refuses it.
    """
    parts = source_parts(Path(path), password=password)
    if overlay is not None:
        parts = apply_overlay(parts, read_overlay(Path(overlay)), Path(overlay))
    return build_inventory(parts)


def source_parts(path: Path, *, password: str | None = None) -> Parts:
    """The parts of ``path`` read in its own format (see ``load_any``)."""
    if path.is_dir():
        return _native_only(native_parts(path), password)
    if looks_like_json(path):  # ``ansible-inventory --list``: read as JSON, once
        try:
            raw = read_json(path)
        except NotJson:
            pass  # YAML in flow style, or broken: the YAML loader says where
        else:
            if looks_like_harvest(raw):
                return harvest_parts(path, password=password)
            if looks_like_ansible(raw):
                return ansible_parts(path, password=password, raw=raw)
            return _native_only(file_parts(path, raw), password)
    try:
        raw = read_yaml(path, AnsibleLoader)  # ``!vault`` parses, so an Ansible file gets its own refusal
    except InputError:
        if looks_like_ini(path):
            raise ini_hint(path) from None
        raise
    if not isinstance(raw, dict) and looks_like_ini(path):
        raise ini_hint(path)
    if looks_like_harvest(raw):
        return harvest_parts(path, password=password)
    if looks_like_ansible(raw):
        return ansible_parts(path, password=password)
    return _native_only(file_parts(path, raw), password)


def _native_only(parts: Parts, password: str | None) -> Parts:
    if password is not None:
        raise InputError(
            "--import-password is for Harvest and Ansible inventories; a fleet inventory names its "
            "password references itself",
            file=str(parts.sources[0]) if parts.sources else None,
            field="--import-password",
        )
    return parts
