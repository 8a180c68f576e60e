"""The terminal summary and `fleet report show`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from report_builders import cluster, make_run, partial_cluster

import fleet.cli.report_cmd  # noqa: F401  (attaches `report` to the `fleet` group)
from fleet.cli.app import main
from fleet.report import PairRecord, Report, build_report, summary_text, write_report


def _report() -> Report:
    clusters = [cluster(f"cl-{i:02}") for i in range(3)]
    clusters += [partial_cluster(f"cl-p{i}", {f"cl-p{i}-02": 2}) for i in range(7)]
    pairs = [
        PairRecord(name="mcc-a", sites=("cl-00", "cl-01"), first="cl-00", outcome="rotated"),
        PairRecord(
            name="mcc-b",
            sites=("cl-02", "cl-p0"),
            first="cl-02",
            outcome="split",
            reason="partner unreachable after the rotation",
            remediation="run `fleet sync` on cl-p0 with the NEW passphrase",
        ),
    ]
    return build_report(make_run(), clusters, pairs)


def test_summary_names_run_counts_failures_and_next_step() -> None:
    text = summary_text(_report(), path="reports/x.json")

    assert "rotate 20251129-0400-abcd  failed  exit 1" in text
    assert "10: succeeded 3 · partial 7" in text
    assert "65536407" in text and "The passphrase update failed on some nodes." in text
    assert "14 occurrence(s) on 7 cluster(s)" in text
    assert "next: The passphrase changed but some nodes keep stale keys" in text
    assert text.rstrip().endswith("reports/x.json")


def test_summary_highlights_split_pairs_with_their_remediation() -> None:
    text = summary_text(_report())

    assert "2: rotated 1 · split 1" in text
    assert "split     mcc-b (cl-02, cl-p0): run `fleet sync` on cl-p0 with the NEW passphrase" in text


def test_summary_lists_only_a_few_names_per_code() -> None:
    text = summary_text(_report(), max_names=3)

    assert "cl-p0, cl-p1, cl-p2 … and 4 more" in text
    assert "cl-p3" not in text.split("nodes:")[0].split("occurrence")[1]


def test_summary_of_a_clean_run_says_no_failures() -> None:
    report = build_report(make_run(outcome="succeeded", exit_code=0), [cluster("cl-a")])

    assert "failures  none" in summary_text(report)


def test_report_show_prints_the_summary_again(tmp_path: Path) -> None:
    path = write_report(_report(), tmp_path / "run.json")

    result = CliRunner().invoke(main, ["report", "show", str(path)])

    assert result.exit_code == 0, result.output
    assert "65536407" in result.output
    assert str(path) in result.output


def test_report_show_json_prints_the_report(tmp_path: Path) -> None:
    path = write_report(_report(), tmp_path / "run.json")

    result = CliRunner().invoke(main, ["report", "show", "--json", str(path)])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["failures"]["by_code"]["65536407"]["count"] == 14


def test_report_show_missing_file_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "show", str(tmp_path / "nope.json")])

    assert result.exit_code == 2
    assert "no such report file" in result.output
    assert "nope.json" in result.output


def test_report_show_of_a_non_report_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yml"
    path.write_text("clusters: []\n")

    result = CliRunner().invoke(main, ["report", "show", str(path)])

    assert result.exit_code == 2
    assert "not a fleet report" in result.output


def test_summary_puts_recovered_errors_apart_from_failures_with_no_next_step() -> None:
    clusters = [partial_cluster(f"cl-f{i}", {f"cl-f{i}-02": 2}, remediated=True) for i in range(8)]
    clusters.append(partial_cluster("cl-left", {"cl-left-02": 1}))
    text = summary_text(build_report(make_run(), clusters))

    failures, recovered = text.split("\nrecovered")
    assert "65536407" in failures and "cl-left" in failures and "next:" in failures
    assert "cl-f0" not in failures and "remediated" not in failures
    assert "2 occurrence(s) on 1 cluster(s): cl-left" in failures
    assert "16 occurrence(s) on 8 cluster(s)" in recovered
    assert "remediated by fleet: 8 cluster(s)" in recovered
    assert "next:" not in recovered


def test_summary_of_a_run_that_recovered_everything_says_no_failures() -> None:
    clusters = [partial_cluster("cl-f", {"cl-f-02": 2}, remediated=True)]
    text = summary_text(build_report(make_run(outcome="succeeded", exit_code=0), clusters))

    assert re.search(r"^failures +none$", text, re.MULTILINE)
    assert re.search(r"^recovered +1 code\(s\) on 1 cluster\(s\)", text, re.MULTILINE)


def test_summary_shows_requests_sent_again_one_line_per_cause_on_the_side_their_cluster_ended() -> None:
    clusters = [
        cluster("cl-a", retries={"http_503": 3, "http_429": 1}),
        cluster("cl-b", retries={"http_503": 2}),
        cluster("cl-down", "failed", reason="cannot connect", retries={"connect": 4}),
    ]
    text = summary_text(build_report(make_run(), clusters))

    failures, recovered = text.split("\nrecovered")
    assert re.search(
        r"^retried +connect: 4 sent again \(no connection: nothing was sent\) on "
        r"1 cluster\(s\) that did not end well: cl-down$",
        failures,
        re.MULTILINE,
    )
    assert "cl-down" not in recovered and "connect" not in recovered
    assert recovered.startswith("  6 request(s) sent again after transient answers; nothing left to do")
    assert re.search(
        r"^retried +http_503: 5 sent again \(503 Service Unavailable\) on 2 cluster\(s\), "
        r"all ended well: cl-a, cl-b$",
        recovered,
        re.MULTILINE,
    )
    http_429 = (
        r"^ +http_429: 1 sent again \(429 Too Many Requests: ONTAP's request limit\) on 1 cluster\(s\), "
    )
    assert re.search(http_429 + "all ended well: cl-a$", recovered, re.MULTILINE)
