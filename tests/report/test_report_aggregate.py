"""Fleet-wide aggregation: what failed where, and what to do next."""

from __future__ import annotations

import pytest
from report_builders import cluster, make_run, ontap_error, partial_cluster, step

from fleet.ontap.codes import PASSPHRASE_FAILED_SOME_NODES, code_info
from fleet.report import ErrorInfo, NodeRecord, PairRecord, build_report, failure_key, next_step_for


def test_partial_rotation_lists_stale_nodes_under_65536407() -> None:
    report = build_report(
        make_run(),
        [partial_cluster("cl-0002", {"cl-0002-02": 3}), partial_cluster("cl-0007", {"cl-0007-04": 1})],
    )

    group = report.failures.by_code["65536407"]
    assert group.clusters == ["cl-0002", "cl-0007"]
    assert [(ref.cluster, ref.node) for ref in group.nodes] == [
        ("cl-0002", "cl-0002-02"),
        ("cl-0007", "cl-0007-04"),
    ]
    assert group.message == "The passphrase update failed on some nodes."
    assert group.next_step == code_info(PASSPHRASE_FAILED_SOME_NODES).next_step
    assert group.count == 4  # two failed rotate steps and two node errors
    assert [(n.cluster, n.node, n.codes, n.keys_missing) for n in report.failures.by_node] == [
        ("cl-0002", "cl-0002-02", ["65536407"], 3),
        ("cl-0007", "cl-0007-04", ["65536407"], 1),
    ]


def test_nodes_missing_keys_without_their_own_error_are_attributed_to_the_partial_code() -> None:
    record = cluster(
        "cl-0003",
        "partial",
        steps=[step("rotate", "failed", ontap_error(65536407))],
        nodes=[NodeRecord(name="n1", keys_missing=0), NodeRecord(name="n2", keys_missing=5)],
    )

    group = build_report(make_run(), [record]).failures.by_code["65536407"]

    assert [ref.node for ref in group.nodes] == ["n2"]


def test_mixed_failures_are_grouped_by_code_and_by_cluster() -> None:
    clusters = [
        cluster("cl-ok"),
        cluster("cl-wrong", "failed", steps=[step("rotate", "failed", ontap_error(65536139))]),
        cluster(
            "cl-auth",
            "failed",
            steps=[
                step(
                    "read_cluster",
                    "failed",
                    ErrorInfo(code=None, message="401", http_status=401, kind="auth"),
                )
            ],
        ),
        cluster(
            "cl-slow",
            "failed",
            steps=[
                step(
                    "read_cluster",
                    "failed",
                    ErrorInfo(code=None, message="busy", http_status=503, kind="ontap"),
                ),
                step("rotate", "unknown", ErrorInfo(code=None, message="no answer in 30 s", kind="timeout")),
            ],
        ),
        partial_cluster("cl-part", {"cl-part-02": 2}),
    ]

    failures = build_report(make_run(), clusters).failures

    assert list(failures.by_code) == ["65536139", "65536407", "http_401", "http_503", "timeout"]
    assert failures.by_cluster == {
        "cl-auth": ["http_401"],
        "cl-part": ["65536407"],
        "cl-slow": ["http_503", "timeout"],
        "cl-wrong": ["65536139"],
    }
    assert "credentials" in failures.by_code["http_401"].next_step
    assert "Common Criteria" in failures.by_code["65536139"].next_step


def test_remediated_failures_still_count_and_name_the_remediated_cluster() -> None:
    report = build_report(
        make_run(),
        [
            partial_cluster("cl-fixed", {"cl-fixed-02": 2}, remediated=True),
            partial_cluster("cl-left", {"n": 1}),
        ],
    )

    group = report.failures.by_code["65536407"]
    assert group.clusters == ["cl-fixed", "cl-left"]
    assert group.remediated_clusters == ["cl-fixed"]
    assert report.summary.by_outcome["succeeded"] == 1
    assert report.summary.by_outcome["partial"] == 1


@pytest.mark.parametrize(
    ("error", "key"),
    [
        (ErrorInfo(code=65536139, message="x", http_status=400), "65536139"),
        (ErrorInfo(code=None, message="x", http_status=401, kind="auth"), "http_401"),
        (ErrorInfo(code=None, message="x", http_status=503, kind="transport"), "http_503"),
        (ErrorInfo(code=None, message="x", kind="timeout"), "timeout"),
        (ErrorInfo(code=None, message="x", http_status=504, kind="timeout"), "timeout"),
        (ErrorInfo(code=None, message="connection reset", kind="transport"), "transport"),
        (ErrorInfo(code=None, message="boom", kind="internal"), "internal"),
    ],
)
def test_failures_without_an_ontap_code_get_stable_keys(error: ErrorInfo, key: str) -> None:
    assert failure_key(error) == key


def test_every_key_gets_a_next_step() -> None:
    for key in (
        "65536139",
        "65536407",
        "http_401",
        "http_500",
        "http_418",
        "timeout",
        "transport",
        "99999999",
    ):
        assert next_step_for(key)
    assert "99999999" in next_step_for("99999999")


def test_unknown_code_takes_the_most_common_message() -> None:
    clusters = [
        cluster(f"cl-{i}", "failed", steps=[step("rotate", "failed", ontap_error(12345678, message))])
        for i, message in enumerate(["odd one", "usual", "usual"])
    ]

    assert build_report(make_run(), clusters).failures.by_code["12345678"].message == "usual"


def test_failed_cluster_without_recorded_error_is_still_accounted_for() -> None:
    report = build_report(make_run(), [cluster("cl-lost", "failed", reason="worker crashed")])

    assert report.failures.by_cluster == {"cl-lost": ["internal"]}
    assert report.failures.by_code["internal"].message == "worker crashed"


def test_summary_counts_every_outcome_including_zeros() -> None:
    pairs = [PairRecord(name="mcc-1", sites=("a", "b"), first="a", outcome="split", remediation="sync b")]
    report = build_report(make_run(), [cluster("a", requests=4), cluster("b", "failed", requests=6)], pairs)

    assert report.summary.total == 2
    assert report.summary.by_outcome["succeeded"] == 1
    assert report.summary.by_outcome["failed"] == 1
    assert report.summary.by_outcome["interrupted"] == 0
    assert set(report.summary.by_outcome) >= {"already_current", "partial", "skipped", "not_started", "split"}
    assert report.summary.pairs == {
        "rotated": 0,
        "split": 1,
        "failed": 0,
        "skipped": 0,
        "not_started": 0,
        "refused": 0,
        "unconfirmed": 0,
        "planned": 0,
    }
    assert report.summary.requests == 10
    assert report.summary.duration_s == 10.0
    assert report.summary.clusters_per_second == 0.2


def test_report_does_not_depend_on_input_order() -> None:
    clusters = [partial_cluster(f"cl-{i:02}", {f"cl-{i:02}-02": i}) for i in range(5)]

    forward = build_report(make_run(), clusters)
    backward = build_report(make_run(), list(reversed(clusters)))

    assert forward.model_dump_json() == backward.model_dump_json()
    assert [c.name for c in forward.clusters] == sorted(c.name for c in clusters)
