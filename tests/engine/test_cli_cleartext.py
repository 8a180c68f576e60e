"""``http://`` cluster addresses: refused before any request unless accepted, and then loud."""

from __future__ import annotations

import json
import re

import yaml
from enginekit import NEW_PASSPHRASE
from test_cli_rotate import run_fleet


def rotate_args(sim, tmp_path, *extra: str) -> list[str]:
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    return [
        "rotate", "-i", str(sim.inventory), "--new", f"file:{new}", "--journal", str(tmp_path / "j.db"),
        "--report", str(tmp_path / "report.json"), "--log-format", "console", *extra,
    ]  # fmt: skip


def say_verify_false(sim, *, only: int | None = None) -> None:
    """Write ``tls: {verify: false}`` into the inventory: in defaults, or on cluster ``only``."""
    doc = yaml.safe_load(sim.inventory.read_text())
    place = doc["defaults"] if only is None else doc["clusters"][only]
    place["tls"] = {"verify": False}
    sim.inventory.write_text(yaml.safe_dump(doc, sort_keys=False))


def cleartext_warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if "cleartext_http" in line]


async def test_an_http_address_is_exit_2_naming_file_and_field_and_sends_nothing(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=4, tls=False)
    code, _, err = await run_fleet(*rotate_args(sim, tmp_path), cwd=tmp_path)
    assert code == 2, err
    line = err.strip().splitlines()[-1]
    where = r"inventory\.yml, field clusters\[0\]\.address: "
    assert re.search(where + r"cluster sim-0001: http://127\.0\.0\.1:\d+ is plain HTTP", line), line
    assert "tls: {verify: false}" in line and "--allow-http" in line
    assert sim.requests() == 0 and not (tmp_path / "report.json").exists()


async def test_allow_http_rotates_over_http_and_says_so_loudly(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=4, tls=False)
    code, _, err = await run_fleet(*rotate_args(sim, tmp_path, "--allow-http"), cwd=tmp_path)
    assert code == 0, err
    [warning] = cleartext_warnings(err)
    assert "warning" in warning and "UNENCRYPTED" in warning and "clusters=3" in warning
    assert all(sim.passphrase(name) == NEW_PASSPHRASE for name in sim.onboard_names())
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["run"]["options"]["allow_http"] is True  # the report keeps that it was allowed
    assert not any(secret in err for secret in sim.secret_values())


async def test_an_inventory_saying_verify_false_is_accepted_and_as_loud(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=4, tls=False)
    say_verify_false(sim)
    code, _, err = await run_fleet(*rotate_args(sim, tmp_path), cwd=tmp_path)
    assert code == 0, err
    assert len(cleartext_warnings(err)) == 1
    assert "tls_verification_disabled" in err  # what --insecure says, too
    assert all(sim.passphrase(name) == NEW_PASSPHRASE for name in sim.onboard_names())


async def test_only_the_clusters_not_accepted_are_refused(sim_fleet, tmp_path):
    """``tls: {verify: false}`` on one cluster accepts that one; another http:// cluster is still refused."""
    sim = await sim_fleet(clusters=3, seed=4, tls=False)
    say_verify_false(sim, only=0)
    code, _, err = await run_fleet(*rotate_args(sim, tmp_path), cwd=tmp_path)
    assert code == 2 and "field clusters[1].address: cluster sim-0002" in err, err
    assert sim.requests() == 0
