"""Peer: NetApp's Ansible module ``netapp.ontap.na_ontap_security_key_manager``, as a playbook author uses it.

Generates, in the run's work folder, an inventory (per-host port, password and current passphrase;
0600, never printed, tagged ``!unsafe`` because generated passphrases contain ``{%``/``{{`` that
Ansible would otherwise template) and a playbook of two plays, ONTAP's MetroCluster rule written in
Ansible: play 1 changes the passphrase (``onboard: {from_passphrase, passphrase}``) on standalone
clusters and on MetroCluster site A (the lower name); play 2 runs on site B only where its partner
succeeded, with ``onboard: {passphrase: NEW, synchronize: true}`` (the module's PATCH synchronize with
``existing_passphrase`` = NEW). Only the inventory's ``onboard`` group is targeted, as an author would
select from a CMDB; clusters outside it are counted as skipped. HTTPS to ``127.0.0.1:<http_port>``
with ``validate_certs: true``: the module calls requests with ``verify=True``, so
``REQUESTS_CA_BUNDLE`` (set for the play) points it at the simulator's CA.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.sim_inventory import Target, load_targets, units


class Unsafe(str):
    """A secret value Ansible must never template: generated passphrases contain ``{%``, ``{#``, ``{{``."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    Unsafe, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value), style="'")
)

MODULE = "netapp.ontap.na_ontap_security_key_manager"
RECAP_LINE = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def ansible_playbook() -> Path | None:
    """The venv's ansible-playbook, else one on PATH; None when Ansible is not installed."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    if beside.exists():
        return beside
    found = shutil.which("ansible-playbook")
    return Path(found) if found else None


def _connection(port_var: str = "ontap_port") -> dict[str, Any]:
    return {
        "hostname": "127.0.0.1",
        "http_port": f"{{{{ {port_var} }}}}",
        "https": True,
        "validate_certs": True,
        "use_rest": "always",
        "username": "{{ ontap_username }}",
        "password": "{{ ontap_password }}",
    }


def playbook(ca_file: Path) -> list[dict[str, Any]]:
    common = {
        "gather_facts": False,
        "connection": "local",
        "environment": {"REQUESTS_CA_BUNDLE": str(ca_file)},
    }
    rotate = {
        "name": "Change the onboard passphrase",
        MODULE: {
            **_connection(),
            "onboard": {"from_passphrase": "{{ okm_old }}", "passphrase": "{{ okm_new }}"},
        },
        "register": "rotation",
    }
    partner = "hostvars[metrocluster_partner].rotation"
    partner_ok = f"{partner} is defined and {partner} is succeeded"
    sync = {
        "name": "Sync the partner site with the NEW passphrase",
        MODULE: {**_connection(), "onboard": {"passphrase": "{{ okm_new }}", "synchronize": True}},
        "when": partner_ok,
    }
    return [
        {"name": "Rotate standalone clusters and MetroCluster site A", "hosts": "standalone:mcc_a", **common,
         "tasks": [rotate]},
        {"name": "MetroCluster site B: partner sync, only where site A rotated", "hosts": "mcc_b", **common,
         "tasks": [sync]},
    ]  # fmt: skip


def inventory(targets: list[Target], new: str, interpreter: str) -> tuple[dict[str, Any], int]:
    """The Ansible inventory (secrets inside) and how many clusters it leaves out (not on OKM)."""
    onboard = [t for t in targets if t.okm_file is not None]
    groups: dict[str, dict[str, Any]] = {
        "standalone": {"hosts": {}},
        "mcc_a": {"hosts": {}},
        "mcc_b": {"hosts": {}},
    }
    for unit in units(onboard):
        for index, target in enumerate(unit):
            host: dict[str, Any] = {
                "ontap_port": target.port,
                "ontap_username": target.username,
                "ontap_password": Unsafe(target.password()),
                "okm_old": Unsafe(target.okm_passphrase()),
            }
            if len(unit) == 2:
                host["metrocluster_partner"] = target.partner
            group = "standalone" if len(unit) == 1 else ("mcc_a", "mcc_b")[index]
            groups[group]["hosts"][target.name] = host
    document = {
        "all": {
            "vars": {
                "okm_new": Unsafe(new),
                "ansible_python_interpreter": interpreter,
                "ansible_connection": "local",
            },
            "children": groups,
        }
    }
    return document, len(targets) - len(onboard)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


@dataclass(frozen=True, slots=True)
class AnsibleProject:
    folder: Path
    playbook: Path
    inventory: Path
    skipped: int  # clusters left out of the plays (no onboard key manager)

    def command(self, executable: Path, forks: int) -> list[str]:
        return [str(executable), "-i", str(self.inventory), "--forks", str(forks), str(self.playbook)]

    def env(self) -> dict[str, str]:
        """Ansible's own files stay in the work folder; nothing is read from ~/.ansible or an ansible.cfg."""
        env = dict(os.environ)
        env.update(
            ANSIBLE_CONFIG=str(self.folder / "none.cfg"),
            ANSIBLE_HOME=str(self.folder / "home"),
            ANSIBLE_LOCAL_TEMP=str(self.folder / "tmp"),
            ANSIBLE_REMOTE_TEMP=str(self.folder / "tmp"),
            ANSIBLE_RETRY_FILES_ENABLED="false",
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_HOST_KEY_CHECKING="false",
            ANSIBLE_DEPRECATION_WARNINGS="false",
        )
        return env


def write_project(workdir: Path, sim_inventory: Path, new_file: Path, ca_file: Path) -> AnsibleProject:
    folder = workdir / "ansible"
    folder.mkdir(mode=0o700, exist_ok=True)
    document, skipped = inventory(load_targets(sim_inventory), new_file.read_text().strip(), sys.executable)
    inv = folder / "inventory.yml"
    _write_private(inv, yaml.dump(document, Dumper=_Dumper, sort_keys=False))
    book = folder / "rotate.yml"
    _write_private(book, yaml.safe_dump(playbook(ca_file), sort_keys=False, width=200))
    return AnsibleProject(folder=folder, playbook=book, inventory=inv, skipped=skipped)


def recap(output: str) -> dict[str, int]:
    """Hosts per outcome from the PLAY RECAP: failed (or unreachable), changed, ok-but-unchanged."""
    counts = {"hosts": 0, "changed": 0, "failed": 0, "unchanged": 0}
    in_recap = False
    for line in output.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        match = RECAP_LINE.match(line) if in_recap else None
        if match is None:
            continue
        _, _ok, changed, unreachable, failed = match.groups()
        counts["hosts"] += 1
        if int(failed) or int(unreachable):
            counts["failed"] += 1
        elif int(changed):
            counts["changed"] += 1
        else:
            counts["unchanged"] += 1
    return counts


def summary_line(project: AnsibleProject, output: str) -> str:
    return json.dumps({"tool": "ansible", **recap(output), "skipped": project.skipped})
