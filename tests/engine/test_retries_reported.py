"""Requests fleet sent again after a transient answer are in the report, counted as the simulator answered."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from enginekit import FAST_HTTP, NEW_PASSPHRASE, by_name

import fleet.cli.report_cmd  # noqa: F401  (attaches `report` to the `fleet` group)
from fleet.cli.app import main
from fleet.report import Report, summary_text, write_report

CAUSES = {"503": "http_503", "429": "http_429"}  # what the simulator injected → the report's cause


def injected(sim, name: str) -> dict[str, int]:
    """The simulator's own count of the transient answers it sent the cluster, as report causes."""
    counts = sim.cluster(name).counters.injected
    return {CAUSES[status]: count for status, count in counts.items() if status in CAUSES and count}


async def test_a_rotation_that_rode_out_503s_and_429s_reports_them_by_cause_and_per_cluster(
    sim_fleet, runner, tmp_path: Path
):
    sim = await sim_fleet(clusters=10, seed=5, faults="http503=0.1,http429=0.05")
    sim.fleet.settings.retry_after_seconds = 0
    report = await runner.rotate(sim.inventory)

    assert report.run.exit_code == 0, [(r.name, r.reason) for r in report.clusters if r.reason]
    assert (report.failures.by_code, report.failures.retried) == ({}, {})
    assert report.recovered.by_code == {}  # every transient answer was ridden out inside its request
    truth = {name: injected(sim, name) for name in sim.fleet.clusters}
    for record in report.clusters:
        assert record.retries == truth[record.name], record.name
    for cause in CAUSES.values():
        hit = {name: counts[cause] for name, counts in truth.items() if cause in counts}
        assert hit, f"the simulator sent no {cause}: pick another seed"
        group = report.recovered.retried[cause]
        assert (group.count, group.clusters) == (sum(hit.values()), sorted(hit))
    assert set(report.recovered.retried) == set(CAUSES.values())

    text = summary_text(report)
    count_503 = report.recovered.retried["http_503"].count
    assert re.search(
        rf"^recovered +{count_503 + report.recovered.retried['http_429'].count} request", text, re.M
    )
    assert re.search(
        rf"^retried +http_503: {count_503} sent again \(503 Service Unavailable\) on ", text, re.M
    )
    assert re.search(r"^ +http_429: \d+ sent again \(429 Too Many Requests", text, re.M)
    shown = _report_show(report, tmp_path)
    assert f"http_503: {count_503} sent again" in shown and "http_429: " in shown


async def test_a_cluster_that_failed_after_retries_has_them_with_its_failure_never_as_recovered(
    sim_fleet, runner
):
    sim = await sim_fleet(clusters=4, seed=6)
    storm, down, *fine = sim.onboard_names()
    sim.cluster(storm).faults.http503_rate = 1.0  # ONTAP's own 503 on every request
    sim.unreachable([down])
    report = await runner.rotate(sim.inventory)
    rows = by_name(report)

    assert (rows[storm].outcome, rows[down].outcome) == ("failed", "failed")
    sent = sim.cluster(storm).counters.injected["503"]
    attempts = FAST_HTTP.retries + 1
    assert sent % attempts == 0  # every request met 503 on each attempt; the last one ended it
    assert rows[storm].retries == {"http_503": sent // attempts * FAST_HTTP.retries}
    assert rows[down].retries == {"connect": FAST_HTTP.retries}  # nothing ever reached it
    assert report.failures.retried["http_503"].clusters == [storm]
    assert report.failures.retried["connect"].clusters == [down]
    assert report.failures.by_code["7"].clusters == [storm]  # the 503 that ended it, once, by ONTAP's code
    recovered_on = {name for group in report.recovered.retried.values() for name in group.clusters}
    assert not recovered_on & {storm, down}
    assert all(rows[name].outcome == "succeeded" and rows[name].retries == {} for name in fine)

    failures, _, recovered = summary_text(report).partition("\nrecovered")
    assert re.search(
        rf"^retried +\S+: \d+ sent again .* that did not end well: ({storm}|{down})$", failures, re.M
    )
    assert storm not in recovered and down not in recovered


async def test_retries_of_a_cluster_stopped_by_its_deadline_are_kept_with_its_failure(sim_fleet, runner):
    sim = await sim_fleet(clusters=2, seed=6)
    name = sim.onboard_names()[0]
    sim.cluster(name).faults.http429_rate = 1.0  # busy for good: Retry-After, capped, then again
    report = await runner.rotate(sim.inventory, limit=name, cluster_deadline=0.5)
    record = by_name(report)[name]

    assert record.outcome == "failed" and "deadline" in report.failures.by_code
    sent = sim.cluster(name).counters.injected["429"]
    assert 1 <= sent - 1 <= record.retries["http_429"] <= sent  # one may have been in flight at the deadline
    assert report.failures.retried["http_429"].clusters == [name]
    assert report.recovered.retried == {}


async def test_no_secret_reaches_the_report_with_the_retries(sim_fleet, runner, tmp_path: Path):
    sim = await sim_fleet(clusters=6, seed=5, faults="http503=0.15,http429=0.1")
    sim.fleet.settings.retry_after_seconds = 0
    report = await runner.rotate(sim.inventory)
    written = write_report(report, tmp_path / "run.json").read_text(encoding="utf-8")

    document = json.loads(written)
    assert document["recovered"]["retried"] and any(record["retries"] for record in document["clusters"])
    every_output = written + summary_text(report) + _report_show(report, tmp_path)
    for secret in [*sim.secret_values(), NEW_PASSPHRASE]:
        assert secret not in every_output


def _report_show(report: Report, tmp_path: Path) -> str:
    """What `fleet report show` prints for the written report."""
    path = write_report(report, tmp_path / "shown.json")
    result = CliRunner().invoke(main, ["report", "show", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output
