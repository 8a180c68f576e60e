"""Read a policy file: YAML → ``Policy``; every problem an InputError naming the file and the field."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from fleet.errors import InputError
from fleet.inventory.yamlfile import read_yaml
from fleet.policy.model import Policy


def load_policy(path: Path | str) -> Policy:
    """The validated policy in ``path``; duplicate YAML keys and unknown fields are refused (exit 2)."""
    source = Path(path)
    document = read_yaml(source)
    if not isinstance(document, dict):
        raise InputError("a policy is a YAML mapping (key_manager, onboard, external, ...)", file=str(source))
    try:
        return Policy.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "key_manager"
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        message = first["msg"].removeprefix("Value error, ")
        raise InputError(f"{message}{more}", file=str(source), field=where) from None
