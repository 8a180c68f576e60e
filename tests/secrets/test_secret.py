"""``Secret`` never shows its value: repr, str, f-strings, JSON, pickle, pydantic."""

from __future__ import annotations

import copy
import json
import pickle

import pytest
from pydantic import BaseModel

from fleet.secrets import SCRUBBER, Secret

VALUE = "s3cret-passphrase-for-repr-tests-0123456789"


class Holder(BaseModel):
    passphrase: Secret
    name: str


def test_repr_str_and_format_hide_the_value() -> None:
    secret = Secret(VALUE)
    assert repr(secret) == str(secret) == f"{secret}" == "Secret('***')"
    assert VALUE not in repr([secret, {"k": secret}])
    assert secret.reveal() == VALUE


def test_plain_json_and_pickle_refuse_a_secret() -> None:
    secret = Secret(VALUE)
    with pytest.raises(TypeError):
        json.dumps({"p": secret})
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_pydantic_model_serialises_secret_as_stars() -> None:
    holder = Holder(passphrase=VALUE, name="c1")
    assert isinstance(holder.passphrase, Secret) and holder.passphrase.reveal() == VALUE
    assert holder.model_dump()["passphrase"] == "***"
    assert VALUE not in holder.model_dump_json() and VALUE not in repr(holder)
    assert Holder.model_json_schema()["properties"]["passphrase"]["format"] == "password"


def test_equality_and_hash_are_by_value_and_secret_is_immutable() -> None:
    a, b = Secret(VALUE), Secret(VALUE)
    assert a == b and hash(a) == hash(b) and a != Secret(VALUE + "x") and a != VALUE
    assert copy.deepcopy(a) is a
    with pytest.raises(AttributeError):
        a._value = "other"  # type: ignore[misc]


def test_creating_a_secret_registers_it_with_the_scrubber() -> None:
    Secret("registered-on-creation-4711")
    assert SCRUBBER.scrub("error: registered-on-creation-4711 rejected") == "error: *** rejected"
