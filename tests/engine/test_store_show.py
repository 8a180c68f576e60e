"""Generated passphrases a person can type, and the recovery sheet for the day one must."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pexpect
from test_cli_rotate import run_fleet

from fleet.secrets.generate import CHARSETS


async def rotate_generated(sim, tmp_path: Path, *extra: str) -> tuple[Path, Path]:
    store, journal = tmp_path / "store", tmp_path / "j.db"
    code, _, err = await run_fleet(
        "rotate", "-i", str(sim.inventory), "--new", "generate", "--store", str(store),
        "--journal", str(journal), "--report", str(tmp_path / "r.json"), *extra, cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    return store, journal


async def test_generated_passphrases_use_the_console_safe_set_unless_told(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=6, seed=4)
    await rotate_generated(sim, tmp_path)
    for name in sim.onboard_names():
        value = sim.passphrase(name)
        assert value is not None and len(value) == 64 and set(value) <= set(CHARSETS["console"])
    await rotate_generated(sim, tmp_path, "--charset", "ascii")  # the next rotation, in the old wide set
    assert any(set(sim.passphrase(name) or "") - set(CHARSETS["console"]) for name in sim.onboard_names())


async def test_store_show_gives_fingerprints_and_prints_a_sheet_only_to_a_person(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=4, seed=4)
    store, journal = await rotate_generated(sim, tmp_path)
    name = sim.onboard_names()[0]
    secret = sim.passphrase(name)
    assert secret is not None
    code, out, err = await run_fleet(
        "store", "show", name, "--store", str(store), "--journal", str(journal), cwd=tmp_path
    )
    assert code == 0, err
    assert re.search(r"current\s+hmac-sha256:[0-9a-f]{32}", out) and "matches what run" in out
    assert secret not in out + err

    code, out, err = await run_fleet(
        "store", "show", name, "--store", str(store), "--journal", str(journal), "--print", cwd=tmp_path
    )
    assert code == 2 and "terminal" in err and secret not in out + err

    def on_terminal(answer: str) -> tuple[int, str]:
        child = pexpect.spawn(
            sys.executable,
            ["-m", "fleet", "store", "show", name, "--store", str(store), "--journal", str(journal),
             "--print"],
            cwd=str(tmp_path), env=dict(os.environ), encoding="utf-8", timeout=60,
        )  # fmt: skip
        child.expect("Type the cluster name to go on")
        child.sendline(answer)
        child.expect(pexpect.EOF)
        child.close()
        return int(child.exitstatus if child.exitstatus is not None else -1), str(child.before)

    code, shown = on_terminal("not-the-name")
    assert code == 1 and secret not in shown
    code, shown = on_terminal(name)
    assert code == 0 and f"recovery sheet: cluster {name}" in shown
    rows = re.findall(r"^\s*\d+  ((?:\S{1,4} ?)+)\s*$", shown, re.M)
    assert "".join(row.replace(" ", "") for row in rows) == secret
