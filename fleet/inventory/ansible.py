"""Import an Ansible YAML inventory (the kind used with the ``netapp.ontap`` collection).

Assumptions:

- The document is ``all: {hosts, children, vars}``; other top-level groups count as children of
  ``all``. A host's variables follow Ansible's precedence: ``all`` vars, then group vars from the
  outermost to the innermost group (same depth: by group name), then host vars; later wins.
- Address: ``hostname`` (netapp.ontap's option), else ``ansible_host``, else the host's name;
  ``http_port`` becomes the port. fleet always speaks HTTPS (``https: false`` is ignored).
- Credentials: ``username`` / ``netapp_username`` / ``ansible_user`` and ``password`` /
  ``netapp_password`` / ``ansible_password``. A password must be a secret reference; the Jinja
  forms ``{{ lookup('env', 'NAME') }}`` and ``{{ lookup('file', 'PATH') }}`` are translated to
  ``env:NAME`` and ``file:PATH``. Vault-encrypted (``!vault``) and other literal values are refused
  unless ``password=`` gives a secret reference to use instead.
- ``validate_certs`` sets TLS verification, ``ca_file`` the CA bundle; ``labels`` (a mapping) and
  ``metrocluster_partner`` map directly; every Ansible group the host belongs to becomes a fleet
  group (so ``--limit @east`` works). Other scalar variables, except ``ansible_*``, become ``vars``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fleet.errors import InputError
from fleet.inventory.build import ClusterEntry, Layer, Parts, build_inventory
from fleet.inventory.document import ClusterDoc, SettingsDoc, parse_document
from fleet.inventory.model import Inventory
from fleet.inventory.yamlfile import StrictLoader, read_yaml
from fleet.secrets.refs import is_reference

_ADDRESS_KEYS = ("hostname", "ansible_host")
_USER_KEYS = ("username", "netapp_username", "ansible_user")
_PASSWORD_KEYS = ("password", "netapp_password", "ansible_password")
_CONSUMED = frozenset(
    {
        *_ADDRESS_KEYS,
        *_USER_KEYS,
        *_PASSWORD_KEYS,
        "http_port",
        "https",
        "validate_certs",
        "ca_file",
        "labels",
    }
    | {"metrocluster_partner"}
)
_LOOKUP = re.compile(r"""^\{\{\s*lookup\(\s*['"](env|file)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*\}\}$""")


class Vaulted:
    """Stands in for an ``!vault`` value, which fleet cannot (and should not) decrypt."""


class AnsibleLoader(StrictLoader):
    """StrictLoader that reads ``!vault`` values as ``Vaulted`` instead of failing to parse."""


AnsibleLoader.add_constructor("!vault", lambda _loader, _node: Vaulted())


def looks_like_ansible(raw: Any) -> bool:
    if not isinstance(raw, dict) or not raw:
        return False
    return "all" in raw or all(isinstance(v, dict) and {"hosts", "children"} & set(v) for v in raw.values())


def load_ansible_yaml(path: Path, *, password: str | None = None) -> Inventory:
    """An Inventory of the hosts in an Ansible YAML inventory."""
    path = Path(path)
    raw = read_yaml(path, AnsibleLoader)
    if not looks_like_ansible(raw):
        raise InputError("not an Ansible YAML inventory: no 'all' group", file=str(path), field="all")
    top = raw.get("all") or {}
    extra_groups = {name: group for name, group in raw.items() if name != "all"}
    root = {**top, "children": {**(top.get("children") or {}), **extra_groups}}

    hosts: dict[str, list[tuple[int, str, dict[str, Any], str]]] = {}  # host -> (depth, group, vars, where)
    host_vars: dict[str, list[tuple[dict[str, Any], str]]] = {}
    groups: dict[str, str] = {}
    _walk(root, "all", "all", 0, hosts, host_vars, groups, path)

    entries = []
    for host, memberships in hosts.items():
        layers = sorted(memberships, key=lambda m: (m[0], m[1]))
        merged: dict[str, Any] = {}
        origin: dict[str, str] = {}
        for _, _, group_vars, where in [*layers, *((0, "", v, w) for v, w in host_vars.get(host, []))]:
            merged.update(group_vars)
            origin.update(dict.fromkeys(group_vars, where))
        member_of = sorted({g for _, g, _, _ in memberships if g not in ("all", "ungrouped")})
        where = f"hosts.{host}"
        doc = _cluster_doc(host, merged, origin, member_of, path, password)
        entries.append(ClusterEntry(where, path, parse_document(doc, ClusterDoc, file=path, prefix=where)))
    group_layers = {name: Layer(where, path, SettingsDoc()) for name, where in groups.items()}
    return build_inventory(Parts(groups=group_layers, clusters=entries, sources=[path]))


def _walk(
    group: Any,
    name: str,
    where: str,
    depth: int,
    hosts: dict[str, list[tuple[int, str, dict[str, Any], str]]],
    host_vars: dict[str, list[tuple[dict[str, Any], str]]],
    groups: dict[str, str],
    path: Path,
) -> None:
    group = group or {}
    if not isinstance(group, dict):
        raise InputError("a group must be a mapping of hosts, children and vars", file=str(path), field=where)
    if name not in ("all", "ungrouped"):
        groups.setdefault(name, where)
    group_vars = _mapping(group.get("vars"), path, f"{where}.vars")
    for host, own in _mapping(group.get("hosts"), path, f"{where}.hosts").items():
        hosts.setdefault(str(host), []).append((depth, name, group_vars, f"{where}.vars"))
        if own:
            host_vars.setdefault(str(host), []).append(
                (_mapping(own, path, f"{where}.hosts.{host}"), f"{where}.hosts.{host}")
            )
    for child, body in _mapping(group.get("children"), path, f"{where}.children").items():
        _walk(body, str(child), f"{where}.children.{child}", depth + 1, hosts, host_vars, groups, path)
        # Hosts of a child group inherit this group's vars at this group's depth.
        for memberships in hosts.values():
            if any(g == str(child) for _, g, _, _ in memberships) and not any(
                g == name for _, g, _, _ in memberships
            ):
                memberships.append((depth, name, group_vars, f"{where}.vars"))


def _mapping(value: Any, path: Path, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError("expected a mapping", file=str(path), field=where)
    return value


def _first(merged: dict[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for key in keys:
        if merged.get(key) is not None:
            return key, merged[key]
    return None, None


def _cluster_doc(
    host: str,
    merged: dict[str, Any],
    origin: dict[str, str],
    member_of: list[str],
    path: Path,
    override: str | None,
) -> dict[str, Any]:
    _, address = _first(merged, _ADDRESS_KEYS)
    address = str(address or host)
    if merged.get("http_port") is not None and "://" not in address:
        address = f"{address}:{merged['http_port']}"
    _, username = _first(merged, _USER_KEYS)
    password_key, password = _first(merged, _PASSWORD_KEYS)
    ref = _password_ref(password, override)
    if ref is None and password is not None:
        raise InputError(
            "a literal or vault-encrypted password is refused; use a secret reference (env:, file:, cmd:) "
            "or pass one to the importer",
            file=str(path),
            field=f"{origin[password_key or '']}.{password_key}",
        )
    tls: dict[str, Any] = {}
    if merged.get("validate_certs") is not None:
        tls["verify"] = merged["validate_certs"]
    if merged.get("ca_file") is not None:
        tls["ca_file"] = merged["ca_file"]
    extra = {
        key: value
        for key, value in merged.items()
        if key not in _CONSUMED
        and not key.startswith("ansible_")
        and isinstance(value, str | int | float | bool)
    }
    return {
        "name": host,
        "address": address,
        "username": username,
        "password": ref,
        "tls": tls,
        "labels": merged.get("labels") or {},
        "vars": {key: str(value) for key, value in extra.items()},
        "groups": member_of,
        "metrocluster_partner": merged.get("metrocluster_partner"),
    }


def _password_ref(password: Any, override: str | None) -> str | None:
    if isinstance(password, str):
        if is_reference(password):
            return password
        lookup = _LOOKUP.match(password.strip())
        if lookup:
            return f"{lookup.group(1)}:{lookup.group(2)}"
    return override
