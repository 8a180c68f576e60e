"""The distribution is ``ontap-fleet``: ``pip install fleet`` would fetch an unrelated 2015 package."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_distribution_is_ontap_fleet_and_still_installs_the_fleet_package_and_command() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["name"] == "ontap-fleet"
    assert project["project"]["scripts"] == {"fleet": "fleet.cli:main"}
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["fleet*"]
    readme = (ROOT / "README.md").read_text()
    assert "pip install fleet " not in readme and "`ontap-fleet`" in readme
