"""The inventory file format (DESIGN.md "Inventory") as strict pydantic models, before inheritance.

Unknown keys are errors (``extra="forbid"``): a misspelt ``metrocluster_partnr`` must not quietly
turn a MetroCluster pair into two standalone clusters. Numbers are accepted where text is expected
(``rack: 12``). Names are restricted to letters, digits, ``.``, ``_`` and ``-`` because they end up in
file names (``file:secrets/{cluster}.okm``) and in ``--limit`` expressions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fleet.errors import InputError

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=128)]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class TlsDoc(_Doc):
    verify: bool | None = None
    ca_file: str | None = None


class SettingsDoc(_Doc):
    """What defaults, a group and a cluster may each set; unset fields inherit."""

    username: str | None = None
    password: str | None = None  # a secret reference, never a value
    tls: TlsDoc | None = None
    vars: dict[str, str] | None = None
    labels: dict[str, str] | None = None


class ClusterDoc(SettingsDoc):
    name: Name
    address: str
    groups: list[Name] = []
    metrocluster_partner: Name | None = None
    ontap_name: str | None = None  # the name the cluster itself reports, when it differs from ``name``


class FileDoc(_Doc):
    """One inventory file; a directory inventory is several of these merged."""

    defaults: SettingsDoc | None = None
    groups: dict[Name, SettingsDoc] | None = None
    clusters: list[ClusterDoc] | None = None


def field_path(loc: tuple[int | str, ...], prefix: str = "") -> str:
    """``('clusters', 3, 'tls', 'verify')`` → ``clusters[3].tls.verify``."""
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def parse_document(raw: Any, model: type[_Doc], *, file: Path, prefix: str = "") -> Any:
    """Validate ``raw`` as ``model``; the first problem becomes an InputError naming file and field.

    Messages are built from pydantic's error type, never from its text, which quotes input values.
    """
    try:
        return model.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        first = errors[0]
        loc = tuple(first["loc"])
        if first["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
        elif first["type"] == "missing":
            message = "required field is missing"
        else:
            message = first["msg"]
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problems in this file)"
        raise InputError(message, file=str(file), field=field_path(loc, prefix) or None) from None
