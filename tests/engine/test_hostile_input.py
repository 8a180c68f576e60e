"""Hostile or broken input files are exit 2 naming the file (and field) before any request."""

from __future__ import annotations

import asyncio
import itertools
import resource
import sys
from pathlib import Path

import pytest
from enginekit import NEW_PASSPHRASE
from test_cli_rotate import run_fleet

MEMORY_LIMIT = 2 << 30  # the fleet under test may not grow past this (today's code did: 8 GB)


def billion_laughs(root: str) -> str:
    """Nine levels of nine aliases: 387 million strings once expanded, a few hundred bytes written."""
    levels = "abcdefghi"
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{b}: &{b} [" + ",".join([f"*{a}"] * 9) + "]" for a, b in itertools.pairwise(levels)]
    return "\n".join(lines) + "\n" + root


HARVEST_BOMB = billion_laughs(
    "Pollers:\n  cl1: {addr: 10.0.0.1, username: admin, password: 'env:P', collectors: [*i]}\n"
)
# Merge keys: PyYAML copies every merged pair while it builds the mapping, so this one grows on load.
MERGE_BOMB = (
    "x0: &x0 {k0: 0, k1: 1, k2: 2, k3: 3, k4: 4, k5: 5, k6: 6, k7: 7}\n"
    + "".join(f"x{n}: &x{n} {{<<: [{','.join([f'*x{n - 1}'] * 8)}]}}\n" for n in range(1, 10))
    + "clusters: [{name: c1, address: h1, username: u, password: 'env:P', labels: *x9}]\n"
)


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


async def run_bounded(*args: str, cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet", *args, cwd=cwd, preexec_fn=limit_memory,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, err.decode()


@pytest.mark.parametrize(
    ("name", "text", "command"),
    [
        ("harvest.yml", HARVEST_BOMB, "rotate"),
        ("inventory.yml", MERGE_BOMB, "rotate"),
        ("policy.yml", billion_laughs("key_manager: *i\n"), "plan"),
    ],
    ids=["harvest-aliases", "inventory-merge-keys", "policy-aliases"],
)
async def test_an_alias_bomb_is_refused_naming_the_file(tmp_path, name, text, command):
    bomb = tmp_path / name
    bomb.write_text(text)
    assert len(bomb.read_bytes()) < 600
    inventory = bomb if name != "policy.yml" else tmp_path / "inv.yml"
    if name == "policy.yml":
        inventory.write_text("clusters: [{name: c1, address: h1, username: u, password: 'env:P'}]\n")
    args = ["-i", str(inventory), "--journal", str(tmp_path / "j.db")]
    args += ["--new", "env:P"] if command == "rotate" else ["-p", str(bomb)]
    code, err = await run_bounded(command, *args, cwd=tmp_path)
    assert "Traceback" not in err and "MemoryError" not in err
    assert code == 2, err[-2000:]
    assert err.count("\n") == 1 and str(bomb) in err and "YAML aliases expand this document" in err


async def test_an_ansible_vault_password_gets_the_documented_refusal(tmp_path):
    hosts = tmp_path / "hosts.yml"
    hosts.write_text(
        "all:\n  vars:\n    username: admin\n    password: !vault |\n"
        "      $ANSIBLE_VAULT;1.1;AES256\n      6162636465666768\n"
        "  hosts:\n    cl-1: {hostname: 127.0.0.1}\n"
    )
    code, _, err = await run_fleet(
        "rotate", "-i", str(hosts), "--new", "env:P", "--journal", str(tmp_path / "j.db"), cwd=tmp_path
    )
    assert code == 2
    assert err.strip() == (
        f"fleet: error: {hosts}, field all.vars.password: a literal or vault-encrypted password is refused; "
        "use a secret reference (env:, file:, cmd:) or give one with --import-password REF"
    )


async def test_a_missing_ca_file_is_exit_2_naming_file_and_field_before_any_request(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=166)
    missing = sim.workdir / "tls" / "no-such-ca.pem"
    sim.inventory.write_text(sim.inventory.read_text().replace("ca_file: tls/ca.pem", f"ca_file: {missing}"))
    assert str(missing) in sim.inventory.read_text()
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    new.chmod(0o600)
    code, out, err = await run_fleet(
        "rotate", "-i", str(sim.inventory), "--new", f"file:{new}", "--journal", str(tmp_path / "j.db"),
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 2, (out + err)[-2000:]
    assert "internal error" not in out + err and "file an issue" not in out + err
    line = err.strip()
    assert "\n" not in line and str(sim.inventory) in line and "tls.ca_file" in line and str(missing) in line
    assert sim.requests() == 0
