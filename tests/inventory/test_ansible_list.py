"""Ansible inventories as Ansible itself prints them (``ansible-inventory --list``), and INI refused
with the command that converts it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fleet.errors import InputError
from fleet.inventory import Inventory, load_any

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ansible"


def ansible_inventory() -> str | None:
    beside = Path(sys.executable).parent / "ansible-inventory"
    return str(beside) if beside.exists() else shutil.which("ansible-inventory")


def expected_estate(inv: Inventory, folder: Path) -> None:
    """What hosts.ini with its group_vars and host_vars means, whichever form Ansible printed."""
    solo, east, west = (inv.clusters[name] for name in ("cl-solo", "cl-east", "cl-west"))
    assert sorted(inv.clusters) == ["cl-east", "cl-solo", "cl-west"]
    # netapp_hostname, not the bare host name (and not the unevaluated "{{ netapp_hostname }}")
    assert [c.base_url for c in (solo, east, west)] == [
        "https://10.1.0.1:443",
        "https://10.1.0.2:443",
        "https://10.1.0.3:443",
    ]
    assert (solo.username, east.username) == ("solo-admin", "admin")  # host_vars win over group_vars
    assert {c.password for c in inv.clusters.values()} == {"env:ONTAP_PASSWORD"}
    assert inv.partner(east) == west and inv.partner(west) == east and inv.partner(solo) is None
    assert east.groups == ("east", "metro") and west.groups == ("metro", "west") and solo.groups == ()
    assert (east.labels, west.labels) == ({"site": "east"}, {"site": "west"})
    assert east.vars == {"okm_passphrase": "file:secrets/{cluster}.okm", "change_ticket": "CHG-1234"}
    assert solo.tls.verify is True and solo.source == folder / solo.source.name
    assert [c.name for c in inv.select("@metro")] == ["cl-east", "cl-west"]


@pytest.mark.parametrize("name", ["list.json", "list.yml", "export.json"])
def test_ansible_inventory_list_output_imports_with_netapp_hostname(name: str) -> None:
    """`--list` JSON (host variables merged), its `-y` YAML form and `--export` (group vars kept)."""
    inv = load_any(FIXTURES / name)
    expected_estate(inv, FIXTURES)
    assert inv.sources == [FIXTURES / name]


def test_todays_ansible_prints_what_the_fixtures_hold(tmp_path: Path) -> None:
    """A real INI file with group_vars and host_vars, through the installed ansible-inventory."""
    program = ansible_inventory()
    if program is None:
        pytest.skip("ansible-inventory is not installed (pip install -e '.[test]' brings ansible-core)")
    forms = {"list.json": ["--list"], "list.yml": ["--list", "-y"], "export.json": ["--list", "--export"]}
    for name, args in forms.items():
        out = subprocess.run(
            [program, "-i", str(FIXTURES / "hosts.ini"), *args],
            capture_output=True,
            check=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LC_ALL": "C.UTF-8"},
        ).stdout
        (tmp_path / name).write_text(out)
        inv = load_any(tmp_path / name)
        expected_estate(inv, tmp_path)
        assert inv.digest == load_any(FIXTURES / name).digest


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_address_precedence_netapp_then_ontap_then_hostname_then_ansible_host(tmp_path: Path) -> None:
    hosts = {
        "a": {"netapp_hostname": "10.0.0.1", "ontap_hostname": "10.0.0.9", "hostname": "10.0.0.8"},
        "b": {"ontap_hostname": "10.0.0.2", "hostname": "10.0.0.8", "ansible_host": "10.0.0.7"},
        "c": {"hostname": "10.0.0.3", "ansible_host": "10.0.0.7"},
        "d": {"ansible_host": "10.0.0.4"},
        "e": {"http_port": 8443},
        "f": {"hostname": "{{ ontap_address }}", "ontap_address": "10.0.0.6"},
    }
    doc = {
        "_meta": {"hostvars": hosts},
        "all": {"children": ["ungrouped"], "vars": {"netapp_username": "u", "netapp_password": "env:P"}},
        "ungrouped": {"hosts": list(hosts)},
    }
    inv = load_any(write(tmp_path / "inv.json", json.dumps(doc)))
    assert {name: c.base_url for name, c in inv.clusters.items()} == {
        "a": "https://10.0.0.1:443",
        "b": "https://10.0.0.2:443",
        "c": "https://10.0.0.3:443",
        "d": "https://10.0.0.4:443",
        "e": "https://e:8443",
        "f": "https://10.0.0.6:443",
    }


def test_a_jinja_address_fleet_cannot_evaluate_is_refused_naming_the_field(tmp_path: Path) -> None:
    doc = {
        "_meta": {"hostvars": {"h1": {"netapp_hostname": "{{ groups['x'][0] }}.example.com"}}},
        "all": {"vars": {"username": "u", "password": "env:P"}, "hosts": ["h1"]},
    }
    with pytest.raises(InputError) as caught:
        load_any(write(tmp_path / "inv.json", json.dumps(doc)))
    assert caught.value.field == "_meta.hostvars.h1.netapp_hostname" and "Jinja" in str(caught.value)


def test_a_vaulted_password_in_list_output_is_refused_unless_a_reference_is_given(tmp_path: Path) -> None:
    vaulted = {"__ansible_vault": "$ANSIBLE_VAULT;1.1;AES256\n6162636465"}
    doc = {
        "_meta": {"hostvars": {"h1": {"netapp_hostname": "10.0.0.1", "netapp_password": vaulted}}},
        "all": {"vars": {"netapp_username": "u"}, "hosts": ["h1"]},
    }
    path = write(tmp_path / "inv.json", json.dumps(doc))
    with pytest.raises(InputError) as caught:
        load_any(path)
    assert caught.value.field == "_meta.hostvars.h1.netapp_password"
    assert "ANSIBLE_VAULT" not in str(caught.value)
    assert load_any(path, password="env:ONTAP_PASSWORD").clusters["h1"].password == "env:ONTAP_PASSWORD"


@pytest.mark.parametrize(
    "text",
    [
        "[east]\ncl-1 netapp_hostname=10.0.0.1\n",
        "# hosts\ncl-1 netapp_hostname=10.0.0.1\ncl-2 netapp_hostname=10.0.0.2\n",
        "[metro:children]\neast\nwest\n",
    ],
)
def test_an_ini_inventory_gets_the_ansible_inventory_command_as_a_hint(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "hosts", text)
    with pytest.raises(InputError) as caught:
        load_any(path)
    assert str(caught.value) == (
        f"{path}: this looks like an Ansible INI inventory: run "
        f"`ansible-inventory -i {path} --list > inv.json` and pass that"
    )


def test_the_real_ini_fixture_gets_the_hint_too() -> None:
    with pytest.raises(InputError, match=r"ansible-inventory -i .*hosts\.ini --list > inv\.json"):
        load_any(FIXTURES / "hosts.ini")


def test_list_json_is_read_as_json_a_repeated_key_or_a_syntax_error_names_the_file_and_line(
    tmp_path: Path,
) -> None:
    twice = write(tmp_path / "twice.json", '{"all": {"hosts": ["h1"]}, "all": {"hosts": ["h2"]}}')
    with pytest.raises(InputError, match="JSON error: duplicate key 'all'"):
        load_any(twice)
    broken = write(tmp_path / "broken.json", '{\n  "all": {"hosts": ["h1"],,}\n}')
    with pytest.raises(InputError) as caught:
        load_any(broken)
    assert caught.value.file == str(broken) and "line 2" in str(caught.value)
    text = "{clusters: [{name: n1, address: h, username: u, password: 'env:P'}]}"
    flow = write(tmp_path / "flow.yml", text)
    assert list(load_any(flow).clusters) == ["n1"]  # YAML may start with "{" too
