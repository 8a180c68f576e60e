"""Every file fleet writes for a run, as an admin runs it: never through a planted link, modes fixed.

Each planted link points at a file or folder outside fleet's paths; the run must refuse it (exit 2,
one line naming the path, no request sent), leave the link as it was and its target unchanged.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path

from enginekit import NEW_PASSPHRASE

POLICY = "key_manager: onboard\nonboard: {require_all_nodes_keys: true}\n"
KEPT = "keep me as I am\n"


async def run_fleet(*args: str, cwd: Path, umask: int = -1) -> tuple[int, str, str]:
    """``fleet`` in a subprocess; ``umask`` 0 runs it as under ``umask 000`` (-1 keeps ours)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet", *args, cwd=cwd, umask=umask,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, out.decode(), err.decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def plant_file_link(link: Path, outside: Path) -> Path:
    """A link at ``link`` to a 0600 file outside with known content; returns the target."""
    target = outside / f"target-of-{link.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(KEPT)
    target.chmod(0o600)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return target


def assert_untouched(link: Path, target: Path) -> None:
    assert link.is_symlink() and os.readlink(link) == str(target)
    if target.is_dir():
        assert list(target.iterdir()) == [] and mode(target) == 0o700
    else:
        assert target.read_text() == KEPT and mode(target) == 0o600


def assert_refused(code: int, err: str, named: Path) -> str:
    """Exit 2 with exactly one error line, naming ``named``, and no traceback."""
    assert code == 2, err[-2000:]
    errors = [line for line in err.splitlines() if line.startswith("fleet: error:")]
    assert len(errors) == 1 and str(named) in errors[0], err[-2000:]
    assert "Traceback" not in err
    return errors[0]


def rotate_args(sim, tmp_path: Path, *more: str) -> list[str]:
    new = tmp_path / "new.okm"
    new.write_text(NEW_PASSPHRASE)
    new.chmod(0o600)
    journal = str(tmp_path / "j.db")
    return ["rotate", "-i", str(sim.inventory), "--new", f"file:{new}", "--journal", journal, *more]


def sweep_args(sim, tmp_path: Path, *more: str) -> list[str]:
    policy = tmp_path / "policy.yml"
    policy.write_text(POLICY)
    return ["sweep", "-i", str(sim.inventory), "-p", str(policy), "--journal", str(tmp_path / "j.db"), *more]


# --- planted links ---------------------------------------------------------------------------------


async def test_a_link_at_the_events_file_is_refused_and_nothing_is_appended_to_it(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=31)
    link = tmp_path / "events" / "events.jsonl"
    target = plant_file_link(link, tmp_path / "outside")
    code, _, err = await run_fleet(*rotate_args(sim, tmp_path, "--events", str(link)), cwd=tmp_path)
    assert "symbolic link" in assert_refused(code, err, link)
    assert sim.requests() == 0
    assert_untouched(link, target)


async def test_a_dangling_link_at_the_events_file_creates_nothing_where_it_points(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=31)
    link = tmp_path / "events.jsonl"
    nowhere = tmp_path / "outside" / "created-through-the-link"
    nowhere.parent.mkdir()
    link.symlink_to(nowhere)
    code, _, err = await run_fleet(*rotate_args(sim, tmp_path, "--events", str(link)), cwd=tmp_path)
    assert_refused(code, err, link)
    assert sim.requests() == 0
    assert not nowhere.exists() and link.is_symlink()


async def test_a_link_at_the_report_path_is_refused_before_any_request(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=31)
    link = tmp_path / "out" / "report.json"
    target = plant_file_link(link, tmp_path / "outside")
    code, _, err = await run_fleet(*rotate_args(sim, tmp_path, "--report", str(link)), cwd=tmp_path)
    assert_refused(code, err, link)
    assert sim.requests() == 0
    assert_untouched(link, target)


async def test_a_link_at_a_key_backup_file_is_refused_before_any_request(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=31)
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    name = sim.onboard_names()[0]
    link = backups / f"{name}.okm-backup"
    target = plant_file_link(link, tmp_path / "outside")
    code, _, err = await run_fleet(*rotate_args(sim, tmp_path, "--backup-dir", str(backups)), cwd=tmp_path)
    assert_refused(code, err, link)
    assert sim.requests() == 0
    assert_untouched(link, target)


async def test_a_link_at_a_store_cluster_folder_is_refused_and_no_passphrase_goes_through_it(
    sim_fleet, tmp_path
):
    sim = await sim_fleet(clusters=3, seed=31)
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    elsewhere = tmp_path / "outside" / "folder"
    elsewhere.mkdir(parents=True, mode=0o700)
    link = store / sim.onboard_names()[0]
    link.symlink_to(elsewhere)
    args = rotate_args(sim, tmp_path, "--store", str(store))
    args[args.index("--new") + 1] = "generate"
    code, _, err = await run_fleet(*args, cwd=tmp_path)
    assert_refused(code, err, link)
    assert sim.requests() == 0
    assert_untouched(link, elsewhere)  # empty: no pending passphrase was written through the link
    assert [p.name for p in store.iterdir()] == [link.name]


async def test_a_link_at_the_sweep_lock_is_refused_and_its_target_is_not_truncated(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=31)
    reports = tmp_path / "sweeps"
    link = reports / ".fleet-sweep.lock"
    target = plant_file_link(link, tmp_path / "outside")
    code, _, err = await run_fleet(*sweep_args(sim, tmp_path, "--report-dir", str(reports)), cwd=tmp_path)
    assert_refused(code, err, link)
    assert sim.requests() == 0
    assert_untouched(link, target)


async def test_links_at_the_html_and_prom_paths_are_refused_before_any_request(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=31)
    for flag, name in (("--html", "sweep.html"), ("--prom", "fleet.prom")):
        link = tmp_path / "www" / name
        target = plant_file_link(link, tmp_path / "outside")
        args = sweep_args(sim, tmp_path, "--report-dir", str(tmp_path / "sweeps"), flag, str(link))
        code, _, err = await run_fleet(*args, cwd=tmp_path)
        assert_refused(code, err, link)
        assert sim.requests() == 0
        assert_untouched(link, target)


# --- modes under umask 000 -------------------------------------------------------------------------


async def test_under_umask_000_a_rotation_keeps_secrets_private_and_reports_restricted(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=4, mcc_pairs=1, seed=32)
    store, backups = tmp_path / "new" / "store", tmp_path / "new" / "backups"
    report, events = tmp_path / "out" / "runs" / "report.json", tmp_path / "ev" / "events.jsonl"
    args = rotate_args(sim, tmp_path, "--store", str(store), "--backup-dir", str(backups))
    args[args.index("--new") + 1] = "generate"
    args += ["--report", str(report), "--events", str(events)]
    code, _, err = await run_fleet(*args, cwd=tmp_path, umask=0)
    assert code == 0, err[-2000:]
    assert json.loads(report.read_text())["summary"]["total"] == 4

    assert mode(backups) == 0o700 and mode(backups.parent) == 0o700
    backup_files = list(backups.iterdir())
    assert backup_files and {mode(p) for p in backup_files} == {0o600}
    assert mode(store) == 0o700
    folders = list(store.iterdir())
    assert len(folders) == 4 and {mode(p) for p in folders} == {0o700}
    assert {mode(p) for folder in folders for p in folder.iterdir()} == {0o600}
    for written in (report, events):
        assert mode(written) & ~0o640 == 0, oct(mode(written))
    for folder in (report.parent, report.parent.parent, events.parent):
        assert mode(folder) & ~0o750 == 0, (folder, oct(mode(folder)))


async def test_under_umask_000_a_sweep_writes_restricted_report_html_prom_and_lock(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=33)
    reports, html, prom = tmp_path / "sw" / "reports", tmp_path / "www" / "s.html", tmp_path / "tf" / "f.prom"
    args = sweep_args(sim, tmp_path, "--report-dir", str(reports), "--html", str(html), "--prom", str(prom))
    code, out, err = await run_fleet(*args, cwd=tmp_path, umask=0)
    assert code in (0, 1), out + err[-2000:]
    [report] = list(reports.glob("*.json"))
    lock = reports / ".fleet-sweep.lock"
    for written in (report, html, prom, lock):
        assert mode(written) & ~0o640 == 0, (written, oct(mode(written)))
    for folder in (reports, reports.parent, html.parent, prom.parent):
        assert mode(folder) & ~0o750 == 0, (folder, oct(mode(folder)))


# --- folders open to group/other writes ------------------------------------------------------------


async def test_an_open_store_folder_is_refused_with_the_chmod_to_run_before_any_request(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=34)
    store = tmp_path / "store"
    store.mkdir()
    store.chmod(0o777)
    args = rotate_args(sim, tmp_path, "--store", str(store))
    args[args.index("--new") + 1] = "generate"
    code, _, err = await run_fleet(*args, cwd=tmp_path)
    assert f"chmod 700 {store}" in assert_refused(code, err, store)
    assert sim.requests() == 0
    assert list(store.iterdir()) == [] and mode(store) == 0o777


async def test_an_open_backup_folder_is_refused_with_the_chmod_to_run_before_any_request(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=34)
    backups = tmp_path / "backups"
    backups.mkdir()
    backups.chmod(0o777)
    code, _, err = await run_fleet(*rotate_args(sim, tmp_path, "--backup-dir", str(backups)), cwd=tmp_path)
    assert f"chmod 700 {backups}" in assert_refused(code, err, backups)
    assert sim.requests() == 0
    assert list(backups.iterdir()) == []


async def test_an_open_reports_folder_is_warned_about_once_and_the_run_proceeds(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=34)
    reports = tmp_path / "reports"
    reports.mkdir()
    reports.chmod(0o777)
    report = reports / "run.json"
    args = rotate_args(sim, tmp_path, "--report", str(report), "--log-format", "json")
    code, _, err = await run_fleet(*args, cwd=tmp_path)
    assert code == 0, err[-2000:]
    warnings = [json.loads(line) for line in err.splitlines() if str(reports) in line]
    assert len(warnings) == 1 and warnings[0]["level"] == "warning", err[-2000:]
    assert "chmod" in json.dumps(warnings[0])
    assert mode(report) == 0o640 and mode(reports) == 0o777  # warned, not changed
