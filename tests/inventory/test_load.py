"""Loading fleet-format inventories: inheritance, directories, and errors that name file and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fleet.errors import InputError
from fleet.inventory import load_inventory

BASE = """
defaults:
  username: admin
  password: env:ONTAP_PASSWORD
  tls: {verify: true, ca_file: certs/ca.pem}
  vars: {okm_passphrase: "file:secrets/{cluster}.okm", note: base}
  labels: {tier: silver}
groups:
  east: {labels: {site: east}, vars: {note: east}}
  lab: {username: labadmin, labels: {site: lab}, tls: {verify: false}}
clusters:
  - name: cl-0001
    address: 127.0.0.1:20001
    groups: [east]
    labels: {tier: gold}
    metrocluster_partner: cl-0002
  - name: cl-0002
    address: 127.0.0.1:20002
    groups: [east, lab]
    metrocluster_partner: cl-0001
  - name: cl-0003
    address: cl-0003.example.com
    password: cmd:vault read {cluster}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def load_error(tmp_path: Path, text: str) -> tuple[InputError, Path]:
    path = write(tmp_path / "inv.yml", text)
    with pytest.raises(InputError) as caught:
        load_inventory(path)
    return caught.value, path


def test_clusters_inherit_defaults_then_groups_then_own_settings(tmp_path: Path) -> None:
    """Defaults → groups in listed order → cluster; labels and vars merge key by key."""
    inv = load_inventory(write(tmp_path / "inv.yml", BASE))
    one, two, three = inv.clusters["cl-0001"], inv.clusters["cl-0002"], inv.clusters["cl-0003"]
    assert list(inv.clusters) == ["cl-0001", "cl-0002", "cl-0003"]
    assert (one.username, one.password) == ("admin", "env:ONTAP_PASSWORD")
    assert one.labels == {"tier": "gold", "site": "east"}
    assert one.vars == {"okm_passphrase": "file:secrets/{cluster}.okm", "note": "east"}
    assert two.username == "labadmin" and two.labels == {"tier": "silver", "site": "lab"}
    assert two.tls.verify is False and two.tls.ca_file == (tmp_path / "certs/ca.pem").resolve()
    assert three.password == "cmd:vault read {cluster}" and three.groups == ()
    assert inv.partner(one) == two and inv.partner("cl-0003") is None
    assert inv.sources == [tmp_path / "inv.yml"]


@pytest.mark.parametrize(
    ("address", "base_url"),
    [
        ("127.0.0.1:20001", "https://127.0.0.1:20001"),
        ("cl.example.com", "https://cl.example.com:443"),
        ("http://cl.example.com:8080", "http://cl.example.com:8080"),
        ("HTTPS://cl.example.com", "https://cl.example.com:443"),
        ("[::1]:8443", "https://[::1]:8443"),
        ("fd00::10", "https://[fd00::10]:443"),
    ],
)
def test_address_becomes_https_base_url_with_explicit_port(
    tmp_path: Path, address: str, base_url: str
) -> None:
    text = f"clusters: [{{name: c1, address: '{address}', username: u, password: 'env:P'}}]"
    assert load_inventory(write(tmp_path / "inv.yml", text)).clusters["c1"].base_url == base_url


def test_directory_inventory_merges_files_in_name_order(tmp_path: Path) -> None:
    write(tmp_path / "inv/00-defaults.yaml", "defaults: {username: admin, password: 'env:P'}\n")
    write(
        tmp_path / "inv/10-east.yml",
        "groups: {east: {labels: {site: east}}}\nclusters: [{name: b, address: h2}]\n",
    )
    write(tmp_path / "inv/20-more.yml", "clusters: [{name: a, address: h1, groups: [east]}]\n")
    write(tmp_path / "inv/notes.txt", "ignored")
    inv = load_inventory(tmp_path / "inv")
    assert list(inv.clusters) == ["b", "a"]
    assert inv.clusters["a"].labels == {"site": "east"} and inv.clusters["a"].username == "admin"
    assert inv.clusters["a"].source == tmp_path / "inv/20-more.yml"
    assert len(inv.sources) == 3


@pytest.mark.parametrize(
    ("second", "field"),
    [
        ("groups: {east: {}}\n", "groups.east"),
        ("defaults: {username: other}\n", "defaults.username"),
        ("clusters: [{name: b, address: h9}]\n", "clusters[0].name"),
        ("clusters: [{name: z, address: h2}]\n", "clusters[0].address"),
    ],
)
def test_conflicting_definitions_across_files_name_both_files(
    tmp_path: Path, second: str, field: str
) -> None:
    write(
        tmp_path / "inv/a.yml",
        "defaults: {username: admin, password: 'env:P'}\n"
        "groups: {east: {}}\nclusters: [{name: b, address: h2}]\n",
    )
    write(tmp_path / "inv/b.yml", second)
    with pytest.raises(InputError) as caught:
        load_inventory(tmp_path / "inv")
    assert caught.value.file == str(tmp_path / "inv/b.yml") and caught.value.field == field
    assert str(tmp_path / "inv/a.yml") in str(caught.value)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    error, path = load_error(tmp_path, "clusters:\n  - name: a\n    address: [h1\n")
    assert error.file == str(path) and "line 4" in str(error)


def test_duplicate_yaml_key_is_an_error_not_an_override(tmp_path: Path) -> None:
    error, _ = load_error(tmp_path, "groups:\n  east: {}\n  east: {labels: {a: b}}\nclusters: []\n")
    assert "duplicate key 'east'" in str(error) and "line 3" in str(error)


CLUSTER = "{name: c%d, address: h%d, username: u, password: 'env:P'}"


def clusters(*extra: str) -> str:
    rows = [CLUSTER % (i, i) for i in range(3)] + list(extra)
    return "groups: {east: {}}\nclusters:\n" + "".join(f"  - {row}\n" for row in rows)


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (
            clusters("{name: x, address: hx, tls: {verfy: true}}"),
            "clusters[3].tls.verfy",
            "unknown key 'verfy'",
        ),
        (clusters("{name: x, username: u, password: 'env:P'}"), "clusters[3].address", "required field"),
        (
            clusters("{name: c1, address: hx, username: u, password: 'env:P'}"),
            "clusters[3].name",
            "duplicate",
        ),
        (
            clusters("{name: x, address: 'https://h2:443', username: u, password: 'env:P'}"),
            "clusters[3].address",
            "duplicate address",
        ),
        (
            clusters("{name: x, address: hx, username: u, password: 'env:P', groups: [east, west]}"),
            "clusters[3].groups[1]",
            "'west' is not defined",
        ),
        (
            clusters("{name: x, address: hx, username: u, password: 'env:P', metrocluster_partner: nope}"),
            "clusters[3].metrocluster_partner",
            "not in the inventory",
        ),
        (
            clusters("{name: x, address: hx, username: u, password: 'env:P', metrocluster_partner: x}"),
            "clusters[3].metrocluster_partner",
            "its own",
        ),
        (
            clusters("{name: x, address: hx, username: u, password: 'env:P', metrocluster_partner: c0}"),
            "clusters[3].metrocluster_partner",
            "both sites must name each other",
        ),
        (clusters("{name: x, address: hx, username: u}"), "clusters[3].password", "no password"),
        (clusters("{name: x, address: hx, password: 'env:P'}"), "clusters[3].username", "no username"),
        (clusters("{name: 'bad name', address: hx}"), "clusters[3].name", "pattern"),
        (clusters("{name: x, address: 'ftp://hx'}"), "clusters[3].address", "not supported"),
        (
            clusters("{name: x, address: 'hx/api', username: u, password: 'env:P'}"),
            "clusters[3].address",
            "nothing more",
        ),
        (
            "clusters: [{name: x, address: h, username: u, password: 'env:P'}]\nextra: 1\n",
            "extra",
            "unknown key",
        ),
    ],
)
def test_bad_inventory_error_names_file_and_field(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    error, path = load_error(tmp_path, text)
    assert (error.file, error.field) == (str(path), field)
    assert message in str(error)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            "defaults: {password: hunter2-literal}\nclusters: [{name: a, address: h, username: u}]\n",
            "defaults.password",
        ),
        (
            "groups: {east: {password: hunter2-literal}}\nclusters: [{name: a, address: h, username: u}]\n",
            "groups.east.password",
        ),
        (clusters("{name: x, address: hx, username: u, password: hunter2-literal}"), "clusters[3].password"),
        (
            "defaults: {vars: {okm_passphrase: hunter2-literal}}\n" + clusters(),
            "defaults.vars.okm_passphrase",
        ),
    ],
)
def test_literal_secret_is_refused_without_echoing_it(tmp_path: Path, text: str, field: str) -> None:
    error, _ = load_error(tmp_path, text)
    assert error.field == field and "secret reference" in str(error)
    assert "hunter2" not in str(error)


def test_wrong_type_error_does_not_quote_the_value(tmp_path: Path) -> None:
    error, _ = load_error(tmp_path, clusters("{name: x, address: hx, password: [hunter2-literal]}"))
    assert error.field == "clusters[3].password" and "hunter2" not in str(error)


def test_digest_ignores_layout_and_tracks_content(tmp_path: Path) -> None:
    first = load_inventory(write(tmp_path / "a.yml", BASE)).digest
    relaid = load_inventory(
        write(tmp_path / "b.yml", "# a comment\n" + BASE.replace("{tier: gold}", "{tier:  gold}"))
    )
    changed = load_inventory(write(tmp_path / "c.yml", BASE.replace("{tier: gold}", "{tier: bronze}")))
    assert relaid.digest == first and changed.digest != first and len(first) == 64


def test_empty_inventory_is_an_error(tmp_path: Path) -> None:
    error, path = load_error(tmp_path, "defaults: {username: u}\n")
    assert error.file == str(path) and "no clusters" in str(error)
