"""``--overlay FILE``: MetroCluster pairs, labels, groups, ontap_name and username on top of any
inventory, validated, every error naming the overlay file and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fleet.errors import InputError
from fleet.inventory import load_any

HARVEST = """
Defaults: {username: harvest, password: 'env:ONTAP_PASSWORD'}
Pollers:
  cl-east: {addr: 10.0.0.1, datacenter: east}
  cl-west: {addr: 10.0.0.2, datacenter: west}
  cl-solo: {addr: 10.0.0.3}
"""
NATIVE = """
defaults: {username: admin, password: 'env:ONTAP_PASSWORD'}
groups:
  gold: {labels: {tier: gold}, vars: {okm_passphrase: 'file:gold/{cluster}.okm'}}
clusters:
  - {name: n1, address: 10.0.1.1, labels: {site: a}}
  - {name: n2, address: 10.0.1.2}
"""


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_an_overlay_pairs_harvest_pollers_and_adds_labels_groups_and_names(tmp_path: Path) -> None:
    harvest = write(tmp_path / "harvest.yml", HARVEST)
    overlay = write(
        tmp_path / "overlay.yml",
        """
        clusters:
          cl-east: {metrocluster_partner: cl-west, groups: [metro], labels: {tier: gold}}
          cl-west: {metrocluster_partner: cl-east, groups: [metro], ontap_name: CL-WEST-01}
          cl-solo: {username: solo-admin, labels: {site: lab}}
        """,
    )
    plain = load_any(harvest)
    inv = load_any(harvest, overlay=overlay)
    east, west, solo = (inv.clusters[n] for n in ("cl-east", "cl-west", "cl-solo"))
    assert inv.partner(east) == west and inv.partner(west) == east
    assert east.labels == {"site": "east", "datacenter": "east", "tier": "gold"}
    assert west.expected_name == "CL-WEST-01" and west.groups == ("metro",)
    assert (solo.username, solo.labels) == ("solo-admin", {"site": "lab"})
    assert [c.name for c in inv.select("@metro")] == ["cl-east", "cl-west"]
    assert inv.sources == [harvest, overlay] and inv.digest != plain.digest


def test_an_overlay_on_a_fleet_inventory_brings_a_groups_settings(tmp_path: Path) -> None:
    native = write(tmp_path / "inv.yml", NATIVE)
    overlay = write(tmp_path / "ov.yml", "clusters: {n2: {groups: [gold], labels: {site: b}}}\n")
    n2 = load_any(native, overlay=overlay).clusters["n2"]
    assert n2.groups == ("gold",) and n2.labels == {"tier": "gold", "site": "b"}
    assert n2.vars == {"okm_passphrase": "file:gold/{cluster}.okm"}


def test_an_overlay_on_an_ansible_inventory(tmp_path: Path) -> None:
    ansible = write(
        tmp_path / "hosts.yml",
        """
        all:
          vars: {netapp_username: admin, netapp_password: 'env:P'}
          hosts:
            a1: {netapp_hostname: 10.0.2.1}
            a2: {netapp_hostname: 10.0.2.2}
        """,
    )
    overlay = write(
        tmp_path / "ov.yml", "clusters: {a1: {metrocluster_partner: a2}, a2: {metrocluster_partner: a1}}"
    )
    inv = load_any(ansible, overlay=overlay)
    assert inv.partner("a1") == inv.clusters["a2"]


PARTNER = "clusters.cl-east.metrocluster_partner"


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("clusters: {cl-nope: {labels: {a: b}}}", "clusters.cl-nope", "no cluster 'cl-nope'"),
        ("clusters: {cl-east: {colour: blue}}", "clusters.cl-east.colour", "unknown key 'colour'"),
        ("clusters: {cl-east: {metrocluster_partnr: x}}", "clusters.cl-east.metrocluster_partnr", "unknown"),
        ("clusters: {cl-east: {labels: [a]}}", "clusters.cl-east.labels", ""),
        ("cl-east: {metrocluster_partner: cl-west}", "cl-east", "clusters: {NAME:"),
        ("clusters: {cl-east: {metrocluster_partner: cl-west}}", PARTNER, "both sites must name each other"),
        ("clusters: {cl-east: {metrocluster_partner: cl-nope}}", PARTNER, "not in the inventory"),
    ],
)
def test_a_bad_overlay_names_the_overlay_file_and_field(
    tmp_path: Path, text: str, field: str, words: str
) -> None:
    harvest = write(tmp_path / "harvest.yml", HARVEST)
    overlay = write(tmp_path / "overlay.yml", text)
    with pytest.raises(InputError) as caught:
        load_any(harvest, overlay=overlay)
    assert (caught.value.file, caught.value.field) == (str(overlay), field)
    assert words in str(caught.value)


def test_a_missing_overlay_file_is_named(tmp_path: Path) -> None:
    harvest = write(tmp_path / "harvest.yml", HARVEST)
    with pytest.raises(InputError) as caught:
        load_any(harvest, overlay=tmp_path / "nope.yml")
    assert caught.value.file == str(tmp_path / "nope.yml")
