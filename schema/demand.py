"""Demand control: how big and how expensive a document is, before anything runs.

A gateway in front of the ERP is a way to hurt the ERP, so every document is
measured on its parsed, validated form (cached with it) and refused when it is
too deep, too wide or too expensive — before any backend call.

Cost: every field costs 1; a list field multiplies the cost of what it selects by
its `first`/`last` argument, by the length of a list argument (`products(skus:)`),
or else by a declared default size (10); `edges` of a connection are already
counted by the connection's `first`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

DEFAULT_LIST_SIZE = 10
# Federation's `_service { sdl }` shows the whole schema too: it follows the introspection rule.
INTROSPECTION = ("__schema", "__type", "_service")


@dataclass(frozen=True)
class Shape:
    depth: int
    aliases: int
    root_fields: int
    fields: int
    introspection: bool


def measure(document: Any, operation: OperationDefinitionNode) -> Shape:
    """Depth, aliases, root fields and field count of one operation (fragments expanded)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    counts = {"aliases": 0, "fields": 0, "introspection": False}

    def walk(selection_set: SelectionSetNode | None, depth: int) -> int:
        if selection_set is None:
            return depth
        deepest = depth
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                counts["fields"] += 1
                counts["aliases"] += selection.alias is not None
                if selection.name.value in INTROSPECTION:
                    counts["introspection"] = True
                deepest = max(deepest, walk(selection.selection_set, depth + 1))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, walk(selection.selection_set, depth))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    deepest = max(deepest, walk(fragment.selection_set, depth))
        return deepest

    depth = walk(operation.selection_set, 0)
    root_fields = sum(1 for s in operation.selection_set.selections if isinstance(s, FieldNode))
    return Shape(depth, counts["aliases"], root_fields, counts["fields"], counts["introspection"])


def cost(schema: GraphQLSchema, document: Any, operation: OperationDefinitionNode, variables: dict[str, Any] | None) -> int:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    variables = variables or {}

    def value_of(node: Any) -> Any:
        if isinstance(node, VariableNode):
            return variables.get(node.name.value)
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, ListValueNode):
            return node.values
        return None

    def multiplier(field: Any, node: FieldNode, parent: GraphQLObjectType) -> int:
        given = {argument.name.value: value_of(argument.value) for argument in node.arguments or ()}
        for name in ("first", "last"):
            if name in field.args:
                value = given.get(name, field.args[name].default_value)
                return max(1, value) if isinstance(value, int) else DEFAULT_LIST_SIZE
        for name, argument in field.args.items():
            if _is_list(argument.type) and isinstance(given.get(name), (list, tuple)):
                return max(1, len(given[name]))
        if not _is_list(field.type) or parent.name.endswith("Connection"):
            return 1
        return DEFAULT_LIST_SIZE

    def walk(selection_set: SelectionSetNode | None, parent: Any) -> int:
        if selection_set is None:
            return 0
        # a union (federation's `_Entity`) has no fields but __typename; its fragments count
        fields = parent.fields if isinstance(parent, GraphQLObjectType) else {}
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                field = fields.get(selection.name.value)
                if field is None:
                    total += 1
                    continue
                below = walk(selection.selection_set, get_named_type(field.type))
                total += multiplier(field, selection, parent) * (1 + below)
            elif isinstance(selection, InlineFragmentNode):
                target = schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
                total += walk(selection.selection_set, target)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    total += walk(fragment.selection_set, schema.get_type(fragment.type_condition.name.value))
        return total

    root = schema.query_type if operation.operation.value == "query" else schema.mutation_type
    return walk(operation.selection_set, root)


def _is_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)
