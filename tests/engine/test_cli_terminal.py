"""The terminal and the pipe: logs above the progress bar, output that is never hard wrapped when piped,
full run ids (issue 18)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
import structlog
from enginekit import NEW_PASSPHRASE
from rich.console import Console

from fleet.cli.progress import ProgressObserver
from fleet.engine.rollout.units import Unit
from fleet.logs import configure_logging, get_logger

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
BAR = "━"


def rotate_args(sim, tmp_path: Path, *extra: str) -> list[str]:
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    new.chmod(0o600)
    journal = str(tmp_path / "j.db")
    return ["rotate", "-i", str(sim.inventory), "--new", f"file:{new}", "--journal", journal, *extra]


async def on_terminal(args: list[str], cwd: Path, *, columns: int = 200) -> tuple[int, str]:
    """``fleet`` on a pseudo-terminal: exit code and everything it drew (ANSI escapes included)."""
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "fleet", *args],
        cwd=str(cwd),
        env=env,
        encoding="utf-8",
        timeout=120,
        dimensions=(50, columns),
    )
    await asyncio.to_thread(child.expect, pexpect.EOF)
    drawn = str(child.before)
    child.close()
    return int(child.exitstatus if child.exitstatus is not None else -1), drawn


async def piped(*args: str, cwd: Path) -> tuple[int, str, str]:
    """``fleet ... | cat``: stdout and stderr are pipes, and no COLUMNS tells rich a width."""
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def screen_lines(drawn: str) -> list[str]:
    """What was drawn, escapes removed, cut at every carriage return and newline."""
    return [line for line in re.split(r"[\r\n]+", ANSI.sub("", drawn)) if line.strip()]


async def test_log_lines_print_above_the_progress_bar_and_name_their_cluster(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=10, seed=7, faults="latency=120ms,http503=0.15")
    code, drawn = await on_terminal(rotate_args(sim, tmp_path, "--concurrency", "2"), tmp_path)
    assert code == 0, drawn
    lines = screen_lines(drawn)
    bars = [line for line in lines if BAR in line]
    logs = [line for line in lines if TIMESTAMP.search(line)]
    retries = [line for line in logs if "ontap_retry" in line]
    assert bars and retries, drawn  # the bar was drawn, and 503s were retried while it was
    for line in logs:
        assert TIMESTAMP.match(line), f"a log line shares its line with something else: {line!r}"
        assert BAR not in line and "units" not in line, f"a log line drawn into the bar: {line!r}"
    names = set(sim.fleet.clusters)
    for line in retries:  # intact: the cluster's name first, every field through the last one
        cluster = re.search(r"\] (\S+): ontap_retry", line)
        assert cluster is not None and cluster.group(1) in names, line
        fields = r"attempt=\d+ .*request='(GET|PATCH|POST) /api/\S*' run_id=\S+ unit=\S+\s*$"
        assert re.search(fields, line), line
    # The bar says what is going on: done of total, failed, in flight, the slowest units, an ETA.
    assert any(re.search(r"\d+/10 .*failed \d+ · in flight \d+", line) for line in bars), bars
    assert any(re.search(r"slowest: \S+ \d+s", line) for line in lines), lines[-40:]


async def test_fleet_runs_piped_prints_full_ids_tab_separated(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=7)
    report = tmp_path / "r.json"
    code, _, err = await piped(*rotate_args(sim, tmp_path, "--report", str(report)), cwd=tmp_path)
    assert code == 0, err
    run_id = json.loads(report.read_text())["run"]["id"]

    code, out, err = await piped("runs", "--journal", str(tmp_path / "j.db"), cwd=tmp_path)
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split("\t") == [
        "id", "kind", "started_at", "finished_at", "outcome", "exit_code",
        "resumed_from", "resumed_by", "report", "operator", "host",
    ]  # fmt: skip
    assert len(rows) == 1
    fields = rows[0].split("\t")
    assert fields[:2] == [run_id, "rotate"] and fields[4:6] == ["succeeded", "0"], fields
    assert fields[8] == str(report)

    code, out, _ = await piped("runs", "--journal", str(tmp_path / "j.db"), "--json", cwd=tmp_path)
    assert code == 0 and [run["id"] for run in json.loads(out)] == [run_id]

    code, drawn = await on_terminal(["runs", "--journal", str(tmp_path / "j.db")], tmp_path, columns=60)
    assert code == 0 and run_id in ANSI.sub("", drawn), drawn  # a narrow terminal keeps the id whole


async def test_a_piped_summary_keeps_a_long_reason_on_one_line(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=7)
    sim.unreachable([sim.onboard_names()[0]])
    report = tmp_path / "r.json"
    code, out, err = await piped(*rotate_args(sim, tmp_path, "--report", str(report)), cwd=tmp_path)
    assert code == 1, err
    (group,) = json.loads(report.read_text())["failures"]["by_code"].values()
    assert len(group["message"]) > 60
    assert any(group["message"] in line for line in out.splitlines()), out
    lines = [line for line in out.splitlines() if line.lstrip().startswith("next:")]
    assert lines and all(len(line) > 80 for line in lines), out  # one long line, not wrapped at 80


@pytest.fixture
def console_log() -> Iterator[io.StringIO]:
    """The console log format writing to a buffer; global logging state restored afterwards."""
    saved = (structlog.get_config(), logging.getLogger().handlers[:], logging.getLogger().level)
    hooks = (sys.excepthook, threading.excepthook)
    buffer = io.StringIO()
    configure_logging(fmt="console", stream=buffer)
    yield buffer
    structlog.configure(**saved[0])
    logging.getLogger().handlers[:] = saved[1]
    logging.getLogger().setLevel(saved[2])
    sys.excepthook, threading.excepthook = hooks


def test_console_lines_lead_with_the_cluster_and_leave_out_what_the_bar_shows(console_log):
    log = get_logger("fleet.cluster")
    log.info("cluster_started", cluster="cl-0001", unit="cl-0001", wave=1)
    log.info("cluster_finished", cluster="cl-0001", unit="cl-0001", outcome="succeeded")
    log.warning("cluster_finished", cluster="cl-0002", unit="cl-0002", outcome="failed", reason="refused")
    log.info("ontap_retry", cluster="cl-0003", request="GET /api/cluster", attempt=1)
    lines = console_log.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert "cl-0002: cluster_finished" in lines[0] and "outcome=failed" in lines[0]
    assert "cl-0003: ontap_retry" in lines[1] and "cluster=" not in lines[1]


def test_the_bar_names_the_three_units_in_flight_longest():
    now = [100.0]
    progress = ProgressObserver(5, Console(file=io.StringIO()), clock=lambda: now[0])
    assert progress.slowest() == ""
    for name in ("a", "b", "c", "d"):
        progress.unit_started(Unit(name, "cluster", ()))
        now[0] += 30
    progress.unit_finished(Unit("b", "cluster", ()), "succeeded")
    now[0] += 5
    assert progress.slowest() == "slowest: a 2m05s, c 1m05s, d 35s"


def test_the_bar_counts_as_failed_every_outcome_the_failure_budget_counts():
    """An unconfirmed, refused or busy unit is not done well: "failed 0" on the bar would hide it."""
    progress = ProgressObserver(7, Console(file=io.StringIO()))
    outcomes = ["succeeded", "skipped", "unconfirmed", "refused", "busy", "split", "rotated"]
    for name, outcome in zip("abcdefg", outcomes, strict=True):
        progress.unit_started(Unit(name, "cluster", ()))
        progress.unit_finished(Unit(name, "cluster", ()), outcome)
    assert (progress.done, progress.failed) == (7, 4)
