"""``fleet sweep`` as cron runs it: a subprocess, exit codes, drift, HTML, Prometheus, lock, pruning."""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser

from policykit import lose_keys, mutations_seen, write_policy
from prometheus_client.parser import text_string_to_metric_families
from sweepkit import run_fleet

from fleet.cli.policy_cmds import LOCK_NAME, exclusive_lock
from fleet.outcomes import ExitCode
from fleet.report import load_report
from fleet.report.drift import compliance

POLICY = "key_manager: onboard\nonboard: {require_all_nodes_keys: true}\n"


class Metrics(HTMLParser):
    """Collects ``data-metric`` figures and the rows of the rule, site and cluster tables."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: dict[str, int] = {}
        self.rules: dict[tuple[str, str], int] = {}
        self.sites: dict[str, dict[str, int]] = {}
        self.clusters: dict[str, str] = {}
        self._open: tuple[str, str] | None = None
        self._row: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "tr":
            self._row = a
        if "data-metric" in a:
            self._open = ("metric", a["data-metric"])
        elif "data-count" in a and "data-rule" in self._row:
            self.rules[(self._row["data-rule"], self._row["data-severity"])] = int(a["data-count"])
        elif "data-col" in a:
            self._open = ("col", a["data-col"])

    def handle_data(self, data: str) -> None:
        if self._open is None:
            return
        kind, name = self._open
        self._open = None
        if kind == "metric":
            self.metrics[name] = int(data)
        elif "data-site" in self._row:
            self.sites.setdefault(self._row["data-site"], {})[name] = int(data)
        elif "data-cluster" in self._row and name == "state":
            self.clusters[self._row["data-cluster"]] = data


async def test_two_sweeps_report_drift_html_and_prometheus_agree_with_json_and_old_reports_are_pruned(
    sim_fleet, tmp_path
):
    sim = await sim_fleet(clusters=10, mcc_pairs=1, seed=7)
    policy = write_policy(tmp_path / "policy.yml", POLICY)
    reports, html, prom = tmp_path / "sweeps", tmp_path / "sweep.html", tmp_path / "fleet.prom"
    base = ["sweep", "-i", str(sim.inventory), "-p", str(policy), "--limit", "key_manager=onboard"]
    base += ["--journal", str(tmp_path / "j.db"), "--report-dir", str(reports), "--keep", "1"]
    code, out, err = await run_fleet(*base, cwd=tmp_path)
    assert code == 0, out + err
    [first] = list(reports.glob("*.json"))

    target = next(n for n in sim.onboard_names() if sim.cluster(n).version[1] >= 12)
    lose_keys(sim, target)
    code, out, err = await run_fleet(*base, "--html", str(html), "--prom", str(prom), cwd=tmp_path)
    assert code == 1, out + err
    assert mutations_seen(sim) == 0
    [second] = list(reports.glob("*.json"))  # --keep 1 pruned the first
    assert second != first
    report = load_report(second)
    assert report.drift is not None
    assert [(f.cluster, f.rule) for f in report.drift.new] == [(target, "node_keys")]
    assert report.drift.resolved == []
    assert len(report.drift.unchanged) == len(report.findings) - 1

    parsed = Metrics()
    parsed.feed(html.read_text())
    ok = compliance(report)
    assert parsed.metrics["clusters"] == len(report.clusters) == report.summary.total
    assert parsed.metrics["compliant"] == sum(ok.values()) == len(ok) - 1
    assert parsed.metrics["findings"] == len(report.findings)
    assert parsed.metrics["drift_new"] == 1
    by_rule: dict[tuple[str, str], int] = {}
    for finding in report.findings:
        by_rule[(finding.rule, finding.severity)] = by_rule.get((finding.rule, finding.severity), 0) + 1
    assert parsed.rules == by_rule
    assert sum(site["clusters"] for site in parsed.sites.values()) == len(report.clusters)
    assert {name: value == "compliant" for name, value in parsed.clusters.items()} == ok
    page = html.read_text().replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not any(needle in page for needle in ("http://", "https://", " src=", "<link"))  # needs no network

    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    states = families["fleet_cluster_compliance_state"].samples
    compliant = {s.labels["cluster"]: s.value for s in states if s.labels["state"] == "compliant"}
    assert compliant == {name: float(value) for name, value in ok.items()}
    findings = {(s.labels["rule"], s.labels["severity"]): s.value for s in families["fleet_findings"].samples}
    assert findings == {key: float(n) for key, n in by_rule.items()}
    [stamp] = families["fleet_sweep_timestamp_seconds"].samples
    assert stamp.value == report.run.finished_at.timestamp()
    assert families["fleet_sweep_duration_seconds"].samples[0].value == report.summary.duration_s
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    for secret in sim.secret_values():
        assert secret not in html.read_text() and secret not in prom.read_text()


async def test_a_second_sweep_while_one_holds_the_lock_exits_locked_and_contacts_nothing(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=2)
    policy = write_policy(tmp_path / "policy.yml", POLICY)
    reports = tmp_path / "sweeps"
    with exclusive_lock(reports / LOCK_NAME):
        code, _, err = await run_fleet(
            "sweep", "-i", str(sim.inventory), "-p", str(policy), "--report-dir", str(reports),
            "--journal", str(tmp_path / "j.db"), cwd=tmp_path,
        )  # fmt: skip
    assert code == ExitCode.LOCKED
    assert "another sweep is running" in err and f"pid {os.getpid()}" in err
    assert sim.requests() == 0


async def test_a_bad_policy_exits_2_naming_the_field_and_contacts_nothing(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=3, seed=2)
    policy = write_policy(tmp_path / "policy.yml", "key_manager: onboard\nrequire: {status_healty: true}\n")
    code, _, err = await run_fleet("sweep", "-i", str(sim.inventory), "-p", str(policy), cwd=tmp_path)
    assert code == 2 and "require.status_healty" in err
    assert sim.requests() == 0


async def test_plan_prints_findings_actions_and_the_probe_it_did_not_run(sim_fleet, tmp_path):
    sim = await sim_fleet(clusters=6, seed=7)
    target = next(n for n in sim.onboard_names() if sim.cluster(n).version[1] >= 12)
    lose_keys(sim, target)
    policy = write_policy(tmp_path / "policy.yml", POLICY)
    code, out, err = await run_fleet(
        "plan", "-i", str(sim.inventory), "-p", str(policy), "--limit", "key_manager=onboard",
        "--journal", str(tmp_path / "j.db"), "--report", str(tmp_path / "plan.json"), cwd=tmp_path,
    )  # fmt: skip
    assert code == 1, out + err
    assert target in out and "node_keys" in out and "apply would sync the onboard key manager" in out
    assert "need a write-probe (not run; use `fleet plan --probe`): passphrase_current" in out
    assert json.loads((tmp_path / "plan.json").read_text())["run"]["kind"] == "plan"
    assert mutations_seen(sim) == 0
