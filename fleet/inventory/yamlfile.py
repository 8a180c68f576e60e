"""Reading YAML files (inventories, importers, policies): safe, bounded, errors with file and line.

PyYAML keeps the last of two equal keys without a word; in an inventory that silently drops a group
or a cluster's settings, so duplicates are errors here. Syntax errors quote only PyYAML's problem
text and position, never the offending line (it may hold a literal password).

Aliases are bounded. PyYAML builds an alias as a second reference to one object, so a few hundred
bytes of nested aliases ("billion laughs") load in microseconds and explode in whatever walks the
result (a 472-byte Harvest file reached 8 GB); merge keys (``<<: [*a, *a]``) copy pairs while the
mapping is built and explode during the load itself. So the node graph is measured before anything
is built: a document whose aliases would add more than ``MAX_ALIAS_NODES`` nodes once expanded, or
whose alias refers to a node that contains it, is refused. Counting takes one pass over the nodes
as written, and is skipped for a document without a ``*`` (no alias).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, SequenceNode

from fleet.errors import InputError

# libyaml's parser when PyYAML was built with it: 4-5x faster on a 10,000-cluster inventory, same marks.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Nodes that aliases may add once expanded. A defaults block merged into each of 10,000 clusters
#: adds a few hundred thousand; nine levels of nine aliases add 435 million.
MAX_ALIAS_NODES = 1_000_000

_MERGE_TAG = "tag:yaml.org,2002:merge"


class AliasesRefused(yaml.YAMLError):
    """The document's aliases expand beyond ``MAX_ALIAS_NODES``, or one refers to its own ancestor."""


class StrictLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that refuses duplicate mapping keys and unbounded alias expansion."""

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._may_alias = b"*" in stream if isinstance(stream, bytes) else "*" in stream

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        if self._may_alias:
            check_expansion(node)
        return self.construct_document(node)


def check_expansion(root: Node, limit: int = MAX_ALIAS_NODES) -> None:
    """Raise ``AliasesRefused`` unless expanding every alias under ``root`` adds at most ``limit`` nodes.

    An alias is the same ``Node`` object reached twice, so the graph is walked once, each node's
    expanded size computed from its children's (post-order, no recursion: nesting depth is the
    document's choice), never by expanding anything.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # on the path from the root: reaching one again is a cycle
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise AliasesRefused("a YAML alias refers to a node that contains it (a recursive alias)")
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    added = sizes[id(root)] - len(sizes)
    if added > limit:
        raise AliasesRefused(
            f"YAML aliases expand this document from {len(sizes):,} nodes to {sizes[id(root)]:,}; "
            f"at most {limit:,} more are accepted (an alias bomb?)"
        )


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _construct_mapping(loader: SafeConstructor, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
    if not any(key_node.tag == _MERGE_TAG for key_node, _ in node.value):
        # The common case, built once: as many keys out as in means no key was repeated.
        mapping = SafeConstructor.construct_mapping(loader, node, deep=deep)
        if len(mapping) == len(node.value):
            return mapping
    _refuse_duplicates(loader, node)
    return SafeConstructor.construct_mapping(loader, node, deep=deep)


def _refuse_duplicates(loader: SafeConstructor, node: MappingNode) -> None:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # unhashable key: PyYAML reports it itself
            continue
        if duplicate:
            raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path, loader: type[StrictLoader] = StrictLoader) -> Any:
    """The document in ``path`` (None when empty); InputError naming the file and line otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file does not exist", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the file ({type(exc).__name__})", file=str(path)) from None
    try:
        return yaml.load(text, Loader=loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"YAML error{where}: {exc.problem or exc.context}", file=str(path)) from None
    except AliasesRefused as exc:
        raise InputError(str(exc), file=str(path)) from None
    except yaml.YAMLError as exc:
        raise InputError(f"YAML error: {type(exc).__name__}", file=str(path)) from None
