"""The report's JSON Schema, generated from the pydantic models and checked in as ``schema.json``.

Consumers (auditors' tooling, CI) validate reports without importing fleet; a test fails when the
models and the checked-in file disagree. Regenerate with ``python -m fleet.report.schema``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fleet.report.model import Report

SCHEMA_PATH = Path(__file__).with_name("schema.json")
_SCHEMA_URN = "urn:fleet:report:v1"  # the report's own "schema" field says fleet.report/v1


def report_schema() -> dict[str, Any]:
    """The JSON Schema of a written report (serialization mode: every field is present in the file)."""
    schema = Report.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": _SCHEMA_URN, **schema}


def schema_text() -> str:
    return json.dumps(report_schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")


if __name__ == "__main__":
    main()
