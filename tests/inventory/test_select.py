"""``--limit`` selectors: names, groups, labels, negation, and MetroCluster pairs kept whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import InputError
from fleet.inventory import Inventory, load_inventory

INVENTORY = """
defaults: {username: admin, password: 'env:P'}
groups: {west: {labels: {site: west}}, east: {labels: {site: east}}}
clusters:
  - {name: cl-0001, address: h1, groups: [east], labels: {tier: gold}}
  - {name: cl-0002, address: h2, groups: [east], labels: {tier: bronze}}
  - {name: cl-0003, address: h3, groups: [west], labels: {tier: gold}}
  - {name: cl-0004, address: h4, groups: [east], labels: {tier: gold}, metrocluster_partner: cl-0005}
  - {name: cl-0005, address: h5, groups: [west], labels: {tier: silver}, metrocluster_partner: cl-0004}
"""


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    path = tmp_path / "inv.yml"
    path.write_text(INVENTORY)
    return load_inventory(path)


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (None, [1, 2, 3, 4, 5]),
        ("", [1, 2, 3, 4, 5]),
        ("cl-000[12]", [1, 2]),
        ("cl-0003, cl-0001", [1, 3]),
        ("site=east", [1, 2, 4, 5]),  # cl-0005 (west) comes with its partner
        ("site=east,!tier=bronze", [1, 4, 5]),
        ("!tier=bronze", [1, 3, 4, 5]),
        ("tier=g*", [1, 3, 4, 5]),
        ("@west", [3, 4, 5]),
        ("group:west,!cl-0004", [3]),  # "do not touch cl-0004" removes its whole pair
        ("group:e*", [1, 2, 4, 5]),
        ("cl-*,!site=west", [1, 2]),
        ("!cl-0001,!cl-0002", [3, 4, 5]),
    ],
)
def test_limit_selects_expected_clusters_in_inventory_order(
    inventory: Inventory, limit: str | None, expected: list[int]
) -> None:
    assert [c.name for c in inventory.select(limit)] == [f"cl-000{n}" for n in expected]


def test_strict_mode_refuses_to_split_a_metrocluster_pair(inventory: Inventory) -> None:
    with pytest.raises(InputError) as caught:
        inventory.select("cl-0004", keep_pairs=False)
    assert "cl-0004" in str(caught.value) and "cl-0005" in str(caught.value)
    assert caught.value.field == "--limit"
    assert [c.name for c in inventory.select("cl-0004,cl-0005", keep_pairs=False)] == ["cl-0004", "cl-0005"]


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ("nomatch*", "selects no cluster"),
        ("cl-0001,!tier=gold", "selects no cluster"),
        ("@nope", "unknown group 'nope'"),
        ("group:", "names no group"),
        ("cl-0001,!", "empty term"),
        ("=gold", "names no label"),
        (" , ", "no terms"),
    ],
)
def test_bad_or_empty_limit_is_an_input_error(inventory: Inventory, limit: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        inventory.select(limit)
