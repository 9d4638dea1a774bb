"""BI exports, the plan: which list of a trusted operation gives the rows, which leaves are columns.

`build_plan` compiles a trusted document once, at start-up; `rows_of` flattens one
answer's `data` into rows by that plan, `# bi.where` filters applied. The rules are
in `server/bi.py`'s docstring and the README.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    parse,
)

from server.errors import NotExportable
from server.persisted import ManifestError, TrustedDocument

WHERE = re.compile(r"^\s*#\s*bi\.where:\s*(?P<column>[\w.]+)\s+(?P<op>==|!=|<=|>=|<|>|not in|in)\s+(?P<value>.+?)\s*$")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
Ordered = TypeVar("Ordered", Decimal, str)  # a filter compares numbers as numbers, anything else as text

# The compiler walks GraphQL types it has checked by kind (`is_list_type`, ...): they stay `Any`.
Fragments = dict[str, FragmentDefinitionNode]
Nodes = list[tuple[Any, FieldNode]]  # a response key's field nodes, each with the type that owns it
Chain = tuple[tuple[str, str, GraphQLOutputType, Nodes], ...]  # key, field name, field type, nodes: root to rows
Rows = tuple[tuple[str, ...], tuple[str, ...], Chain, Any, list[SelectionSetNode]]


# ---------------------------------------------------------------------------
# The plan: which list gives the rows, which leaves are columns
# ---------------------------------------------------------------------------


NUMERIC_TYPES = frozenset({"Int", "Float", "Decimal"})


@dataclass(frozen=True)
class Column:
    name: str
    coordinates: tuple[str, ...]  # every `Type.field` from the root to the leaf
    numeric: bool = False  # of a number type (CSV writes it bare when every text is quoted)


@dataclass
class Leaf:
    column: Column
    has_list: bool = False


@dataclass
class Obj:
    entries: list[tuple[str, Any]]
    has_list: bool = False
    # The filters on this object's own cells (not below a list): checked before its lists are
    # exploded, so an object they reject costs one check, not a row per element below it.
    checks: list[Filter] = field(default_factory=list)


@dataclass
class Lst:
    item: Any
    has_list: bool = True


@dataclass(frozen=True)
class Paging:
    after: str  # the variable
    first: str | None  # the variable, if `first` is one
    page_size: int
    page_info: tuple[str, ...]  # response keys from `data` to pageInfo
    has_next: str
    end_cursor: str


@dataclass(frozen=True)
class Filter:
    column: str
    op: str
    value: Any

    def matches(self, cell: Any) -> bool:
        if self.op in ("in", "not in"):
            found = any(_equal(cell, v) for v in self.value)
            return found if self.op == "in" else not found
        if self.op == "==":
            return _equal(cell, self.value)
        if self.op == "!=":
            return not _equal(cell, self.value)
        if cell is None or self.value is None:
            return False
        left, right = _number(cell), _number(self.value)
        if left is None or right is None:
            return _compare(self.op, str(cell), str(self.value))
        return _compare(self.op, left, right)


@dataclass
class ExportPlan:
    name: str
    document: TrustedDocument
    operation: OperationDefinitionNode
    row_path: tuple[str, ...]
    row_coordinates: tuple[str, ...]
    item: Any
    columns: list[Column]
    paging: Paging | None
    filters: list[Filter] = field(default_factory=list)


def build_plan(document: TrustedDocument, schema: GraphQLSchema, default_page_size: int = 100) -> ExportPlan:
    ast = parse(document.body)
    operation = next(d for d in ast.definitions if isinstance(d, OperationDefinitionNode))
    if operation.operation is not OperationType.QUERY:
        raise NotExportable(f"{document.name} is a mutation: exports only read")
    fragments = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
    found = _find_rows(schema, fragments, schema.query_type, [operation.selection_set], (), ())
    if found is None:
        raise NotExportable(f"{document.name} selects no list, so it has no rows to export")
    row_path, coordinates, chain, list_type, item_sets = found
    item_type = get_named_type(list_type)
    node_key = None
    if len(chain) >= 2 and chain[-1][1] == "edges" and get_named_type(chain[-2][2]).name.endswith("Connection"):
        node_key = next(
            (key for key, name in _field_names(schema, fragments, item_type, item_sets) if name == "node"), None
        )

    def column_name(names: tuple[str, ...]) -> str:
        if not names:  # a list of scalars gives the rows: the column is the list's own key
            return row_path[-1]
        if node_key is not None and len(names) > 1 and names[0] == node_key:
            names = names[1:]
        return ".".join(names)

    if is_leaf_type(item_type) and len(chain) >= 2:
        # A list of scalars (`me { id name roles }`): the object holding it is the row, its
        # other leaves columns, exploded by the list as any nested list is.
        _, _, holder_type, holder_nodes = chain[-2]
        row_path, coordinates = row_path[:-1], coordinates[:-1]
        holder_sets = [n.selection_set for _, n in holder_nodes if n.selection_set is not None]
        item = _plan_value(schema, fragments, holder_type, holder_sets, (), coordinates, ".".join)
    else:
        item = _plan_value(schema, fragments, list_type.of_type, item_sets, (), coordinates, column_name)
    columns = list(_columns(item))
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise NotExportable(f"{document.name}: two columns would have the same name; use aliases")
    paging = _paging(schema, fragments, operation, chain, row_path, default_page_size)
    filters = []
    for line in document.body.splitlines():
        match = WHERE.match(line)
        if match is None:
            if "bi.where" in line:
                raise ManifestError(
                    f"{document.file}: not a `# bi.where: <column> <op> <JSON value>` line: {line.strip()}"
                )
            continue
        try:
            value = json.loads(match["value"])
        except json.JSONDecodeError:
            raise ManifestError(f"{document.file}: the value in `{line.strip()}` is not JSON") from None
        if match["column"] not in names:
            raise ManifestError(
                f"{document.file}: bi.where names {match['column']!r}, not a column ({', '.join(names)})"
            )
        if match["op"] in ("in", "not in") and not isinstance(value, list):
            raise ManifestError(f"{document.file}: `{match['op']}` needs a JSON list")
        filters.append(Filter(match["column"], match["op"], value))
    _place_checks(item, filters)
    return ExportPlan(document.name, document, operation, row_path, coordinates, item, columns, paging, filters)


def _collect(
    schema: GraphQLSchema, fragments: Fragments, parent: Any, selection_sets: list[SelectionSetNode]
) -> dict[str, Nodes]:
    """Fields by response key, merged across the selection sets and fragments (as GraphQL merges them)."""
    out: dict[str, Nodes] = {}

    def walk(selection_set: SelectionSetNode, owner: Any) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                out.setdefault(key, []).append((owner, selection))
            elif isinstance(selection, InlineFragmentNode):
                target = schema.get_type(selection.type_condition.name.value) if selection.type_condition else owner
                walk(selection.selection_set, target)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments[selection.name.value]
                walk(fragment.selection_set, schema.get_type(fragment.type_condition.name.value))

    for selection_set in selection_sets:
        walk(selection_set, parent)
    return out


def _field_names(
    schema: GraphQLSchema, fragments: Fragments, parent: Any, selection_sets: list[SelectionSetNode]
) -> list[tuple[str, str]]:
    return [(key, nodes[0][1].name.value) for key, nodes in _collect(schema, fragments, parent, selection_sets).items()]


def _find_rows(
    schema: GraphQLSchema,
    fragments: Fragments,
    parent: Any,
    selection_sets: list[SelectionSetNode],
    path: tuple[str, ...],
    coordinates: tuple[str, ...],
    chain: Chain = (),
) -> Rows | None:
    for key, nodes in _collect(schema, fragments, parent, selection_sets).items():
        owner, node = nodes[0]
        name = node.name.value
        if name.startswith("__"):
            continue
        definition = owner.fields[name]
        type_ = definition.type.of_type if is_non_null_type(definition.type) else definition.type
        here = (*chain, (key, name, definition.type, nodes))
        subsets = [n.selection_set for _, n in nodes if n.selection_set is not None]
        coordinate = f"{owner.name}.{name}"
        if is_list_type(type_):
            return (*path, key), (*coordinates, coordinate), here, type_, subsets
        if subsets:
            found = _find_rows(
                schema, fragments, get_named_type(type_), subsets, (*path, key), (*coordinates, coordinate), here
            )
            if found is not None:
                return found
    return None


def _plan_value(
    schema: GraphQLSchema,
    fragments: Fragments,
    type_: Any,
    selection_sets: list[SelectionSetNode],
    names: tuple[str, ...],
    coordinates: tuple[str, ...],
    column_name: Callable[[tuple[str, ...]], str],
) -> Any:
    if is_non_null_type(type_):
        type_ = type_.of_type
    if is_list_type(type_):
        return Lst(_plan_value(schema, fragments, type_.of_type, selection_sets, names, coordinates, column_name))
    if is_leaf_type(type_):
        return Leaf(Column(column_name(names), coordinates, get_named_type(type_).name in NUMERIC_TYPES))
    entries: list[tuple[str, Any]] = []
    for key, nodes in _collect(schema, fragments, type_, selection_sets).items():
        owner, node = nodes[0]
        name = node.name.value
        if name == "__typename":
            entries.append((key, Leaf(Column(column_name((*names, key)), coordinates))))
            continue
        definition = owner.fields[name]
        subsets = [n.selection_set for _, n in nodes if n.selection_set is not None]
        entries.append(
            (
                key,
                _plan_value(
                    schema,
                    fragments,
                    definition.type,
                    subsets,
                    (*names, key),
                    (*coordinates, f"{owner.name}.{name}"),
                    column_name,
                ),
            )
        )
    return Obj(entries, has_list=any(child.has_list for _, child in entries))


def _place_checks(node: Any, filters: list[Filter]) -> None:
    """Give each object that explodes a list the filters on its own cells (`Obj.checks`)."""
    if isinstance(node, Lst):
        _place_checks(node.item, filters)
    elif isinstance(node, Obj) and node.has_list:
        own = {c.name for _, child in node.entries if not child.has_list for c in _columns(child)}
        node.checks = [f for f in filters if f.column in own]
        for _, child in node.entries:
            _place_checks(child, filters)


def _columns(node: Any) -> Iterator[Column]:
    if isinstance(node, Leaf):
        yield node.column
    elif isinstance(node, Lst):
        yield from _columns(node.item)
    else:
        for _, child in node.entries:
            yield from _columns(child)


def _paging(
    schema: GraphQLSchema,
    fragments: Fragments,
    operation: OperationDefinitionNode,
    chain: Chain,
    row_path: tuple[str, ...],
    default_page_size: int,
) -> Paging | None:
    if len(chain) < 2 or chain[-1][1] != "edges":
        return None
    key, name, connection_type, nodes = chain[-2]
    connection = get_named_type(connection_type)
    if not connection.name.endswith("Connection"):
        return None
    arguments = {a.name.value: a.value for _, n in nodes for a in n.arguments or ()}
    after = arguments.get("after")
    if not isinstance(after, VariableNode):
        return None
    first = arguments.get("first")
    first_variable = first.name.value if isinstance(first, VariableNode) else None
    page_size = default_page_size
    if first_variable is not None:
        definitions = operation.variable_definitions or ()
        definition = next(v for v in definitions if v.variable.name.value == first_variable)
        if isinstance(definition.default_value, IntValueNode):
            page_size = int(definition.default_value.value)
    elif isinstance(first, IntValueNode):
        page_size = int(first.value)
    subsets = [n.selection_set for _, n in nodes if n.selection_set is not None]
    page_info_key = next((k for k, n in _field_names(schema, fragments, connection, subsets) if n == "pageInfo"), None)
    if page_info_key is None:
        return None
    page_info_nodes = _collect(schema, fragments, connection, subsets)[page_info_key]
    inner = {
        n: k
        for k, n in _field_names(
            schema,
            fragments,
            schema.get_type("PageInfo"),
            [x.selection_set for _, x in page_info_nodes if x.selection_set],
        )
    }
    if "hasNextPage" not in inner or "endCursor" not in inner:
        return None
    return Paging(
        after.name.value,
        first_variable,
        page_size,
        (*row_path[:-1], page_info_key),
        inner["hasNextPage"],
        inner["endCursor"],
    )


# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------


def rows_of(plan: ExportPlan, data: Any) -> Iterator[dict[str, Any]]:
    """The flat rows of one answer's `data`, every column present (None when empty), filters applied."""
    items = data
    for key in plan.row_path:
        if not isinstance(items, dict):
            return
        items = items.get(key)
    if not items:
        return
    if isinstance(items, dict):  # the object holding a list of scalars: one row, exploded
        items = [items]
    names = [c.name for c in plan.columns]
    for item in items:
        for partial in _expand(item, plan.item):
            if partial is PRUNED:
                continue
            row = {name: partial.get(name) for name in names}
            if all(f.matches(row[f.column]) for f in plan.filters):
                yield row


# What an object rejected by its checks gives instead of rows: it counts as an element (its
# parent keeps no empty row in its place, as when its rows are filtered out one by one).
PRUNED: dict[str, Any] = {}


def _expand(value: Any, node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, Leaf):
        yield {node.column.name: value}
        return
    if isinstance(node, Lst):
        for element in value or ():
            yield from _expand(element, node.item)
        return
    if not isinstance(value, dict):  # null object: its cells are empty
        yield {}
        return
    fixed: dict[str, Any] = {}
    listing: list[tuple[str, Any]] = []
    for key, child in node.entries:
        if child.has_list:
            listing.append((key, child))
        else:
            for partial in _expand(value.get(key), child):
                fixed.update(partial)
    if node.checks and not all(f.matches(fixed.get(f.column)) for f in node.checks):
        yield PRUNED
        return
    produced = False
    for key, child in listing:
        for partial in _expand(value.get(key), child):
            produced = True
            yield PRUNED if partial is PRUNED else {**fixed, **partial}
    if not produced:
        yield fixed


def _compare(op: str, left: Ordered, right: Ordered) -> bool:
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    if isinstance(value, str) and NUMBER.match(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _equal(cell: Any, value: Any) -> bool:
    if cell is None or value is None:
        return cell is None and value is None
    left, right = _number(cell), _number(value)
    if left is not None and right is not None:
        return left == right
    return cell == value
