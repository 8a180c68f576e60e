"""The policy's JSON Schema, generated from the model and checked in as ``schema.json``.

Editors and CI validate policy files without fleet; a test fails when the model and the file
disagree. Regenerate with ``python -m fleet.policy.schema``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fleet.policy.model import Policy

SCHEMA_PATH = Path(__file__).with_name("schema.json")
_SCHEMA_URN = "urn:fleet:policy:v1"


def policy_schema() -> dict[str, Any]:
    schema = Policy.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": _SCHEMA_URN, **schema}


def schema_text() -> str:
    return json.dumps(policy_schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")


if __name__ == "__main__":
    main()
