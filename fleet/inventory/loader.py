"""Loading inventories: one YAML file, a directory of them, or (``load_any``) an imported format.

A directory inventory is every ``*.yml``/``*.yaml`` file directly inside it (hidden files skipped),
read in name order and merged: clusters keep that order; a group, a cluster or a ``defaults`` key
defined in two files is an error naming both, never a silent override.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleet.errors import InputError
from fleet.inventory.ansible import AnsibleLoader, load_ansible_yaml, looks_like_ansible
from fleet.inventory.build import ClusterEntry, Layer, Parts, build_inventory
from fleet.inventory.document import FileDoc, parse_document
from fleet.inventory.harvest import load_harvest, looks_like_harvest
from fleet.inventory.model import Inventory
from fleet.inventory.yamlfile import read_yaml

SUFFIXES = (".yml", ".yaml")


def load_inventory(path: Path) -> Inventory:
    """The fleet-format inventory in ``path`` (a file or a directory); InputError when invalid."""
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
    return build_inventory(parts)


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


def load_any(path: Path, *, password: str | None = None) -> Inventory:
    """Load ``path`` in whichever format its content is: fleet YAML, Harvest or Ansible YAML.

    ``password`` (a secret reference) is passed to the importers, for sources that hold literal
    passwords fleet refuses to use.
    """
    path = Path(path)
    if path.is_dir():
        return load_inventory(path)
    raw = read_yaml(path, AnsibleLoader)  # ``!vault`` parses, so an Ansible file gets its own refusal
    if looks_like_harvest(raw):
        return load_harvest(path, password=password)
    if looks_like_ansible(raw):
        return load_ansible_yaml(path, password=password)
    return build_inventory(file_parts(path, raw))
