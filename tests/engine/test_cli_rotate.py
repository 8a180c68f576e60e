"""``fleet rotate`` as an admin runs it: a subprocess, exit codes, and no secret anywhere it writes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from enginekit import NEW_PASSPHRASE


async def run_fleet(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fleet",
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, out.decode(), err.decode()


async def test_bad_inventory_exits_2_naming_file_and_field_and_sends_nothing(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=4, seed=21)
    text = sim.inventory.read_text().replace("metrocluster_partner", "metrocluster_partnr")
    text = text.replace("  groups: [east", "  colour: blue\n  groups: [east", 1)
    sim.inventory.write_text(text)
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    code, _, err = await run_fleet(
        "rotate",
        "-i",
        str(sim.inventory),
        "--new",
        f"file:{new}",
        "--journal",
        str(tmp_path / "j.db"),
        cwd=tmp_path,
    )
    assert code == 2
    assert "inventory.yml" in err and "colour" in err
    assert sim.requests() == 0


async def test_unresolvable_secret_exits_2_and_sends_nothing(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=4, seed=21)
    code, _, err = await run_fleet(
        "rotate",
        "-i",
        str(sim.inventory),
        "--new",
        "env:FLEET_TEST_UNSET_VAR",
        "--journal",
        str(tmp_path / "j.db"),
        cwd=tmp_path,
    )
    assert code == 2 and "FLEET_TEST_UNSET_VAR" in err
    assert sim.requests() == 0


async def test_too_short_new_passphrase_exits_2_and_sends_nothing(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=4, seed=21)
    short = tmp_path / "short.okm"
    short.write_text("too-short")
    code, _, err = await run_fleet(
        "rotate",
        "-i",
        str(sim.inventory),
        "--new",
        f"file:{short}",
        "--journal",
        str(tmp_path / "j.db"),
        cwd=tmp_path,
    )
    assert code == 2 and "32" in err
    assert sim.requests() == 0


async def test_no_secret_value_reaches_logs_report_journal_or_file_names(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=16, mcc_pairs=2, seed=22, faults="partial=0.2,jobs=0.3")
    secrets = [*sim.secret_values(), NEW_PASSPHRASE]
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    report = tmp_path / "out" / "report.json"
    journal = tmp_path / "state" / "journal.db"
    code, out, err = await run_fleet(
        "rotate",
        "-i",
        str(sim.inventory),
        "--new",
        f"file:{new}",
        "--report",
        str(report),
        "--journal",
        str(journal),
        "--backup-dir",
        str(tmp_path / "backups"),
        "--log-format",
        "json",
        cwd=tmp_path,
    )
    assert code == 0, err[-2000:]
    data = json.loads(report.read_text())
    assert data["summary"]["total"] == 16
    assert err.strip(), "logs were expected on stderr"
    artifacts = {"stdout": out, "stderr": err, "report": report.read_text()}
    for path in journal.parent.iterdir():
        artifacts[path.name] = path.read_bytes().decode("latin-1")
    names = [str(p) for p in tmp_path.rglob("*")]
    for secret in secrets:
        for where, text in artifacts.items():
            assert secret not in text, f"a secret value leaked into {where}"
        assert not any(secret in name for name in names)


async def test_sigint_stops_admitting_writes_the_report_and_exits_130(sim_fleet, tmp_path):
    import signal

    sim = await sim_fleet(clusters=120, seed=23, faults="latency=60ms")
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    report = tmp_path / "report.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet", "rotate", "-i", str(sim.inventory), "--new", f"file:{new}",
        "--report", str(report), "--journal", str(tmp_path / "j.db"), "--concurrency", "4",
        cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    while sim.mutations() == 0:  # noqa: ASYNC110 - polling the simulator's counters
        await asyncio.sleep(0.05)
    process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(process.wait(), timeout=60) == 130
    data = json.loads(report.read_text())
    assert data["run"]["outcome"] == "interrupted" and data["run"]["exit_code"] == 130
    outcomes = data["summary"]["by_outcome"]
    assert data["summary"]["total"] == 120 and outcomes["not_started"] > 0
    assert sum(1 for name in sim.onboard_names() if sim.passphrase(name) == NEW_PASSPHRASE) < 120


async def test_an_untrusted_certificate_fails_every_cluster_before_any_request(sim_fleet, tmp_path):
    """On the CLI's event loop (uvloop when installed), a CA mismatch is a TLS failure, nothing sent."""
    from fleet.sim.tls import ensure_tls_files

    sim = await sim_fleet(clusters=3, seed=23)
    other_ca = ensure_tls_files(tmp_path / "other-ca").ca
    sim.inventory.write_text(sim.inventory.read_text().replace("ca_file: tls/ca.pem", f"ca_file: {other_ca}"))
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    report = tmp_path / "report.json"
    args = ("rotate", "-i", str(sim.inventory), "--new", f"file:{new}", "--report", str(report))
    code, _, _ = await run_fleet(*args, "--journal", str(tmp_path / "j.db"), cwd=tmp_path)
    assert code == 1
    clusters = json.loads(report.read_text())["clusters"]
    assert {c["outcome"] for c in clusters} == {"failed"}
    assert all("TLS certificate verification failed" in c["reason"] for c in clusters)
    assert sim.requests() == 0
