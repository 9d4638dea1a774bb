"""Does the query read a given path below the current field?

Parents use this to fetch what their children will need in the same round trip
(an order list prefetches its lines' products and stock), which saves a level
of backend latency and lets the children resolve synchronously. Fragments and
inline fragments count; the answer is cached per document node.
"""

from __future__ import annotations

from typing import Any

from cachetools import LRUCache
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode
from strawberry.types.nodes import SelectedField

_answers: LRUCache[tuple[int, str], tuple[Any, bool]] = LRUCache(maxsize=4096)


def selects(info: Any, path: str) -> bool:
    """True when `path` (dotted field names, e.g. "lines.product") is selected under this field.

    `info` is graphql-core's (resolvers called directly, schema/direct.py) or strawberry's,
    read through its public `selected_fields` (a resolver strawberry wraps: input arguments).
    """
    if not hasattr(info, "field_nodes"):
        return any(_selects_in(field.selections, path.split(".")) for field in info.selected_fields)
    node = info.field_nodes[0]
    key = (id(node), path)
    cached = _answers.get(key)
    if cached is not None and cached[0] is node:
        return cached[1]
    names = path.split(".")
    answer = any(_selects(field_node.selection_set, names, info.fragments) for field_node in info.field_nodes)
    _answers[key] = (node, answer)
    return answer


def _selects(selection_set: SelectionSetNode | None, names: list[str], fragments: dict[str, Any]) -> bool:
    if selection_set is None:
        return False
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value == names[0] and (
                len(names) == 1 or _selects(selection.selection_set, names[1:], fragments)
            ):
                return True
        elif isinstance(selection, InlineFragmentNode):
            if _selects(selection.selection_set, names, fragments):
                return True
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None and _selects(fragment.selection_set, names, fragments):
                return True
    return False


def _selects_in(selections: list[Any], names: list[str]) -> bool:
    """`_selects` over strawberry's selected fields (fragments already resolved into them)."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            if selection.name == names[0] and (len(names) == 1 or _selects_in(selection.selections, names[1:])):
                return True
        elif _selects_in(selection.selections, names):  # inline fragments and fragment spreads
            return True
    return False
