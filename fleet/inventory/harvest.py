"""Import NetApp Harvest's ``harvest.yml``: each ONTAP poller becomes a cluster.

Assumptions (Harvest's format, as documented in its ``harvest.cue`` schema):

- ``Pollers:`` maps a poller name (the cluster name) to its settings; ``Defaults:`` apply to every
  poller, a poller's own keys win. Only ``addr``, ``username``, ``password``, ``credentials_script``,
  ``ca_cert``, ``use_insecure_tls``, ``labels``, ``datacenter``, ``auth_style`` and ``collectors`` are
  read; everything else (exporters, schedules, ...) is Harvest's business and ignored.
- Pollers without ``addr`` (the local Unix poller) or whose ``collectors`` are all non-ONTAP
  (StorageGrid, CiscoRest, Unix) are skipped.
- ``credentials_script.path`` becomes ``cmd:PATH ADDR USERNAME`` (Harvest passes the address and
  the user name as arguments) and must print only the password; it runs in the file's folder.
- A literal ``password`` is refused unless ``password=`` gives a secret reference to use instead;
  ``credentials_file`` is not supported (give ``password=``). Certificate auth is refused.
- ``labels`` (a list of one-key maps) become labels; ``datacenter`` becomes the label ``datacenter``.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from fleet.errors import InputError
from fleet.inventory.build import ClusterEntry, Parts, build_inventory
from fleet.inventory.document import ClusterDoc, parse_document
from fleet.inventory.model import Inventory
from fleet.inventory.yamlfile import read_yaml
from fleet.secrets.refs import is_reference

ONTAP_COLLECTORS = frozenset({"Rest", "RestPerf", "Zapi", "ZapiPerf", "Ems", "StatPerf", "KeyPerf"})


def looks_like_harvest(raw: Any) -> bool:
    return isinstance(raw, dict) and isinstance(raw.get("Pollers"), dict)


def load_harvest(path: Path, *, password: str | None = None) -> Inventory:
    """An Inventory of the ONTAP pollers in a Harvest ``harvest.yml``."""
    path = Path(path)
    raw = read_yaml(path)
    if not looks_like_harvest(raw):
        raise InputError("not a Harvest configuration: no Pollers mapping", file=str(path), field="Pollers")
    defaults = raw.get("Defaults") or {}
    if not isinstance(defaults, dict):
        raise InputError("Defaults must be a mapping", file=str(path), field="Defaults")
    entries = []
    for name, poller in raw["Pollers"].items():
        where = f"Pollers.{name}"
        poller = poller or {}
        if not isinstance(poller, dict):
            raise InputError("a poller must be a mapping", file=str(path), field=where)
        merged = {**defaults, **poller}
        if not merged.get("addr") or not _collects_ontap(merged.get("collectors")):
            continue
        origin = {key: (where if key in poller else "Defaults") for key in merged}
        doc = {
            "name": str(name),
            "address": str(merged["addr"]),
            "username": merged.get("username"),
            "password": _password_ref(merged, origin, path, password),
            "tls": {"verify": not merged.get("use_insecure_tls", False), "ca_file": merged.get("ca_cert")},
            "labels": _labels(defaults, poller, path, where),
        }
        entries.append(ClusterEntry(where, path, parse_document(doc, ClusterDoc, file=path, prefix=where)))
    return build_inventory(Parts(clusters=entries, sources=[path]))


def _collects_ontap(collectors: Any) -> bool:
    if not collectors:
        return True
    names = {next(iter(c)) if isinstance(c, dict) and c else str(c) for c in collectors}
    return bool(names & ONTAP_COLLECTORS)


def _password_ref(merged: dict[str, Any], origin: dict[str, str], path: Path, override: str | None) -> str:
    if merged.get("auth_style") == "certificate_auth":
        raise InputError(
            "certificate authentication is not supported; fleet uses basic auth",
            file=str(path),
            field=f"{origin['auth_style']}.auth_style",
        )
    literal = merged.get("password")
    if literal is not None and is_reference(str(literal)):
        return str(literal)
    if override is not None:
        return override
    if literal is not None:
        raise InputError(
            "a literal password is refused; use a secret reference (env:, file:, cmd:) "
            "or pass one to the importer",
            file=str(path),
            field=f"{origin['password']}.password",
        )
    script = merged.get("credentials_script")
    if isinstance(script, dict) and script.get("path"):
        return "cmd:" + shlex.join(
            [str(script["path"]), str(merged["addr"]), str(merged.get("username") or "")]
        )
    where = origin.get("credentials_file", origin.get("addr", "Pollers"))
    raise InputError(
        "no usable password source (credentials_file is not supported); "
        "pass a secret reference to the importer",
        file=str(path),
        field=f"{where}.password",
    )


def _labels(defaults: dict[str, Any], poller: dict[str, Any], path: Path, where: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for source, field in ((defaults, "Defaults"), (poller, where)):
        if source.get("datacenter") is not None:
            labels["datacenter"] = str(source["datacenter"])
        for item in source.get("labels") or []:
            if not isinstance(item, dict):
                raise InputError(
                    "labels must be a list of key: value maps", file=str(path), field=f"{field}.labels"
                )
            labels.update({str(k): str(v) for k, v in item.items()})
    return labels
