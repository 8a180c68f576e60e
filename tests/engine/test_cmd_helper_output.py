"""A failing ``cmd:`` helper's output reaches no output of fleet: only its name, exit code and a hint."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli_rotate import run_fleet

# What a vault wrapper run with `set -x` prints when it fails: a token on stdout, another on stderr.
OUT_TOKEN = "out-tok-7f3a9c0e1b2d4e5f"
ERR_TOKEN = "err-tok-0c9b8a7d6e5f4a3b"
FAILING_HELPER = f"""#!/bin/sh
echo "{OUT_TOKEN}"
echo "+ vault login -token={ERR_TOKEN}" >&2
exit 1
"""
# A store whose `get` finds nothing and whose `put` fails the same way.
FAILING_STORE = f"""#!/bin/sh
[ "$1" = get ] && exit 3
[ "$1" = delete ] && exit 0
cat >/dev/null
echo "{OUT_TOKEN}"
echo "+ vault write -token={ERR_TOKEN} okm/$2/$3" >&2
exit 1
"""
HINT = "run it by hand to see its output"


def helper(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o700)
    return path


def outputs(tmp_path: Path, out: str, err: str) -> dict[str, str]:
    """Everything the run printed or wrote: stdout, stderr (JSON logs), report, events, journal files."""
    found = {"stdout": out, "stderr": err}
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix not in (".sh",):
            found[str(path)] = path.read_bytes().decode("latin-1")
    return found


def assert_no_token(found: dict[str, str]) -> None:
    for where, text in found.items():
        for token in (OUT_TOKEN, ERR_TOKEN):
            assert token not in text, f"the helper's output leaked into {where}"


async def test_a_failing_secret_helper_shows_its_name_and_exit_code_never_its_output(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=2, seed=161)
    script = helper(tmp_path, "vault-okm.sh", FAILING_HELPER)
    code, out, err = await run_fleet(
        "rotate", "-i", str(sim.inventory), "--new", f"cmd:{script} --field okm",
        "--report", str(tmp_path / "report.json"), "--journal", str(tmp_path / "j.db"),
        "--events", str(tmp_path / "events.jsonl"), "--log-format", "json",
        cwd=tmp_path,
    )  # fmt: skip
    assert_no_token(outputs(tmp_path, out, err))
    assert code == 2
    assert "vault-okm.sh" in err and "exit 1" in err and HINT in err
    assert sim.requests() == 0


async def test_a_failing_store_put_shows_its_name_and_exit_code_never_its_output(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=6, seed=162)
    onboard = set(sim.onboard_names())
    assert onboard
    store = helper(tmp_path, "okm-store.sh", FAILING_STORE)
    report = tmp_path / "report.json"
    code, out, err = await run_fleet(
        "rotate", "-i", str(sim.inventory), "--new", "generate", "--store", f"cmd:{store}",
        "--report", str(report), "--journal", str(tmp_path / "j.db"),
        "--events", str(tmp_path / "events.jsonl"), "--log-format", "json",
        cwd=tmp_path,
    )  # fmt: skip
    assert_no_token(outputs(tmp_path, out, err))
    assert code == 1, err[-2000:]
    clusters = json.loads(report.read_text())["clusters"]
    reasons = {c["name"]: c["reason"] for c in clusters if c["name"] in onboard}
    assert reasons.keys() == onboard
    assert all(f"okm-store.sh put {name} pending: exit 1 ({HINT})" in reasons[name] for name in onboard)
    assert sim.mutations() == 0
