"""Import an Ansible inventory (the kind used with the ``netapp.ontap`` collection).

Two forms are read: a YAML inventory file, and what ``ansible-inventory -i SOURCE --list`` prints
(JSON, or YAML with ``-y``). The second is how INI files, ``group_vars``/``host_vars`` folders and
inventory plugins come in: Ansible resolves them, fleet reads the result. An INI file given
directly is refused with that command as the hint (``looks_like_ini``).

Assumptions:

- YAML: the document is ``all: {hosts, children, vars}``; other top-level groups count as children
  of ``all``. ``--list`` JSON: top-level groups with ``hosts``/``children`` lists (and ``vars`` with
  ``--export``), host variables in ``_meta.hostvars``. A host's variables follow Ansible's
  precedence: ``all`` vars, then group vars from the outermost to the innermost group (same depth:
  by group name), then host vars; later wins.
- Address: the first of ``netapp_hostname`` (what NetApp's roles and the collection's examples keep
  in the inventory), ``ontap_hostname``, ``hostname`` (the modules' option), ``ansible_host``, else
  the host's name; ``http_port`` becomes the port. fleet always speaks HTTPS (``https: false`` is
  ignored). A value ``{{ other_var }}`` is followed once; any other Jinja is refused, naming the field.
- Credentials, in the same order: ``netapp_username`` / ``ontap_username`` / ``username`` /
  ``ansible_user`` and ``netapp_password`` / ``ontap_password`` / ``password`` /
  ``ansible_password``. A password must be a secret reference; the Jinja forms
  ``{{ lookup('env', 'NAME') }}`` and ``{{ lookup('file', 'PATH') }}`` are translated to
  ``env:NAME`` and ``file:PATH``. Vault-encrypted (``!vault``) and other literal values, or no
  password at all, are refused unless ``password=`` (``--import-password REF``) gives a secret
  reference to use instead.
- ``validate_certs`` sets TLS verification, ``ca_file`` the CA bundle; ``labels`` (a mapping) and
  ``metrocluster_partner`` map directly; every Ansible group the host belongs to becomes a fleet
  group (so ``--limit @east`` works). Other scalar variables, except ``ansible_*``, become ``vars``.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.errors import InputError
from fleet.inventory.build import ClusterEntry, Layer, Parts, build_inventory
from fleet.inventory.document import ClusterDoc, SettingsDoc, parse_document
from fleet.inventory.model import Inventory
from fleet.inventory.yamlfile import StrictLoader, read_yaml
from fleet.secrets.refs import is_reference

_ADDRESS_KEYS = ("netapp_hostname", "ontap_hostname", "hostname", "ansible_host")
_USER_KEYS = ("netapp_username", "ontap_username", "username", "ansible_user")
_PASSWORD_KEYS = ("netapp_password", "ontap_password", "password", "ansible_password")
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
_VARIABLE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
_LOOKUP = re.compile(r"""^\{\{\s*lookup\(\s*['"](env|file)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*\}\}$""")


class Vaulted:
    """Stands in for an ``!vault`` value, which fleet cannot (and should not) decrypt."""


class AnsibleLoader(StrictLoader):
    """StrictLoader that reads ``!vault`` values as ``Vaulted`` instead of failing to parse."""


AnsibleLoader.add_constructor("!vault", lambda _loader, _node: Vaulted())


def looks_like_ansible(raw: Any) -> bool:
    if not isinstance(raw, dict) or not raw:
        return False
    if "all" in raw or "_meta" in raw:
        return True
    return all(isinstance(v, dict) and {"hosts", "children"} & set(v) for v in raw.values())


_INI_SECTION = re.compile(r"^\[[^\[\]\s]+\]\s*([;#].*)?$")
_INI_HOST = re.compile(r"^[^\s=:#;\[\]]+(\s+[A-Za-z_][A-Za-z0-9_]*=\S*)+\s*([;#].*)?$")


def looks_like_ini(path: Path) -> bool:
    """An Ansible INI inventory: a ``[group]`` section line, or a first entry ``host key=value``.

    Asked only of a file that is not a YAML mapping, so a YAML inventory is never taken for one.
    """
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    lines = [line.strip() for line in text.splitlines()]
    entries = [line for line in lines if line and not line.startswith(("#", ";"))]
    return bool(entries) and (
        any(_INI_SECTION.match(line) for line in entries) or bool(_INI_HOST.match(entries[0]))
    )


def ini_hint(path: Path) -> InputError:
    """The one line an INI inventory gets: Ansible itself turns it (with group_vars) into JSON."""
    return InputError(
        "this looks like an Ansible INI inventory: run "
        f"`ansible-inventory -i {shlex.quote(str(path))} --list > inv.json` and pass that",
        file=str(path),
    )


def load_ansible_yaml(path: Path, *, password: str | None = None) -> Inventory:
    """An Inventory of the hosts in an Ansible inventory: YAML, or ``ansible-inventory --list`` JSON."""
    return build_inventory(ansible_parts(path, password=password))


def ansible_parts(path: Path, *, password: str | None = None, raw: Any = None) -> Parts:
    """What an Ansible inventory defines, as inventory parts (before inheritance and checks).

    ``raw``: the document, when the caller has read it already (JSON); else the file is read as YAML.
    """
    path = Path(path)
    if raw is None:
        raw = read_yaml(path, AnsibleLoader)  # JSON is YAML too: ``--list`` output reads either way
    if not looks_like_ansible(raw):
        raise InputError("not an Ansible YAML inventory: no 'all' group", file=str(path), field="all")
    tree = _tree_from_list(raw, path) if _is_list_output(raw) else _tree_from_yaml(raw, path)
    groups_of = tree.precedence()
    entries = []
    for host in tree.hosts:
        member_of = groups_of(host)
        merged: dict[str, Any] = {}
        origin: dict[str, str] = {}
        layers = [(vars_, where) for name in member_of for vars_, where in tree.groups[name].vars]
        for group_vars, where in [*layers, *tree.host_vars.get(host, [])]:
            merged.update(group_vars)
            origin.update(dict.fromkeys(group_vars, where))
        where = tree.host_where(host)
        groups = sorted(name for name in member_of if name not in ("all", "ungrouped"))
        doc = _cluster_doc(host, merged, origin, groups, path, password)
        entries.append(ClusterEntry(where, path, parse_document(doc, ClusterDoc, file=path, prefix=where)))
    group_layers = {
        name: Layer(group.where, path, SettingsDoc())
        for name, group in tree.groups.items()
        if name not in ("all", "ungrouped")
    }
    return Parts(groups=group_layers, clusters=entries, sources=[path])


VarsLayer = tuple[dict[str, Any], str]  # variables, and where they are written (for messages)


@dataclass(slots=True)
class _Group:
    where: str  # where the group is (first) defined
    vars: list[VarsLayer] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Tree:
    """Groups by name, each host's own groups and variables, and hosts in the order first named."""

    list_output: bool
    groups: dict[str, _Group] = field(default_factory=dict)
    host_groups: dict[str, set[str]] = field(default_factory=dict)  # groups naming the host itself
    host_vars: dict[str, list[VarsLayer]] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)

    def group(self, name: str, where: str) -> _Group:
        return self.groups.setdefault(name, _Group(where))

    def add_host(self, group: str, host: str) -> None:
        if host not in self.host_vars:
            self.host_vars[host] = []
            self.host_groups[host] = set()
            self.hosts.append(host)
        self.host_groups[host].add(group)

    def host_where(self, host: str) -> str:
        return f"_meta.hostvars.{host}" if self.list_output else f"hosts.{host}"

    def precedence(self) -> Callable[[str], list[str]]:
        """host → every group it is in, directly or through a child group, in Ansible's precedence
        order: ``all`` first, then by depth (a child after its parents), same depth by name.
        Parents, depths and ancestors are worked out once per group, not once per host."""
        parents: dict[str, set[str]] = {}
        for name, group in self.groups.items():
            for child in group.children:
                parents.setdefault(child, set()).add(name)
        depth: dict[str, int] = {"all": 0}
        above: dict[str, frozenset[str]] = {}

        def depth_of(name: str, seen: frozenset[str] = frozenset()) -> int:
            if name not in depth:
                upper = [p for p in parents.get(name, ()) if p not in seen]
                depth[name] = max((depth_of(p, seen | {name}) + 1 for p in upper), default=1)
            return depth[name]

        def ancestors(name: str, seen: frozenset[str] = frozenset()) -> frozenset[str]:
            if name not in above:
                found = {name}
                for parent in parents.get(name, ()):
                    if parent not in seen:
                        found |= ancestors(parent, seen | {name})
                above[name] = frozenset(found)
            return above[name]

        @functools.cache
        def ordered(direct: frozenset[str]) -> list[str]:
            member = {"all"}.union(*(ancestors(name) for name in direct))
            return sorted(member, key=lambda name: (depth_of(name), name))

        return lambda host: ordered(frozenset(self.host_groups.get(host, ())))


def _is_list_output(raw: dict[str, Any]) -> bool:
    """``ansible-inventory --list`` JSON: ``_meta.hostvars``, and groups listing hosts and children."""
    return "_meta" in raw or any(
        isinstance(body, dict) and isinstance(body.get(key), list)
        for body in raw.values()
        for key in ("hosts", "children")
    )


def _tree_from_yaml(raw: dict[str, Any], path: Path) -> _Tree:
    """A YAML inventory: ``all: {hosts, children, vars}``; other top-level groups are children of all."""
    top = raw.get("all") or {}
    if not isinstance(top, dict):
        raise InputError("a group must be a mapping of hosts, children and vars", file=str(path), field="all")
    extra_groups = {name: group for name, group in raw.items() if name != "all"}
    root = {**top, "children": {**_mapping(top.get("children"), path, "all.children"), **extra_groups}}
    tree = _Tree(list_output=False)
    _walk(tree, root, "all", "all", path)
    return tree


def _walk(tree: _Tree, body: Any, name: str, where: str, path: Path) -> None:
    body = body or {}
    if not isinstance(body, dict):
        raise InputError("a group must be a mapping of hosts, children and vars", file=str(path), field=where)
    group = tree.group(name, where)
    group_vars = _mapping(body.get("vars"), path, f"{where}.vars")
    if group_vars:
        group.vars.append((group_vars, f"{where}.vars"))
    for host, own in _mapping(body.get("hosts"), path, f"{where}.hosts").items():
        tree.add_host(name, str(host))
        if own:
            tree.host_vars[str(host)].append(
                (_mapping(own, path, f"{where}.hosts.{host}"), f"{where}.hosts.{host}")
            )
    for child, child_body in _mapping(body.get("children"), path, f"{where}.children").items():
        if str(child) not in group.children:
            group.children.append(str(child))
        _walk(tree, child_body, str(child), f"{where}.children.{child}", path)


def _tree_from_list(raw: dict[str, Any], path: Path) -> _Tree:
    """``ansible-inventory --list`` JSON: top-level groups with ``hosts``/``children`` name lists and
    ``vars`` (with ``--export``), host variables under ``_meta.hostvars``."""
    tree = _Tree(list_output=True)
    meta = _mapping(raw.get("_meta"), path, "_meta")
    for name, body in raw.items():
        if name == "_meta":
            continue
        body = _mapping(body, path, str(name))
        group = tree.group(str(name), str(name))
        group_vars = _mapping(body.get("vars"), path, f"{name}.vars")
        if group_vars:
            group.vars.append((_unvault(group_vars), f"{name}.vars"))
        children = _names(body.get("children"), path, f"{name}.children")
        group.children.extend(str(child) for child in children)
        group.hosts.extend(str(host) for host in _names(body.get("hosts"), path, f"{name}.hosts"))
    seen: set[str] = set()

    def visit(name: str) -> None:  # hosts in the order ``all`` reaches them, depth first
        if name in seen or name not in tree.groups:
            return
        seen.add(name)
        for host in tree.groups[name].hosts:
            tree.add_host(name, host)
        for child in tree.groups[name].children:
            visit(child)

    for name in ["all", *tree.groups]:
        visit(name)
    for host, own in _mapping(meta.get("hostvars"), path, "_meta.hostvars").items():
        where = f"_meta.hostvars.{host}"
        if str(host) not in tree.host_vars:
            tree.group("ungrouped", "ungrouped")
            tree.add_host("ungrouped", str(host))
        tree.host_vars[str(host)].append((_unvault(_mapping(own, path, where)), where))
    return tree


def _names(value: Any, path: Path, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError("expected a list of names", file=str(path), field=where)
    return value


def _unvault(variables: dict[str, Any]) -> dict[str, Any]:
    """``--list`` writes an ``!vault`` value as ``{"__ansible_vault": "..."}``: the same refusal applies."""
    return {
        key: Vaulted() if isinstance(value, dict) and "__ansible_vault" in value else value
        for key, value in variables.items()
    }


def _mapping(value: Any, path: Path, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError("expected a mapping", file=str(path), field=where)
    return value


def _first(merged: dict[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    """The first of ``keys`` set, and its value with one ``{{ other_var }}`` indirection followed."""
    for key in keys:
        value = merged.get(key)
        if value is None:
            continue
        variable = _VARIABLE.match(value.strip()) if isinstance(value, str) else None
        if variable and variable.group(1) != key and merged.get(variable.group(1)) is not None:
            value = merged[variable.group(1)]
        return key, value
    return None, None


def _plain(
    merged: dict[str, Any], origin: dict[str, str], keys: tuple[str, ...], path: Path
) -> tuple[str | None, Any]:
    """``_first``, refusing a value that is still a Jinja template (fleet does not evaluate Jinja)."""
    key, value = _first(merged, keys)
    if isinstance(value, str) and "{{" in value:
        raise InputError(
            "a Jinja template fleet cannot evaluate; give the value itself, "
            "or a {{ variable }} that holds it",
            file=str(path),
            field=f"{origin[key or '']}.{key}",
        )
    return key, value


def _cluster_doc(
    host: str,
    merged: dict[str, Any],
    origin: dict[str, str],
    member_of: list[str],
    path: Path,
    override: str | None,
) -> dict[str, Any]:
    _, address = _plain(merged, origin, _ADDRESS_KEYS, path)
    address = str(address or host)
    if merged.get("http_port") is not None and "://" not in address:
        address = f"{address}:{merged['http_port']}"
    _, username = _plain(merged, origin, _USER_KEYS, path)
    password_key, password = _first(merged, _PASSWORD_KEYS)
    ref = _password_ref(password, override)
    if ref is None and password is not None:
        raise InputError(
            "a literal or vault-encrypted password is refused; use a secret reference (env:, file:, cmd:) "
            "or give one with --import-password REF",
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
