"""The sweep page as HTML text: states, counts, labels and the drift section (the browser test clicks)."""

from __future__ import annotations

from html_page import Page
from report_builders import cluster, make_run

from fleet.outcomes import ComplianceState, Unknown
from fleet.report import ClusterRecord, Drift, Finding, Report, build_report
from fleet.report.html import render_html
from fleet.report.model import ClusterCompliance, Compliance

SITES = {"cl-a": "east", "cl-b": "west", "cl-c": "east", "cl-d": "west", "cl-e": "east", "cl-f": "west"}


def finding(name: str, rule: str, severity: str = "critical", message: str = "wrong") -> Finding:
    return Finding(cluster=name, rule=rule, severity=severity, message=message)


def sweep(clusters: list[ClusterRecord], findings: list[Finding], drift: Drift | None = None) -> Report:
    run = make_run(kind="sweep", outcome="non_compliant")
    return build_report(run, clusters, findings=findings, drift=drift)


def page(report: Report) -> Page:
    return Page(render_html(report, SITES))


def states(parsed: Page) -> dict[str, str]:
    table = parsed.tables["clusters"]
    return {row.attrs["data-cluster"]: table.cell(row, "state").text for row in table.rows}


def reasons(parsed: Page) -> dict[str, str]:
    table = parsed.tables["clusters"]
    return {row.attrs["data-cluster"]: table.cell(row, "reason").text for row in table.rows}


def mixed_fleet() -> Report:
    """cl-a compliant, cl-b non-compliant, cl-c unreachable, cl-d not reached, cl-e interrupted,
    cl-f answered as another cluster (refused)."""
    unreachable = "no usable answer from the cluster: GET /api/cluster: cannot connect"
    return sweep(
        [
            cluster("cl-a", reason="compliant"),
            cluster("cl-b", reason="non-compliant: 1 finding(s)"),
            cluster("cl-c", "failed", reason=unreachable),
            cluster("cl-d", "not_started"),
            cluster("cl-e", "interrupted"),
            cluster("cl-f", "refused", reason="the cluster at 10.0.0.6 is cl-x, not cl-f"),
        ],
        [
            finding("cl-b", "node_keys"),
            finding("cl-c", "readable", message=f"the cluster could not be read: {unreachable}"),
            finding("cl-f", "readable", message="the cluster could not be read: it is cl-x, not cl-f"),
        ],
    )


def test_unreachable_and_unchecked_clusters_are_unknown_with_their_reason_not_non_compliant() -> None:
    parsed = page(mixed_fleet())

    assert states(parsed) == {
        "cl-a": "compliant",
        "cl-b": "non-compliant",
        "cl-c": "unknown",
        "cl-d": "unknown",
        "cl-e": "unknown",
        "cl-f": "unknown",
    }
    why = reasons(parsed)
    assert why["cl-c"].startswith("could not be read: no usable answer from the cluster")
    assert "not checked" in why["cl-d"] and "not checked" in why["cl-e"]
    assert "interrupted" in why["cl-e"]
    assert why["cl-f"] == "not checked: the cluster at 10.0.0.6 is cl-x, not cl-f"
    rows = {row.attrs["data-cluster"]: row for row in parsed.tables["clusters"].rows}
    assert all("unknown" in rows[name].attrs["class"].split() for name in ("cl-c", "cl-d", "cl-e", "cl-f"))
    assert (parsed.metrics["compliant"], parsed.metrics["non_compliant"], parsed.metrics["unknown"]) == (
        "1",
        "1",
        "4",
    )
    assert "1 of 6 clusters compliant (16.7%), 1 non-compliant, 4 unknown" in parsed.text


def test_a_state_the_report_records_is_shown_as_recorded() -> None:
    """A report's ``compliance`` section (a sweep's verdicts) is not second-guessed by the page."""
    reason = "the sweep was interrupted before its findings were final"
    report = sweep([cluster("cl-a").model_copy(update={"reason": reason}), cluster("cl-b")], [])
    verdicts = {
        "cl-a": ClusterCompliance(state=ComplianceState.UNKNOWN, unknown=Unknown.INTERRUPTED),
        "cl-b": ClusterCompliance(state=ComplianceState.COMPLIANT),
    }
    compliance = Compliance(
        complete=False, by_state={"compliant": 1, "non_compliant": 0, "unknown": 1}, clusters=verdicts
    )
    parsed = page(report.model_copy(update={"compliance": compliance}))

    assert states(parsed) == {"cl-a": "unknown", "cl-b": "compliant"}
    assert reasons(parsed)["cl-a"] == f"not checked: {reason}"


def test_non_compliant_clusters_come_first_then_unknown_then_compliant() -> None:
    report = sweep(
        [cluster(name) for name in ("cl-a", "cl-b", "cl-e", "cl-f")] + [cluster("cl-c", "failed")],
        [finding("cl-e", "key_store"), finding("cl-f", "node_keys"), finding("cl-f", "key_store")],
    )

    parsed = page(report)

    assert list(states(parsed).items()) == [
        ("cl-f", "non-compliant"),  # two findings before one
        ("cl-e", "non-compliant"),
        ("cl-c", "unknown"),
        ("cl-a", "compliant"),
        ("cl-b", "compliant"),
    ]
    header = {cell.text: cell.attrs.get("aria-sort") for cell in parsed.tables["clusters"].header}
    assert header["state"] == "ascending"


def test_the_findings_count_and_the_reason_of_a_cluster_count_the_same_findings() -> None:
    report = sweep(
        [cluster("cl-a", reason="non-compliant: 1 finding(s)"), cluster("cl-b", reason="compliant")],
        [
            finding("cl-a", "passphrase_age", "warning"),
            finding("cl-a", "node_keys", "info", "not verifiable on this version"),
            finding("cl-a", "key_store", "info", "not verifiable on this version"),
            finding("cl-b", "node_keys", "info", "not verifiable on this version"),
        ],
    )

    parsed = page(report)
    table = parsed.tables["clusters"]
    rows = {row.attrs["data-cluster"]: row for row in table.rows}

    assert table.cell(rows["cl-a"], "findings").text == "1"
    assert table.cell(rows["cl-a"], "info").text == "2"
    assert reasons(parsed)["cl-a"] == (
        "1 finding: passphrase_age (warning); 2 info, not counted: key_store, node_keys"
    )
    assert table.cell(rows["cl-b"], "findings").text == "0"
    assert reasons(parsed)["cl-b"] == "compliant; 1 info, not counted: node_keys"
    sites = {row.attrs["data-site"]: row for row in parsed.tables["sites"].rows}
    assert parsed.tables["sites"].cell(sites["east"], "findings").text == "1"
    assert parsed.tables["sites"].cell(sites["east"], "info").text == "2"
    assert parsed.metrics["findings"] == "4"  # its label says what it counts: every severity
    assert "Findings all severities 4 critical 0 warning 1 info 3" in parsed.text


def test_two_severities_of_one_rule_are_told_apart_by_their_labels_not_by_colour_alone() -> None:
    report = sweep(
        [cluster("cl-a"), cluster("cl-b")],
        [finding("cl-a", "key_store", "critical"), finding("cl-b", "key_store", "info")],
    )

    parsed = page(report)

    assert sorted(parsed.labels) == ["key_store critical", "key_store info"]


def test_a_sweep_with_no_change_since_the_last_one_says_so() -> None:
    same = [finding("cl-a", "node_keys")]
    parsed = page(sweep([cluster("cl-a")], same, Drift(unchanged=same)))

    assert "No change since the last sweep: 1 finding unchanged." in parsed.text
    assert "drift" not in parsed.tables  # no empty table


def test_a_first_sweep_says_there_is_nothing_to_compare_with() -> None:
    parsed = page(sweep([cluster("cl-a")], []))

    assert "No earlier sweep to compare with" in parsed.text
    assert "No findings." in parsed.text
