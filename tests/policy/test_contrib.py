"""contrib/: the Grafana dashboard and the Prometheus alert rules query only what fleet writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from sweepkit import monitored_sweep, promtool, samples

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "contrib" / "grafana" / "fleet-dashboard.json"
RULES = ROOT / "contrib" / "prometheus" / "fleet-rules.yml"
SCRAPE_LABELS = {"job", "instance"}  # what Prometheus adds when it scrapes node-exporter


def test_promtool_accepts_the_alert_rules():
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr


def dashboard_queries() -> list[str]:
    """Every PromQL text of the dashboard: panel targets and templating queries."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "expr" and isinstance(value, str):
                    found.append(value)
                elif key == "query" and isinstance(value, dict) and isinstance(value.get("query"), str):
                    found.append(value["query"])
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(DASHBOARD.read_text()))
    return found


def rule_queries() -> list[str]:
    return [rule["expr"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def names_and_labels(expr: str) -> tuple[set[str], set[str]]:
    """The fleet metric names an expression reads, and the label names it filters or groups on."""
    text = re.sub(r'"[^"]*"', '""', expr)  # label values and strings are not names
    metrics = set(re.findall(r"\bfleet_[a-z0-9_]+", text))
    labels: set[str] = set()
    for selector in re.findall(r"\{([^}]*)\}", text):
        labels |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", selector))
    for group in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
        labels |= {name.strip() for name in group.split(",") if name.strip()}
    labels |= set(re.findall(r"label_values\((?:[^,]*,)?\s*([a-z_]+)\s*\)", text))
    return metrics, labels


async def test_every_metric_and_label_the_dashboard_and_the_rules_query_is_one_fleet_writes(
    sim_fleet, tmp_path
):
    swept = await monitored_sweep(sim_fleet, tmp_path)
    found = samples(swept.prom)
    written_labels = {
        label for family in found.values() for s in family for label in s.labels
    } | SCRAPE_LABELS
    queries = dashboard_queries() + rule_queries()
    assert len(dashboard_queries()) >= 8 and len(rule_queries()) >= 4
    used: set[str] = set()
    for expr in queries:
        metrics, labels = names_and_labels(expr)
        assert metrics, f"{expr!r} reads no fleet metric"
        assert metrics <= set(found), (
            f"{expr!r} reads {sorted(metrics - set(found))}, which fleet never writes"
        )
        assert labels <= written_labels, f"{expr!r} uses labels {sorted(labels - written_labels)}"
        used |= metrics
    assert {"fleet_cluster_compliance_state", "fleet_passphrase_age_seconds", "fleet_findings"} <= used
    assert {"fleet_last_complete_sweep_timestamp_seconds", "fleet_cluster_reachable"} <= used


def test_the_dashboard_takes_its_prometheus_datasource_as_a_variable():
    dashboard = json.loads(DASHBOARD.read_text())
    [variable] = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    sources = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("datasource"), dict):
                sources.append(node["datasource"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(dashboard["panels"])
    assert sources and all(s == {"type": "prometheus", "uid": f"${{{variable['name']}}}"} for s in sources)
