"""The checked-in JSON Schema matches the models, and written reports validate against it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from report_builders import cluster, make_run, partial_cluster

from fleet.report import build_report, load_report, write_report
from fleet.report.schema import SCHEMA_PATH, schema_text


def test_checked_in_schema_matches_the_models() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "fleet/report/schema.json is out of date: run `.venv/bin/python -m fleet.report.schema` and commit it"
    )


def test_written_report_validates_against_the_checked_in_schema(tmp_path: Path) -> None:
    report = build_report(make_run(), [cluster("cl-a"), partial_cluster("cl-b", {"cl-b-02": 2})])
    path = write_report(report, tmp_path / "run.json")

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(path.read_text(encoding="utf-8")), schema)


def test_a_report_with_retries_validates_and_one_from_before_them_still_loads(tmp_path: Path) -> None:
    clusters = [cluster("cl-a", retries={"http_503": 2}), cluster("cl-b", "failed", retries={"connect": 4})]
    path = write_report(build_report(make_run(), clusters), tmp_path / "run.json")
    written = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(written, json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    assert written["recovered"]["retried"]["http_503"]["count"] == 2

    for record in written["clusters"]:  # a report written before retries were reported
        del record["retries"]
    del written["failures"]["retried"], written["recovered"]["retried"]
    path.write_text(json.dumps(written), encoding="utf-8")
    old = load_report(path)
    assert old.recovered.retried == {} and old.clusters[0].retries == {}
