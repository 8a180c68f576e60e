"""Every YAML file fleet reads is measured before it is built: alias bombs and recursive aliases refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fleet.errors import InputError
from fleet.inventory.yamlfile import MAX_ALIAS_NODES, read_yaml

BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{b}: &{b} [" + ",".join([f"*{a}"] * 9) + "]" for a, b in zip("abcdefgh", "bcdefghi", strict=True)]
)


def test_a_billion_laughs_is_refused_in_well_under_a_second_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "harvest.yml"
    path.write_text(BOMB + "\nPollers:\n  cl1: {addr: 10.0.0.1, collectors: [*i]}\n")
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        read_yaml(path)
    assert time.monotonic() - started < 1
    assert caught.value.file == str(path)
    assert "YAML aliases expand this document from 36 nodes to 926,177,122" in str(caught.value)


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "inv.yml"
    path.write_text("defaults: &d\n  labels: {site: east}\n  vars: [*d]\n")
    with pytest.raises(InputError, match="refers to a node that contains it"):
        read_yaml(path)


def test_anchors_within_the_budget_load_and_one_past_it_are_refused(tmp_path: Path) -> None:
    """A defaults block merged into every cluster of a large estate is what anchors are for."""
    block = "{" + ", ".join(f"k{i}: v{i}" for i in range(50)) + "}"  # 101 nodes, each time it is used
    path = tmp_path / "inv.yml"

    def estate(clusters: int) -> str:
        return f"x: &d {block}\nclusters:\n" + "".join(
            f"  - {{<<: *d, name: c{i}}}\n" for i in range(clusters)
        )

    path.write_text(estate(9_900))  # 999,900 nodes added by aliases
    assert len(read_yaml(path)["clusters"]) == 9_900
    path.write_text(estate(9_901))
    with pytest.raises(InputError, match=f"at most {MAX_ALIAS_NODES:,} more"):
        read_yaml(path)
