"""Reading JSON inventory files (``ansible-inventory --list`` output): duplicate keys refused.

JSON is YAML, and the YAML loader reads it too, but several times slower: 10,000 hosts from
``ansible-inventory --list`` parse in a fraction of a second here. As in the YAML loader, a key
given twice is an error. Text that is not JSON (YAML may start with ``{`` too) is left to the YAML
loader, whose error names the line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fleet.errors import InputError


def looks_like_json(path: Path) -> bool:
    """The file's first character that is not white space is ``{``."""
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(4096).lstrip()
    except OSError:
        return False
    return head.startswith(b"{")


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Duplicate(f"duplicate key {key!r}")
            seen.add(key)
    return mapping


class NotJson(Exception):
    """The text is not JSON; it may still be YAML (a flow mapping ``{clusters: [...]}``)."""


def read_json(path: Path) -> Any:
    """The document in ``path``; ``NotJson`` when it is not JSON, InputError for a repeated key or
    a file that cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file does not exist", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the file ({type(exc).__name__})", file=str(path)) from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError:
        raise NotJson from None
    except _Duplicate as exc:
        raise InputError(f"JSON error: {exc}", file=str(path)) from None
    except RecursionError:
        raise NotJson from None
