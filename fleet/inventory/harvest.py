"""Import NetApp Harvest's ``harvest.yml``: each ONTAP poller becomes a cluster.

Assumptions (Harvest's format, as documented in its ``harvest.cue`` schema and
``docs/configure-harvest-basic.md``):

- ``Pollers:`` maps a poller name (the cluster name) to its settings; ``Defaults:`` apply to every
  poller, a poller's own keys win. Only ``addr``, ``username``, ``password``, ``credentials_script``,
  ``ca_cert``, ``use_insecure_tls``, ``labels``, ``datacenter``, ``auth_style`` and ``collectors`` are
  read; everything else (exporters, schedules, ...) is Harvest's business and ignored.
- ``Poller_files`` (pollers kept in other files) is refused rather than half-read: each poller file
  has its own ``Pollers:`` and can be passed with ``-i`` (without this file's ``Defaults``).
- Pollers without ``addr`` (the local Unix poller) or whose ``collectors`` are all non-ONTAP
  (StorageGrid, CiscoRest, Unix) are skipped; a file with no ONTAP poller left is refused, naming
  the pollers it skipped.
- ``username`` is optional, as in Harvest, which has no default user name: a poller without one
  must get it from its credentials script's output (or from an ``--overlay``).
- ``credentials_script.path`` becomes ``script:PATH ADDR [USERNAME]`` (Harvest passes the address,
  and the user name when there is one); it runs in the file's folder and may print the password
  alone or YAML ``username: …`` / ``password: …``, read as Harvest reads it (``fleet.secrets.refs``).
  Its ``schedule`` and ``timeout`` are Harvest's: fleet runs it once per run, with its own timeout.
- A literal ``password``, ``credentials_file``, or no password source at all is refused unless
  ``password=`` (``--import-password REF``) gives a secret reference to use instead; a secret
  reference or a credentials script in the file is kept. Certificate auth is refused.
- ``labels`` (a list of one-key maps) become labels; ``datacenter`` becomes the ``site`` label (the
  one ``--first-site``, ``--limit-per`` and MetroCluster site checks read) and the ``datacenter``
  label; a ``site`` given in ``labels`` wins.
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
    return isinstance(raw, dict) and (isinstance(raw.get("Pollers"), dict) or "Poller_files" in raw)


def load_harvest(path: Path, *, password: str | None = None) -> Inventory:
    """An Inventory of the ONTAP pollers in a Harvest ``harvest.yml``."""
    return build_inventory(harvest_parts(path, password=password))


def harvest_parts(path: Path, *, password: str | None = None) -> Parts:
    """What a Harvest ``harvest.yml`` defines, as inventory parts (before inheritance and checks)."""
    path = Path(path)
    raw = read_yaml(path)
    if not looks_like_harvest(raw):
        raise InputError("not a Harvest configuration: no Pollers mapping", file=str(path), field="Pollers")
    if raw.get("Poller_files"):
        raise InputError(
            "Poller_files is not read by fleet (its pollers would be left out): list the pollers in "
            "this file, or pass each poller file with -i",
            file=str(path),
            field="Poller_files",
        )
    defaults = raw.get("Defaults") or {}
    if not isinstance(defaults, dict):
        raise InputError("Defaults must be a mapping", file=str(path), field="Defaults")
    entries = []
    skipped = []
    for name, poller in raw["Pollers"].items():
        where = f"Pollers.{name}"
        poller = poller or {}
        if not isinstance(poller, dict):
            raise InputError("a poller must be a mapping", file=str(path), field=where)
        merged = {**defaults, **poller}
        if not merged.get("addr") or not _collects_ontap(merged.get("collectors")):
            skipped.append(f"{name} ({'no addr' if not merged.get('addr') else 'no ONTAP collector'})")
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
    if not entries:
        raise InputError(
            "no ONTAP poller to import (skipped: " + (", ".join(skipped) or "none defined") + ")",
            file=str(path),
            field="Pollers",
        )
    return Parts(clusters=entries, sources=[path])


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
    script = merged.get("credentials_script")
    if literal is None and isinstance(script, dict) and script.get("path"):
        username = merged.get("username")
        return "script:" + shlex.join(
            [str(script["path"]), str(merged["addr"]), *([str(username)] if username else [])]
        )
    if override is not None:
        return override
    if literal is not None:
        raise InputError(
            "a literal password is refused; use a secret reference (env:, file:, cmd:) "
            "or give one with --import-password REF",
            file=str(path),
            field=f"{origin['password']}.password",
        )
    where = origin.get("credentials_file", origin.get("addr", "Pollers"))
    raise InputError(
        "no usable password source (credentials_file is not supported); "
        "give a secret reference with --import-password REF",
        file=str(path),
        field=f"{where}.password",
    )


def _labels(defaults: dict[str, Any], poller: dict[str, Any], path: Path, where: str) -> dict[str, str]:
    datacenter = poller.get("datacenter", defaults.get("datacenter"))
    labels = {"site": str(datacenter), "datacenter": str(datacenter)} if datacenter is not None else {}
    for source, field in ((defaults, "Defaults"), (poller, where)):
        for item in source.get("labels") or []:
            if not isinstance(item, dict):
                raise InputError(
                    "labels must be a list of key: value maps", file=str(path), field=f"{field}.labels"
                )
            labels.update({str(k): str(v) for k, v in item.items()})
    return labels
