"""The shipped Grafana dashboard, its every query asked of a real Prometheus that scraped real sweeps.

A rehearsal on the simulator: Debian's Prometheus scrapes fleet's textfile (served as node-exporter's
textfile collector would) every second while three sweeps run: before any rotation (every onboard
passphrase unverified), after half the estate is rotated, and after the rest, with one cluster
missing keys on a node and one unreachable. ``contrib/grafana/preview.py`` then draws the dashboard
from that Prometheus. The panels must show what the sweep reports say; the page is screenshot in
chromium (``FLEET_ARTIFACTS=docs/img`` refreshes ``docs/img/grafana-dashboard-preview.png``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from browserkit import (
    browser_session,
    console_errors,
    missing_browser,
    save_screenshot,
    serve_folder,
    set_width,
)
from policykit import lose_keys, write_policy
from simfleet import start_sim_fleet
from sweepkit import MONITORED_POLICY, PrometheusServer, run_fleet, serve_textfile, start_prometheus

from fleet.inventory import load_inventory
from fleet.outcomes import ExitCode
from fleet.report import Report, load_report

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "contrib" / "grafana" / "fleet-dashboard.json"
WIDTH = 1600
HOLD = 3.0  # seconds each sweep's textfile stays published: a visible step in the time series


def _load_preview() -> ModuleType:
    path = ROOT / "contrib" / "grafana" / "preview.py"
    spec = importlib.util.spec_from_file_location("fleet_dashboard_preview", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


preview = _load_preview()


@dataclass
class Rehearsal:
    prometheus: PrometheusServer
    start: float
    sweeps: list[Report]
    onboard: list[str]
    lost: str
    unreachable: str
    sites: dict[str, str]  # cluster → its datacenter label (the inventory's site)
    tiers: dict[str, str]
    secrets: list[str]


async def _scraped(prometheus: PrometheusServer, finished_after: float) -> None:
    """Wait until Prometheus holds a sweep that finished after ``finished_after``, then HOLD more."""
    client = preview.Prometheus(prometheus.url)
    for _ in range(200):
        found = await asyncio.to_thread(client.instant, "max(fleet_sweep_timestamp_seconds)", time.time())
        if found and found[0].points[-1][1] >= finished_after:
            await asyncio.sleep(HOLD)
            return
        await asyncio.sleep(0.1)
    raise AssertionError("Prometheus never scraped the sweep's textfile")


async def _rehearse(workdir: Path, textfile: Path, prometheus: PrometheusServer) -> Rehearsal:
    sim = await start_sim_fleet(workdir / "sim", clusters=20, seed=11)
    try:
        start = time.time()
        onboard = sim.onboard_names()
        policy = write_policy(workdir / "policy.yml", MONITORED_POLICY)
        journal = ["--journal", str(workdir / "journal.db")]
        sweeps: list[Report] = []

        async def sweep() -> None:
            began = time.time()
            report = workdir / f"sweep{len(sweeps)}.json"
            code, out, err = await run_fleet(
                "sweep", "-i", str(sim.inventory), "-p", str(policy), "--limit", "key_manager=onboard",
                *journal, "--report", str(report), "--prom", str(textfile), "--timeout", "5", cwd=workdir,
            )  # fmt: skip
            assert code in (ExitCode.OK, ExitCode.FAILED), out + err
            sweeps.append(load_report(report))
            await _scraped(prometheus, began)

        async def rotate(names: list[str]) -> None:
            code, out, err = await run_fleet(
                "rotate", "-i", str(sim.inventory), "--new", "generate", "--store", str(workdir / "store"),
                "--limit", ",".join(names), *journal, "--report", str(workdir / f"rotate{len(sweeps)}.json"),
                cwd=workdir,
            )  # fmt: skip
            assert code == ExitCode.OK, out + err

        await sweep()  # nothing verified yet: every onboard cluster is non-compliant
        half = len(onboard) // 2
        await rotate(onboard[:half])
        await sweep()
        await rotate(onboard[half:])
        lost = next(n for n in reversed(onboard) if sim.cluster(n).version[1] >= 12)
        unreachable = next(n for n in onboard if n != lost)
        lose_keys(sim, lost)
        sim.unreachable([unreachable])
        await sweep()
        clusters = load_inventory(sim.inventory).clusters.values()
        sites = {c.name: c.labels["site"] for c in clusters}
        tiers = {c.name: c.labels.get("tier", "") for c in clusters}
        return Rehearsal(
            prometheus, start, sweeps, onboard, lost, unreachable, sites, tiers, sim.secret_values()
        )
    finally:
        await sim.server.close()


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    """The rehearsal; Prometheus goes on scraping the last sweep's textfile until the module ends."""
    workdir = tmp_path_factory.mktemp("dashboard")
    textfile = workdir / "textfile" / "fleet.prom"
    with serve_textfile(textfile) as target:
        prometheus = start_prometheus(workdir / "prometheus", target)
        try:
            yield asyncio.run(_rehearse(workdir, textfile, prometheus))
        finally:
            prometheus.stop()


@pytest.fixture(scope="module")
def drawn(rehearsal: Rehearsal) -> Any:
    dashboard = json.loads(DASHBOARD.read_text())
    return preview.render(
        dashboard,
        preview.Prometheus(rehearsal.prometheus.url),
        start=rehearsal.start,
        end=time.time(),
        width=WIDTH,
        source="contrib/grafana/fleet-dashboard.json",
    )


def test_every_panel_of_the_dashboard_draws_data_from_prometheus(drawn):
    assert drawn.problems == []
    assert [panel.title for panel in drawn.panels if panel.empty] == []


def test_the_passphrase_age_join_keeps_every_verified_cluster(rehearsal):
    """The stat shows 0 through ``or vector(0)`` even when its join matches nothing: the same join,
    asked for the passphrases younger than the policy's age, must find every verified one."""
    [panel] = [p for p in json.loads(DASHBOARD.read_text())["panels"] if p["title"] == "Passphrases too old"]
    expr = panel["targets"][0]["expr"].replace('{datacenter=~"$datacenter"}', "")
    younger = expr.removesuffix(" or vector(0)").replace(") > on (job, instance)", ") < on (job, instance)")
    assert younger != expr and "$" not in younger
    prometheus = preview.Prometheus(rehearsal.prometheus.url)
    [verified] = prometheus.instant("count(fleet_passphrase_verified_timestamp_seconds)", time.time())
    [matched] = prometheus.instant(younger, time.time())
    assert matched.points[-1][1] == verified.points[-1][1] == len(rehearsal.onboard) - 1


def test_the_stats_and_tables_say_what_the_last_sweep_report_says(rehearsal, drawn):
    last = rehearsal.sweeps[-1].compliance
    assert last is not None and last.complete
    states = {name: verdict.state for name, verdict in last.clusters.items()}
    total = len(states)
    compliant = sum(state == "compliant" for state in states.values())
    assert (total, compliant) == (len(rehearsal.onboard), total - 2)
    shown = {panel.title: panel.texts for panel in drawn.panels if panel.kind == "stat"}
    assert shown["Compliant"] == [f"{100 * compliant / total:.1f}%"]
    assert shown["Non-compliant"] == ["1"] and shown["Unknown"] == ["1"] and shown["Unreachable"] == ["1"]
    assert shown["Passphrases too old"] == ["0"]
    assert shown["Last sweep"] == ["complete"]
    since_start = time.time() - rehearsal.start
    for title in ("Last complete sweep", "Last successful rotation"):
        number, unit = shown[title][0].split()
        assert unit == "s" and 0 < float(number) < since_start, shown[title]

    not_compliant = drawn.panel("Clusters that are not compliant").texts
    lost, unreachable = rehearsal.lost, rehearsal.unreachable
    assert not_compliant == [  # non-compliant first: it is the one to act on
        f"{lost} {rehearsal.sites[lost]} {_tier(rehearsal, lost)} non_compliant",
        f"{unreachable} {rehearsal.sites[unreachable]} {_tier(rehearsal, unreachable)} unknown",
    ]
    assert drawn.panel("Unreachable clusters").texts == [
        f"{unreachable} {rehearsal.sites[unreachable]} {_tier(rehearsal, unreachable)}"
    ]
    findings: dict[str, int] = {}
    for finding in rehearsal.sweeps[-1].findings:
        key = f"{finding.rule} ({finding.severity})"
        findings[key] = findings.get(key, 0) + 1
    assert sorted(drawn.panel("Findings by rule and severity").texts) == sorted(
        f"{key}: {count}" for key, count in findings.items()
    )
    expected = []
    for datacenter in sorted(set(rehearsal.sites[name] for name in states)):
        members = [name for name in states if rehearsal.sites[name] == datacenter]
        share = sum(states[name] == "compliant" for name in members) / len(members)
        expected.append(f"{datacenter}: {100 * share:.1f}%")
    assert sorted(drawn.panel("Compliance by datacenter").texts) == expected
    ages = drawn.panel("Passphrase age at the last sweep (oldest 20)").texts
    assert len(ages) == min(20, total - 1)  # the unreachable cluster was not read: no age sample


def _tier(rehearsal: Rehearsal, name: str) -> str:
    return rehearsal.tiers[name]


def test_the_time_series_show_the_rollout_sweep_by_sweep(rehearsal, drawn):
    by_state = drawn.panel("Clusters by compliance state").series
    total = len(rehearsal.onboard)
    non_compliant = [value for _, value in by_state["non_compliant"]]
    compliant = [value for _, value in by_state["compliant"]]
    # before any rotation every passphrase is unverified; half rotated; the rest, one lost keys
    assert non_compliant[0] == total and non_compliant[-1] == 1
    assert compliant[0] == 0 and compliant[-1] == total - 2
    assert total - len(rehearsal.onboard) // 2 in non_compliant  # the middle sweep was drawn too
    durations = [value for _, value in drawn.panel("Sweep duration").series["duration"]]
    steps = [value for i, value in enumerate(durations) if i == 0 or value != durations[i - 1]]
    assert steps == pytest.approx([sweep.summary.duration_s for sweep in rehearsal.sweeps])  # one per sweep


def test_the_page_in_chromium_is_the_whole_dashboard_unclipped(rehearsal, drawn, tmp_path_factory):
    if missing_browser() and not os.environ.get("CI"):
        pytest.skip(missing_browser() or "")
    folder = tmp_path_factory.mktemp("preview")
    (folder / "dashboard.html").write_text(drawn.html)
    for secret in rehearsal.secrets:
        assert secret not in drawn.html
    with browser_session(folder / "profile") as browser, serve_folder(folder) as url:
        set_width(browser, WIDTH)
        browser.get(f"{url}/dashboard.html")
        assert console_errors(browser) == []
        clipped = browser.execute_script(
            "return Array.from(document.querySelectorAll("
            "'.panel h2, .stat span, .bar .name, .bar .value, .legend, th, td'))"
            ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"
        )
        assert clipped == []
        titles = browser.execute_script(
            "return Array.from(document.querySelectorAll('.panel')).map(e => e.dataset.title)"
        )
        assert sorted(titles) == sorted(panel.title for panel in drawn.panels)
        assert "No data" not in browser.execute_script("return document.body.innerText")
        shot = save_screenshot(browser, folder / "grafana-dashboard-preview.png")
    assert shot.stat().st_size > 50_000


def test_the_preview_command_writes_the_page_and_names_what_it_cannot_draw(rehearsal, tmp_path, capsys):
    out = tmp_path / "preview.html"
    arguments = ["--prometheus", rehearsal.prometheus.url, "--from", "now-10m", "-o", str(out)]
    assert preview.main([*arguments, "--require-data"]) == 0
    assert "Clusters by compliance state" in out.read_text()
    capsys.readouterr()

    # a datacenter nobody has, spelt with a regex character: no data, not a refused query
    assert preview.main([*arguments, "--var", "datacenter=eu-west.1"]) == 0
    assert "refused" not in capsys.readouterr().err
    assert preview.main([*arguments, "--var", "datacenter=eu-west.1", "--require-data"]) == 1
    assert "Clusters that are not compliant: No data" in capsys.readouterr().err
    assert preview.main([*arguments, "--var", f"datacenter={rehearsal.sites[rehearsal.lost]}"]) == 0

    dashboard = json.loads(DASHBOARD.read_text())
    dashboard["panels"][0]["type"] = "piechart"
    dashboard["panels"][1]["targets"][0]["expr"] = "sum(fleet_findings"
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(dashboard))
    assert preview.main([*arguments, "--dashboard", str(changed)]) == 1
    err = capsys.readouterr().err
    assert "Compliant: panel type 'piechart' is not drawn by the preview" in err
    assert "Non-compliant: Prometheus refused 'sum(fleet_findings'" in err
    assert preview.main([*arguments, "--var", "region=eu"]) == 2
    assert "--var region: the dashboard has no such query variable" in capsys.readouterr().err
