"""ONTAP's query parameters over a list of records: ``fields=``, filters, ``order_by``, ``max_records``.

``check_query`` refuses what ONTAP refuses (secrets in the URL, parameters the operation does not take);
``collection`` and ``instance`` turn records (``records``) into the response a GET answers with.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterable
from typing import Any, Literal, cast
from urllib.parse import urlencode

from aiohttp import web

from fleet.ontap import codes
from fleet.sim import releases
from fleet.sim.http import CLUSTER, FLEET
from fleet.sim.releases import Release
from fleet.sim.rules import Refused

SECRET_NAMES = frozenset({"passphrase", "existing_passphrase", "password"})
COLLECTION_PARAMS = frozenset({"fields", "max_records", "return_records", "return_timeout", "order_by"})
INSTANCE_PARAMS = frozenset({"fields"})
MUTATION_PARAMS = frozenset({"return_timeout", "return_records"})
MAX_RETURN_TIMEOUT = 120  # seconds, for GETs and mutations alike (spec)

# dotted paths as a tree: a ``True`` leaf means "the whole subtree"
Tree = dict[str, Any]
Subtree = Tree | Literal[True]


def release_of(request: web.Request) -> Release:
    """The ONTAP 9.x release of the request's cluster, ``(major, minor)``."""
    version = request[CLUSTER].version
    return (version[1], version[2])


def check_query(request: web.Request, allowed: Iterable[str], *, later: str = "") -> None:
    """Secrets in the URL → 262202; anything the operation does not take → 262179 (both name the target).

    A name the ``later`` release table has, but from a later release than the cluster's, answers
    ``SimSettings.release_gap_code`` (262179 by default: UNCONFIRMED, see ``releases``).
    """
    if not request.query:
        return
    return_timeout(request)
    allowed = set(allowed)
    for name in request.query:
        if name.rsplit(".", 1)[-1] in SECRET_NAMES:
            raise Refused(codes.SECRET_IN_URL, target=name)
    for name in request.query:
        if name not in allowed and not name.startswith("start."):
            code = codes.UNEXPECTED_ARGUMENT
            if later and releases.later(later, name, release_of(request)):
                code = request.app[FLEET].settings.release_gap_code
            raise Refused(code, target=name, message=f'Unexpected argument "{name}".')


def return_timeout(request: web.Request, default: int = 0) -> int:
    """``return_timeout``: a whole number of seconds, 0–120, else 262197 naming it."""
    raw = request.query.get("return_timeout")
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) > MAX_RETURN_TIMEOUT:
        message = f'The value "{raw}" is invalid for field "return_timeout" (0-{MAX_RETURN_TIMEOUT})'
        raise Refused(codes.INVALID_VALUE, target="return_timeout", message=message)
    return int(raw)


def mutation_query(request: web.Request, *extra: str) -> None:
    """A mutation's query: ``return_timeout``, ``return_records`` and the ``extra`` parameters the
    cluster's release has."""
    have = releases.exact_names("mutation_query", release_of(request))
    check_query(request, MUTATION_PARAMS | {name for name in extra if name in have}, later="mutation_query")


def check_fields_param(request: web.Request, resource: str) -> None:
    """``fields=`` naming what the release does not have: 262197, target ``fields``; the whole GET fails."""
    fields = request.query.get("fields")
    if not fields or not resource:
        return
    release = release_of(request)
    for name in fields.split(","):
        name = name.strip()
        if name and name not in ("*", "**") and not releases.field_known(resource, name, release):
            message = f'The value "{name}" is invalid for field "fields"'
            raise Refused(codes.INVALID_VALUE, target="fields", message=message)


@dataclasses.dataclass(frozen=True, slots=True)
class Shape:
    """How one kind of record answers ``fields=``: key fields always, expensive ones only when named,
    ``hidden`` ones left out of an instance GET's default (but in ``*``)."""

    keys: tuple[str, ...]
    expensive: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    resource: str = ""  # its ``releases.RESOURCES`` table: what ``fields=`` may name on each release
    filters: str = ""  # its ``releases`` filter table: which filters its collection takes on each release


def _tree(paths: Iterable[str]) -> Tree:
    """Dotted paths as a tree whose ``True`` leaves mean "the whole subtree" (a parent beats its children)."""
    tree: Tree = {}
    for path in paths:
        node = tree
        *parents, last = path.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if child is True:
                break
            node = child
        else:
            node[last] = True
    return tree


def _project(value: Any, tree: Subtree) -> Any:
    if tree is True:
        return value
    if isinstance(value, list):
        return [_project(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: _project(value[key], sub) for key, sub in tree.items() if key in value}


def _strip(value: Any, paths: Iterable[str]) -> Any:
    """A copy of ``value`` without the given dotted paths (through lists)."""

    def walk(item: Any, tree: Tree) -> Any:
        if isinstance(item, list):
            return [walk(element, tree) for element in item]
        if not isinstance(item, dict):
            return item
        return {
            key: walk(sub, tree[key]) if key in tree else sub
            for key, sub in item.items()
            if tree.get(key) is not True
        }

    return walk(value, _tree(paths))


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def select_fields(
    record: dict[str, Any], fields: str | None, shape: Shape, *, collection: bool
) -> dict[str, Any]:
    """ONTAP's ``fields=``: nothing → keys (collection) or all but expensive/hidden (instance); ``*`` → all
    but expensive; ``**`` → everything; names (``a`` or ``a.b``) → those, expensive ones included."""
    always = (*shape.keys, "_links")
    if fields is None:
        if collection:
            return cast(dict[str, Any], _project(record, _tree(always)))  # a dict projects to a dict
        return cast(dict[str, Any], _strip(record, (*shape.expensive, *shape.hidden)))
    names = [name.strip() for name in fields.split(",") if name.strip()]
    if "**" in names:
        return record
    base = _strip(record, shape.expensive) if "*" in names else {}
    named = [name for name in names if name not in ("*", "**")]
    return _merge(base, _project(record, _tree((*always, *named))))


def _values(record: Any, path: list[str]) -> list[Any]:
    if isinstance(record, list):
        return [value for item in record for value in _values(item, path)]
    if not path:
        return [record]
    if not isinstance(record, dict) or path[0] not in record:
        return []
    return _values(record[path[0]], path[1:])


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def matches(record: dict[str, Any], name: str, query: str) -> bool:
    """ONTAP query syntax, the common part: ``a|b`` alternatives, ``!`` negation, ``*`` wildcards."""
    values = [_text(value) for value in _values(record, name.split("."))]
    for alternative in query.split("|"):
        negate = alternative.startswith("!")
        pattern = alternative[1:] if negate else alternative
        hit = any(fnmatch.fnmatchcase(value.lower(), pattern.lower()) for value in values)
        if hit != negate:
            return True
    return False


def _flag(request: web.Request, name: str, default: bool) -> bool:
    raw = request.query.get(name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        raise Refused(codes.INVALID_VALUE, target=name)
    return raw.lower() == "true"


def collection(request: web.Request, records: list[dict[str, Any]], shape: Shape) -> web.Response:
    """Filter, order, limit and project a collection the way ONTAP's collection GETs do."""
    filters = releases.exact_names(shape.filters, release_of(request)) if shape.filters else frozenset()
    check_query(request, COLLECTION_PARAMS | filters, later=shape.filters)
    check_fields_param(request, shape.resource)
    for name, query in request.query.items():
        if name in filters:
            records = [record for record in records if matches(record, name, query)]
    order_by = request.query.get("order_by")
    if order_by:
        field_name, _, direction = order_by.partition(" ")
        records.sort(
            key=lambda record: [_text(v) for v in _values(record, field_name.split("."))],
            reverse=direction.strip().lower() == "desc",
        )
    records = _from_start(request, records, shape)
    links: dict[str, Any] = {"self": {"href": request.path_qs}}
    max_records = request.query.get("max_records")
    if max_records is not None:
        if not max_records.isdigit():
            raise Refused(codes.INVALID_VALUE, target="max_records")
        limit = int(max_records)
        if 0 < limit < len(records):
            links["next"] = {"href": _next_href(request, records[limit], shape)}
        records = records[:limit]
    body: dict[str, Any] = {"num_records": len(records), "_links": links}
    if _flag(request, "return_records", True):
        fields = request.query.get("fields")
        body["records"] = [select_fields(record, fields, shape, collection=True) for record in records]
    return web.json_response(body)


def _key_values(record: dict[str, Any], shape: Shape) -> list[tuple[str, str]]:
    return [(f"start.{key}", _text(next(iter(_values(record, key.split("."))), ""))) for key in shape.keys]


def _from_start(request: web.Request, records: list[dict[str, Any]], shape: Shape) -> list[dict[str, Any]]:
    """A follow-up page: the records from the one the ``start.<key>`` parameters name (ONTAP's paging)."""
    start = {name: value for name, value in request.query.items() if name.startswith("start.")}
    if not start:
        return records
    for index, record in enumerate(records):
        if all(start.get(name, value) == value for name, value in _key_values(record, shape)):
            return records[index:]
    return []


def _next_href(request: web.Request, first: dict[str, Any], shape: Shape) -> str:
    """The next page's URL: the same query (filters, fields, max_records…) from the next record on."""
    kept = [(name, value) for name, value in request.query.items() if not name.startswith("start.")]
    return f"{request.path}?{urlencode(kept + _key_values(first, shape))}"


def instance(request: web.Request, record: dict[str, Any], shape: Shape) -> web.Response:
    check_query(request, INSTANCE_PARAMS)
    check_fields_param(request, shape.resource)
    return web.json_response(select_fields(record, request.query.get("fields"), shape, collection=False))
