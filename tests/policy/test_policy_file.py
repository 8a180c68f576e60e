"""The policy file: strict YAML loading, errors naming file and field, and the published JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from fleet.errors import InputError
from fleet.policy import load_policy
from fleet.policy.schema import SCHEMA_PATH, schema_text

EXAMPLE = Path(__file__).parents[2] / "inventories" / "policy.example.yml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(text)
    return path


def test_the_example_policy_loads_and_normalises_servers():
    policy = load_policy(EXAMPLE)
    assert policy.key_manager == "onboard"
    assert policy.external.servers == ["10.0.0.5:5696", "10.0.0.6:5696"]


def test_a_bare_host_gets_the_kmip_port(tmp_path):
    policy = load_policy(write(tmp_path, "key_manager: external\nexternal: {servers: [kms.example]}\n"))
    assert policy.external.servers == ["kms.example:5696"]


def test_a_misspelt_key_is_refused_naming_file_and_field(tmp_path):
    path = write(tmp_path, "key_manager: onboard\nonboard:\n  require_all_node_keys: true\n")
    with pytest.raises(InputError) as caught:
        load_policy(path)
    assert caught.value.file == str(path)
    assert caught.value.field == "onboard.require_all_node_keys"


def test_external_without_servers_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"external\.servers"):
        load_policy(write(tmp_path, "key_manager: external\n"))


def test_more_than_four_servers_is_refused(tmp_path):
    servers = ", ".join(f"10.0.0.{i}:5696" for i in range(5))
    with pytest.raises(InputError) as caught:
        load_policy(write(tmp_path, f"key_manager: external\nexternal: {{servers: [{servers}]}}\n"))
    assert caught.value.field == "external.servers"


def test_duplicate_yaml_keys_are_refused(tmp_path):
    with pytest.raises(InputError, match="duplicate key"):
        load_policy(write(tmp_path, "key_manager: onboard\nkey_manager: external\n"))


def test_checked_in_schema_matches_the_model():
    assert SCHEMA_PATH.read_text() == schema_text(), "regenerate: python -m fleet.policy.schema"


def test_the_example_validates_against_the_published_schema_and_a_typo_does_not():
    schema = json.loads(SCHEMA_PATH.read_text())
    document = yaml.safe_load(EXAMPLE.read_text())
    jsonschema.validate(document, schema)
    document["require"]["status_healty"] = True
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)
