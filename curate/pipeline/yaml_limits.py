"""Loading a pipeline YAML with bounds on what its aliases and nesting can expand to.

A YAML alias (``*name``) refers to an anchored node (``&name``) instead of copying it, so ~500
bytes of nested aliases ("billion laughs") describe a value of 10^9 leaves. The loader builds it
with shared references in no time, but everything that then walks the value (dropping the line
bookkeeping, the resume fingerprint, validation) expands it and hangs with growing memory. An
anchor may also contain an alias to itself, a value with no end. So the composed node graph is
measured before any value is built: the number of values it holds with every alias expanded, and
its depth; past either limit, or on a self-referring alias, loading stops with a YAML error that
the caller reports naming the file (exit 2). Nesting deeper than the parser can recurse is the
same error instead of a RecursionError.
"""

from __future__ import annotations

from typing import Any

import yaml

# A pipeline is a few hundred values: the limits leave room for inline lists of thousands.
MAX_VALUES = 1_000_000
MAX_DEPTH = 64


class YamlLimitError(yaml.YAMLError):
    """A YAML document past the limits of this module."""


def load(text: str, loader_class: type[yaml.SafeLoader]) -> Any:
    """`text` loaded with `loader_class` (a SafeLoader), after :func:`check_expansion`."""
    loader = loader_class(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise YamlLimitError(f"nested deeper than {MAX_DEPTH} levels") from None
        if node is None:
            return None
        check_expansion(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_expansion(root: yaml.Node, max_values: int = MAX_VALUES, max_depth: int = MAX_DEPTH) -> None:
    """YamlLimitError if `root`, with every alias expanded, holds more than `max_values` values,
    is nested deeper than `max_depth`, or refers to itself. Each distinct node is visited once (an
    iterative post-order walk that memoizes each node's expanded size and depth), so the check
    costs the size of the text, not of the expansion."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            kids = _children(node)
            on_path.discard(key)
            size[key] = min(1 + sum(size[id(k)] for k in kids), max_values + 1)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > max_values:
                raise YamlLimitError(f"{_at(node)}aliases expand the document to more than {max_values:,} values")
            if depth[key] > max_depth:
                raise YamlLimitError(f"{_at(node)}nested deeper than {max_depth} levels")
            continue
        if key in size:
            continue
        if key in on_path:
            raise YamlLimitError(f"{_at(node)}an alias refers to the value that contains it (a value with no end)")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)


def _at(node: yaml.Node) -> str:
    return f"line {node.start_mark.line + 1}: " if node.start_mark is not None else ""
