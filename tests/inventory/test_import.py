"""Importing NetApp Harvest and Ansible YAML inventories into the same model."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fleet.errors import InputError
from fleet.inventory import load_ansible_yaml, load_any, load_harvest

HARVEST = """
Exporters:
  prom: {exporter: Prometheus, port: 12990}
Defaults:
  collectors: [Rest, RestPerf]
  exporters: [prom]
  username: harvest
  credentials_script: {path: ./get-pass.sh, schedule: 3h}
  use_insecure_tls: false
  ca_cert: certs/ca.pem
  labels:
    - org: storage
Pollers:
  unix: {datacenter: local, collectors: [Unix]}
  sgrid: {addr: 10.0.0.9, collectors: [StorageGrid], password: 'env:SG'}
  cl-east-1:
    datacenter: dc-east
    addr: 10.0.0.1
    labels:
      - site: east
  cl-lab:
    addr: 10.0.0.2
    username: labuser
    password: env:LAB_PASSWORD
    use_insecure_tls: true
"""


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_harvest_pollers_become_clusters(tmp_path: Path) -> None:
    inv = load_harvest(write(tmp_path / "harvest.yml", HARVEST))
    assert list(inv.clusters) == ["cl-east-1", "cl-lab"]  # Unix and StorageGrid pollers skipped
    east, lab = inv.clusters["cl-east-1"], inv.clusters["cl-lab"]
    assert east.base_url == "https://10.0.0.1:443" and east.username == "harvest"
    assert east.password == "script:./get-pass.sh 10.0.0.1 harvest"
    assert east.labels == {"org": "storage", "datacenter": "dc-east", "site": "east"}
    assert east.tls.verify is True and east.tls.ca_file == (tmp_path / "certs/ca.pem").resolve()
    assert (lab.username, lab.password, lab.tls.verify) == ("labuser", "env:LAB_PASSWORD", False)


def test_harvest_literal_password_is_refused_unless_a_reference_is_given(tmp_path: Path) -> None:
    path = write(
        tmp_path / "harvest.yml", "Pollers:\n  c1: {addr: h1, username: u, password: hunter2-literal}\n"
    )
    with pytest.raises(InputError) as caught:
        load_harvest(path)
    assert caught.value.field == "Pollers.c1.password" and "hunter2" not in str(caught.value)
    inv = load_harvest(path, password="env:ONTAP_PASSWORD")
    assert inv.clusters["c1"].password == "env:ONTAP_PASSWORD"
    assert "hunter2" not in inv.model_dump_json()


ANSIBLE = """
all:
  vars:
    username: admin
    password: "{{ lookup('env', 'ONTAP_PASSWORD') }}"
    validate_certs: true
    ansible_connection: local
  hosts:
    cl-solo: {hostname: 10.1.0.1}
  children:
    east:
      vars: {validate_certs: false, okm_passphrase: "file:okm/{cluster}", owner: team-a}
      hosts:
        cl-a: {hostname: 10.1.0.2, http_port: 8443, metrocluster_partner: cl-b}
      children:
        east_lab:
          vars: {username: labadmin}
          hosts:
            cl-c: {ansible_host: 10.1.0.4, labels: {tier: bronze}}
    west:
      hosts:
        cl-b: {hostname: 10.1.0.3, metrocluster_partner: cl-a, password: env:WEST_PASSWORD}
"""


def test_ansible_hosts_inherit_group_vars_and_become_clusters(tmp_path: Path) -> None:
    inv = load_ansible_yaml(write(tmp_path / "hosts.yml", ANSIBLE))
    solo, a, b, c = (inv.clusters[n] for n in ("cl-solo", "cl-a", "cl-b", "cl-c"))
    assert solo.base_url == "https://10.1.0.1:443" and solo.password == "env:ONTAP_PASSWORD"
    assert a.base_url == "https://10.1.0.2:8443" and a.tls.verify is False and a.groups == ("east",)
    assert a.vars == {"okm_passphrase": "file:okm/{cluster}", "owner": "team-a"}
    assert inv.partner(a) == b and b.password == "env:WEST_PASSWORD"
    assert c.username == "labadmin" and c.groups == ("east", "east_lab") and c.labels == {"tier": "bronze"}
    assert [x.name for x in inv.select("@east")] == ["cl-a", "cl-c", "cl-b"]  # file order


def test_ansible_vault_password_is_refused_with_its_location(tmp_path: Path) -> None:
    text = (
        "all:\n  vars:\n    password: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      6162\n"
        "  hosts: {h1: {username: u}}\n"
    )
    with pytest.raises(InputError) as caught:
        load_ansible_yaml(write(tmp_path / "hosts.yml", text))
    assert caught.value.field == "all.vars.password" and "vault" in str(caught.value)


def test_load_any_picks_the_format_by_content(tmp_path: Path) -> None:
    native = write(
        tmp_path / "inv.yml", "clusters: [{name: n1, address: h, username: u, password: 'env:P'}]\n"
    )
    assert list(load_any(native).clusters) == ["n1"]
    assert list(load_any(write(tmp_path / "harvest.yml", HARVEST)).clusters) == ["cl-east-1", "cl-lab"]
    assert "cl-solo" in load_any(write(tmp_path / "hosts.yml", ANSIBLE)).clusters


# --- Harvest: NetApp's own files (tests/fixtures/harvest/SOURCES.md) --------------------------------

HARVEST_FILES = Path(__file__).parent.parent / "fixtures" / "harvest"


def test_harvest_docs_credentials_script_example_imports_without_a_username() -> None:
    """Harvest has no default user name: the script is called with the address alone, as Harvest
    calls it, and may name the user itself."""
    inv = load_any(HARVEST_FILES / "harvest_docs_credentials_script_example.yml")
    ontap1 = inv.clusters["ontap1"]
    assert (ontap1.base_url, ontap1.username) == ("https://10.1.1.1:443", None)
    assert ontap1.password == "script:./get_pass 10.1.1.1"
    assert ontap1.labels == {"site": "rtp", "datacenter": "rtp"}
    assert ontap1.tls.verify is True


def test_harvests_own_harvest_yml_has_no_ontap_poller_and_says_which_it_skipped() -> None:
    """The file NetApp ships holds only the local Unix poller (its ONTAP examples are comments)."""
    with pytest.raises(InputError) as caught:
        load_any(HARVEST_FILES / "harvest_harvest.yml")
    assert caught.value.file == str(HARVEST_FILES / "harvest_harvest.yml")
    assert caught.value.field == "Pollers" and "unix (no ONTAP collector)" in str(caught.value)


def test_harvest_datacenter_is_the_site_label_unless_labels_name_a_site(tmp_path: Path) -> None:
    text = """
    Defaults: {username: u, password: 'env:P', datacenter: dc-default}
    Pollers:
      a: {addr: 10.0.0.1, datacenter: dc-a}
      b: {addr: 10.0.0.2}
      c: {addr: 10.0.0.3, datacenter: dc-c, labels: [{site: c-site}]}
    """
    inv = load_any(write(tmp_path / "harvest.yml", text))
    assert {name: c.labels.get("site") for name, c in inv.clusters.items()} == {
        "a": "dc-a",
        "b": "dc-default",
        "c": "c-site",
    }
    assert [c.name for c in inv.select("site=dc-a")] == ["a"]


def test_harvest_script_gets_the_user_name_when_there_is_one_and_import_password_leaves_it(
    tmp_path: Path,
) -> None:
    text = """
    Defaults: {username: harvest, credentials_script: {path: ./get_pass}}
    Pollers:
      a: {addr: 10.0.0.1}
      b: {addr: 10.0.0.2, password: literal-b-secret}
      c: {addr: 10.0.0.3, credentials_file: creds.yml, credentials_script: null}
    """
    path = write(tmp_path / "harvest.yml", text)
    with pytest.raises(InputError) as caught:
        load_any(path)
    assert caught.value.field == "Pollers.b.password" and "--import-password" in str(caught.value)
    assert "literal-b-secret" not in str(caught.value)
    inv = load_any(path, password="env:ONTAP_PASSWORD")
    assert inv.clusters["a"].password == "script:./get_pass 10.0.0.1 harvest"  # the script stays
    assert inv.clusters["b"].password == inv.clusters["c"].password == "env:ONTAP_PASSWORD"
    assert "literal-b-secret" not in inv.model_dump_json()


def test_a_fleet_inventory_refuses_an_import_password(tmp_path: Path) -> None:
    native = write(
        tmp_path / "inv.yml", "clusters: [{name: n1, address: h, username: u, password: 'env:P'}]\n"
    )
    with pytest.raises(InputError) as caught:
        load_any(native, password="env:OTHER")
    assert caught.value.field == "--import-password"


def test_harvest_poller_files_are_refused_rather_than_left_out(tmp_path: Path) -> None:
    text = "Poller_files: [configs/*.yml]\nPollers:\n  u2: {addr: 10.0.0.1}\n"
    path = write(tmp_path / "harvest.yml", text)
    with pytest.raises(InputError) as caught:
        load_any(path)
    assert caught.value.field == "Poller_files" and "-i" in str(caught.value)
