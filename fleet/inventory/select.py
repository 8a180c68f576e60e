"""``--limit`` selectors: names, groups and labels, with negation; MetroCluster pairs never split.

An expression is comma-separated terms:

- ``cl-00*``: a cluster name (glob);
- ``group:east`` or ``@east``: members of a group (glob; a plain name must be a defined group);
- ``site=east``, ``tier=g*``: a label ``key=value`` (the value may be a glob);
- ``!term``: negation of any of the above.

Positive terms are OR'ed; negative terms remove what they match. With only negative terms the
selection starts from every cluster. So ``site=east,!tier=bronze`` is "site east and not bronze",
``!tier=bronze`` is "everything but bronze", and ``cl-1,cl-2`` is "cl-1 or cl-2".

A MetroCluster pair is one unit: touching one site touches the other. With ``keep_pairs=True``
(the default) a positive match on either site selects the pair, and a negative match on either
site removes the pair (a negative term means "do not touch this", and rotating a pair touches both
sites). With ``keep_pairs=False`` a selection that contains only one site of a pair is refused.
An empty selection is an error: a run that does nothing is almost always a typo.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from fleet.errors import InputError

if TYPE_CHECKING:
    from fleet.inventory.model import Cluster

FIELD = "--limit"
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class Term:
    """One parsed term: ``matches(cluster)``, negated or not, and its text for messages."""

    text: str
    negated: bool
    matches: Callable[[Cluster], bool]


def parse_limit(expr: str, *, groups: Sequence[str] = ()) -> list[Term]:
    """Parse a ``--limit`` expression; InputError on an empty term or an undefined group name."""
    terms: list[Term] = []
    for raw in expr.split(","):
        text = raw.strip()
        if not text:
            continue
        negated = text.startswith("!")
        body = text[1:].strip() if negated else text
        if not body:
            raise InputError(f"empty term in {expr!r}", field=FIELD)
        terms.append(Term(text, negated, _matcher(body, groups)))
    if not terms:
        raise InputError(f"{expr!r} has no terms", field=FIELD)
    return terms


def _matcher(body: str, groups: Sequence[str]) -> Callable[[Cluster], bool]:
    if body.startswith(("group:", "@")):
        pattern = body.split(":", 1)[1] if body.startswith("group:") else body[1:]
        if not pattern:
            raise InputError(f"{body!r} names no group", field=FIELD)
        if not _GLOB_CHARS & set(pattern) and pattern not in groups:
            raise InputError(f"unknown group {pattern!r} in {body!r}", field=FIELD)
        return lambda cluster: any(fnmatchcase(group, pattern) for group in cluster.groups)
    if "=" in body:
        key, _, value = body.partition("=")
        key = key.strip()
        value = value.strip()
        if not key:
            raise InputError(f"{body!r} names no label", field=FIELD)
        return lambda cluster: key in cluster.labels and fnmatchcase(cluster.labels[key], value)
    return lambda cluster: fnmatchcase(cluster.name, body)


def select_clusters(
    clusters: Sequence[Cluster], limit: str | None, *, groups: Sequence[str] = (), keep_pairs: bool = True
) -> list[Cluster]:
    """The clusters ``limit`` selects, in inventory order (all of them when ``limit`` is None)."""
    if limit is None or not limit.strip():
        return list(clusters)
    terms = parse_limit(limit, groups=groups)
    positives = [term for term in terms if not term.negated]
    negatives = [term for term in terms if term.negated]
    wanted = {c.name for c in clusters if not positives or any(t.matches(c) for t in positives)}
    excluded = {c.name for c in clusters if any(t.matches(c) for t in negatives)}

    if keep_pairs:
        selected = set()
        for cluster in clusters:
            unit = {cluster.name, *([cluster.metrocluster_partner] if cluster.metrocluster_partner else [])}
            if unit & wanted and not unit & excluded:
                selected |= unit
    else:
        selected = wanted - excluded
        for cluster in clusters:
            partner = cluster.metrocluster_partner
            if cluster.name in selected and partner and partner not in selected:
                raise InputError(
                    f"{limit!r} selects {cluster.name} without its MetroCluster partner {partner}; "
                    "a pair is rotated as one unit: select both or neither",
                    field=FIELD,
                )
    chosen = [cluster for cluster in clusters if cluster.name in selected]
    if not chosen:
        raise InputError(f"{limit!r} selects no cluster", field=FIELD)
    return chosen
