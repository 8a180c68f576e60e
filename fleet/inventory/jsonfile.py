"""Reading JSON inventory files (``ansible-inventory --list`` output): duplicate keys refused.

JSON is YAML, and the YAML loader reads it too, but several times slower: 10,000 hosts from
``ansible-inventory --list`` parse in a fraction of a second here. The same rules as the YAML
loader: a key given twice is an error, errors name the file and the line, never the content.
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


def read_json(path: Path) -> Any:
    """The document in ``path``; InputError naming the file (and line) otherwise."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file does not exist", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the file ({type(exc).__name__})", file=str(path)) from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"JSON error at line {exc.lineno}, column {exc.colno}: {exc.msg}", file=str(path)
        ) from None
    except _Duplicate as exc:
        raise InputError(f"JSON error: {exc}", file=str(path)) from None
    except RecursionError:
        raise InputError("JSON error: nested too deeply", file=str(path)) from None
