"""Fleet-wide aggregation: what failed where, and what to do next."""

from __future__ import annotations

import pytest
from report_builders import cluster, make_run, ontap_error, partial_cluster, step

from fleet.ontap.codes import PASSPHRASE_FAILED_SOME_NODES, code_info
from fleet.report import ErrorInfo, NodeRecord, PairRecord, build_report, failure_key, next_step_for
from fleet.report.aggregate import REFUSAL_KEYS


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


def test_a_remediated_failure_is_recovered_and_only_what_is_left_is_a_failure() -> None:
    report = build_report(
        make_run(),
        [
            partial_cluster("cl-fixed", {"cl-fixed-02": 2}, remediated=True),
            partial_cluster("cl-left", {"n": 1}),
        ],
    )

    failed = report.failures.by_code["65536407"]
    assert (failed.clusters, failed.count, failed.remediated_clusters) == (["cl-left"], 2, [])
    assert report.failures.by_cluster == {"cl-left": ["65536407"]}
    assert [n.cluster for n in report.failures.by_node] == ["cl-left"]
    recovered = report.recovered.by_code["65536407"]
    assert (recovered.clusters, recovered.count) == (["cl-fixed"], 2)
    assert recovered.remediated_clusters == ["cl-fixed"]
    assert [(ref.cluster, ref.node) for ref in recovered.nodes] == [("cl-fixed", "cl-fixed-02")]
    assert report.recovered.by_cluster == {"cl-fixed": ["65536407"]}
    assert report.summary.by_outcome["succeeded"] == 1
    assert report.summary.by_outcome["partial"] == 1


def test_an_error_retried_on_a_cluster_that_ended_fine_is_recovered_not_a_failure() -> None:
    lost = ErrorInfo(code=None, message="HTTP 504 without an ONTAP error body", http_status=504)
    steps = [step("change_passphrase", "failed", lost), step("probe_new_passphrase"), step("verify")]
    record = cluster("cl-a", steps=steps)
    already = cluster("cl-b", "already_current", steps=[step("rotate", "unknown", lost), step("probe")])

    report = build_report(make_run(outcome="succeeded", exit_code=0), [record, already])

    assert report.failures.by_code == {} and report.failures.by_cluster == {}
    group = report.recovered.by_code["http_504"]
    assert (group.clusters, group.count, group.message) == (["cl-a", "cl-b"], 2, lost.message)


def test_an_expected_refusal_has_its_key_kind_and_next_step_never_internal() -> None:
    key = "mcc_partner_unlisted"
    refusal = ErrorInfo(code=None, message="ONTAP reports a MetroCluster partner", kind="refused", key=key)
    record = cluster("cl-a", "refused", steps=[step("read_cluster"), step("precheck", "failed", refusal)])

    failures = build_report(make_run(), [record]).failures

    assert list(failures.by_code) == ["mcc_partner_unlisted"]
    group = failures.by_code["mcc_partner_unlisted"]
    assert group.kind == "refused" and "metrocluster_partner" in group.next_step
    assert "file an issue" not in group.next_step


def test_a_refusal_on_a_cluster_that_ended_fine_is_neither_failure_nor_recovered() -> None:
    """A plan's probe the ledger did not allow: the step says so; nothing failed, nothing recovered."""
    refusal = ErrorInfo(code=None, message="stale reference", kind="refused", key="stale_reference")
    record = cluster("cl-a", steps=[step("read_cluster"), step("ledger", "skipped", refusal)])

    report = build_report(make_run(), [record])

    assert report.failures.by_code == {} and report.recovered.by_code == {}


def test_a_failed_note_without_an_error_beside_a_recorded_error_is_not_internal() -> None:
    record = cluster(
        "cl-a",
        "failed",
        steps=[step("read_cluster", "failed", ontap_error(6691623)), step("precheck", "failed", detail="no")],
    )

    assert list(build_report(make_run(), [record]).failures.by_code) == ["6691623"]


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
        (ErrorInfo(code=None, message="x", kind="refused", key="mcc_mismatch"), "mcc_mismatch"),
        (ErrorInfo(code=None, message="x", kind="local", key="secret_store"), "secret_store"),
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
    for key in REFUSAL_KEYS:
        assert "file an issue" not in next_step_for(key) and next_step_for(key) != next_step_for("refused")
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


def test_requests_sent_again_are_counted_by_cause_on_the_side_their_cluster_ended() -> None:
    """A transient answer the client rode out is no error; a failed cluster's are never "recovered"."""
    calm = cluster("cl-calm", requests=5)
    busy = cluster("cl-busy", requests=12, retries={"http_503": 3, "http_429": 1})
    also = cluster("cl-also", requests=7, retries={"http_503": 2})
    broken = ErrorInfo(code=262157, message="busy", http_status=503)
    lost = cluster(
        "cl-lost", "failed", steps=[step("read_cluster", "failed", broken)], retries={"http_503": 4}
    )

    report = build_report(make_run(), [calm, busy, also, lost])

    retried = report.recovered.retried
    assert list(retried) == ["http_429", "http_503"]
    assert (retried["http_503"].count, retried["http_503"].clusters) == (5, ["cl-also", "cl-busy"])
    assert (retried["http_429"].count, retried["http_429"].clusters) == (1, ["cl-busy"])
    assert retried["http_429"].message == "429 Too Many Requests: ONTAP's request limit"
    assert report.recovered.by_code == {} and report.recovered.by_cluster == {}  # no error was recovered
    failed = report.failures.retried["http_503"]
    assert (failed.count, failed.clusters) == (4, ["cl-lost"])
    assert list(report.failures.by_code) == ["262157"]  # the failure itself, once; retries are apart
    assert report.failures.by_cluster == {"cl-lost": ["262157"]}
    assert report.summary.requests == 5 + 12 + 7  # retries are requests already counted, not extra


def test_a_skipped_clusters_retries_are_failures_only_when_a_failure_is_listed_for_it() -> None:
    """An external key manager skipped by a rotation has nothing left to do; a refused or stopped one has."""
    refusal = ErrorInfo(code=None, message="no passphrase", kind="refused", key="no_passphrase")
    external = cluster("cl-ext", "skipped", retries={"http_503": 1})
    unsent = cluster(
        "cl-nopass", "skipped", steps=[step("precheck", "failed", refusal)], retries={"connect": 2}
    )
    stopped = cluster("cl-stopped", "interrupted", retries={"timeout": 1})

    report = build_report(make_run(), [external, unsent, stopped])

    assert {cause: group.clusters for cause, group in report.recovered.retried.items()} == {
        "http_503": ["cl-ext"]
    }
    assert {cause: group.clusters for cause, group in report.failures.retried.items()} == {
        "connect": ["cl-nopass"],
        "timeout": ["cl-stopped"],
    }
