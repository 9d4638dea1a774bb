"""Demand control: how big and how expensive a document is, before anything runs.

A gateway in front of the ERP is a way to hurt the ERP, so every document is
measured and refused when it is too deep, too wide or too expensive — before any
backend call. The shape (depth, aliases, root fields, fields) needs no schema and
no variables: `screen` checks it on the parsed document, before graphql-core's
validation, for every operation in it. The cost needs the schema and the
variables: `CostPlan` is compiled once per validated document and finished per
request with that request's variable values.

Fragments are counted as expanded, but each is measured once and its summary reused
wherever it is spread: a "fragment bomb" (each fragment spreading the previous one
twice) expands exponentially yet is measured in time linear in its text. A spread
that closes a cycle counts nothing (validation refuses the cycle).

Cost: every field costs 1; a list field multiplies the cost of what it selects by
its `first`/`last` argument, by the length of a list argument (`products(skus:)`),
or else by a declared default size (10); `edges` of a connection are already
counted by the connection's `first`. Arguments given as variables take the value
graphql-core will execute with: the request's value, else the operation's default
for it, else the field's default.

Worklists: a `filter` written in the document costs 1 per value it holds (each field of
the input object, each element of a list in it; one passed as a variable is bounded by
the resolvers' checks, 50 values per list, instead), since each is a predicate a backend
evaluates and a join may ask another system first; a
connection's `summary` costs SUMMARY_COST, an aggregate the backend computes over every
matching row rather than a page. The customer list's `risk` filter (written or a variable)
costs RISK_COST: the gateway checks up to 10 pages of candidates for it, each a call per
system (resolvers/risk_filter.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from graphql import (
    DocumentNode,
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
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_variable_values,
)

DEFAULT_LIST_SIZE = 10
SUMMARY_COST = 100
RISK_COST = 100
# Counts stop growing here, far above any limit: a bomb's expanded size is a number too long to print.
CEILING = 10**12
# Federation's `_service { sdl }` shows the whole schema too: it follows the introspection rule.
INTROSPECTION = ("__schema", "__type", "_service")


@dataclass(frozen=True)
class Shape:
    depth: int
    aliases: int
    root_fields: int
    fields: int
    introspection: bool


@dataclass(frozen=True)
class Refusal:
    message: str
    code: str

    def as_error(self) -> dict[str, Any]:
        return {"message": self.message, "extensions": {"code": self.code}}


@dataclass(frozen=True)
class Limits:
    depth: int
    aliases: int
    root_fields: int
    fields: int

    def refusal(self, shape: Shape, subject: str = "The operation") -> Refusal | None:
        """The first limit the shape crosses, if any."""
        for measured, limit, code, what in (
            (shape.depth, self.depth, "QUERY_TOO_DEEP", "levels of nesting"),
            (shape.aliases, self.aliases, "TOO_MANY_ALIASES", "aliases"),
            (shape.root_fields, self.root_fields, "TOO_MANY_ROOT_FIELDS", "root fields (fragments expanded)"),
            (shape.fields, self.fields, "TOO_MANY_FIELDS", "fields (fragments expanded)"),
        ):
            if measured > limit:
                count = measured if measured < CEILING else f"over {CEILING:,}"
                return Refusal(f"{subject} has {count} {what}; at most {limit} are allowed.", code)
        return None


def screen(document: DocumentNode, limits: Limits) -> Refusal | None:
    """The first operation, or fragment, of the document over a shape limit: cheap enough to run before validation.

    A fragment over a limit could be spread by no acceptable operation; refusing it here
    spares validation a walk over it even when nothing spreads it.
    """
    summaries = _Summaries(document)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            name = f"The operation {definition.name.value}" if definition.name else "The operation"
            refusal = limits.refusal(summaries.shape(definition), name)
        elif isinstance(definition, FragmentDefinitionNode):
            shape = summaries.fragment_shape(definition.name.value)
            refusal = limits.refusal(shape, f"The fragment {definition.name.value}")
        else:
            continue
        if refusal is not None:
            return refusal
    return None


def measure(document: DocumentNode, operation: OperationDefinitionNode) -> Shape:
    """Depth, aliases, root fields and field count of one operation (fragments expanded)."""
    return _Summaries(document).shape(operation)


@dataclass(frozen=True)
class _Summary:
    """A selection set's shape, relative to where it stands: what a spread of it adds."""

    depth: int = 0
    aliases: int = 0
    fields: int = 0
    top_fields: int = 0  # fields at its own level, through fragments: root fields when it is the root
    introspection: bool = False


NOTHING = _Summary()


class _Summaries:
    """Every fragment of a document summarised once, in dependency order."""

    def __init__(self, document: DocumentNode) -> None:
        self._of: dict[str, _Summary] = {}
        for fragment in fragments_in_dependency_order(document):
            self._of[fragment.name.value] = self._summarise(fragment.selection_set)

    def shape(self, operation: OperationDefinitionNode) -> Shape:
        summary = self._summarise(operation.selection_set)
        return Shape(summary.depth, summary.aliases, summary.top_fields, summary.fields, summary.introspection)

    def fragment_shape(self, name: str) -> Shape:
        """A fragment's own shape; root fields are counted by the operations that spread it."""
        summary = self._of[name]
        return Shape(summary.depth, summary.aliases, 0, summary.fields, summary.introspection)

    def _summarise(self, selection_set: SelectionSetNode) -> _Summary:
        depth = aliases = fields = top_fields = 0
        introspection = False
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                below = self._summarise(selection.selection_set) if selection.selection_set else NOTHING
                depth = max(depth, 1 + below.depth)
                aliases += (selection.alias is not None) + below.aliases
                fields += 1 + below.fields
                top_fields += 1
                introspection = introspection or selection.name.value in INTROSPECTION or below.introspection
                continue
            if isinstance(selection, InlineFragmentNode):
                inner = self._summarise(selection.selection_set)
            else:  # a spread: unknown, or closing a cycle, it counts nothing
                inner = self._of.get(cast(FragmentSpreadNode, selection).name.value, NOTHING)
            depth = max(depth, inner.depth)
            aliases += inner.aliases
            fields += inner.fields
            top_fields += inner.top_fields
            introspection = introspection or inner.introspection
        return _Summary(depth, min(aliases, CEILING), min(fields, CEILING), min(top_fields, CEILING), introspection)


def fragments_in_dependency_order(document: DocumentNode) -> list[FragmentDefinitionNode]:
    """Each fragment after those it spreads; a spread closing a cycle is ignored. Iterative: chains may be long."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    order: list[FragmentDefinitionNode] = []
    seen: set[str] = set()
    for start in fragments:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, _spread_names(fragments[start].selection_set))]
        while stack:
            name, pending = stack[-1]
            child = next((n for n in pending if n in fragments and n not in seen), None)
            if child is None:
                stack.pop()
                order.append(fragments[name])
            else:
                seen.add(child)
                stack.append((child, _spread_names(fragments[child].selection_set)))
    return order


def _spread_names(selection_set: SelectionSetNode) -> Iterator[str]:
    pending = [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif isinstance(selection, (FieldNode, InlineFragmentNode)) and selection.selection_set is not None:
                pending.append(selection.selection_set)


@dataclass(frozen=True)
class _Variable:
    """A list size a variable decides: its value (`first: $n`) or its length (`skus: $skus`)."""

    name: str
    length: bool
    fallback: int  # when the variable has no value (absent, no default) or is null

    def size(self, values: dict[str, Any]) -> int:
        value = values.get(self.name)
        if self.length:
            return max(1, len(value)) if isinstance(value, (list, tuple)) else self.fallback
        if isinstance(value, int) and not isinstance(value, bool):
            return max(1, value)
        return self.fallback if value is None else DEFAULT_LIST_SIZE


@dataclass(frozen=True)
class _Cost:
    """A selection set's cost: the part known without variables, and the part that waits for them."""

    constant: int = 0
    terms: tuple[tuple[int | _Variable, _Cost], ...] = ()  # multiplier × (1 + cost of what it selects)
    spreads: tuple[str, ...] = ()  # fragments whose cost depends on variables

    @property
    def known(self) -> bool:
        return not self.terms and not self.spreads

    def value(self, values: dict[str, Any], fragments: dict[str, int]) -> int:
        total = self.constant + sum(fragments[name] for name in self.spreads)
        for multiplier, below in self.terms:
            size = multiplier if isinstance(multiplier, int) else multiplier.size(values)
            total += size * (1 + below.value(values, fragments))
        return total


class CostPlan:
    """An operation's estimated cost, compiled once per validated document and finished per request.

    Everything that does not depend on variables is added up at compile time, each
    fragment once; a request only evaluates the parts whose list sizes its variables
    decide.
    """

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode) -> None:
        self.schema = schema
        self.variables: set[str] = set()
        self._known: dict[str, int] = {}  # fragments whose cost needs no variables
        self._pending: dict[str, _Cost] = {}  # the others, in dependency order
        for fragment in fragments_in_dependency_order(document):
            compiled = self._compile(fragment.selection_set, schema.get_type(fragment.type_condition.name.value))
            if compiled.known:
                self._known[fragment.name.value] = compiled.constant
            else:
                self._pending[fragment.name.value] = compiled
        self._root = self._compile(operation.selection_set, schema.get_root_type(operation.operation))
        self._definitions = [d for d in operation.variable_definitions or () if d.variable.name.value in self.variables]

    def estimate(self, variables: dict[str, Any] | None) -> int | None:
        """The cost with this request's variables, coerced as execution will coerce them.

        None when they do not coerce: execution refuses them before any resolver runs.
        """
        values: dict[str, Any] = {}
        if self._definitions:
            coerced = get_variable_values(self.schema, self._definitions, variables or {})
            if isinstance(coerced, list):
                return None
            values = coerced.coerced
        fragments: dict[str, int] = {}
        for name, compiled in self._pending.items():
            fragments[name] = compiled.value(values, fragments)
        return self._root.value(values, fragments)

    def _compile(self, selection_set: SelectionSetNode | None, parent: Any) -> _Cost:
        if selection_set is None:
            return _Cost()
        # a union (federation's `_Entity`) has no fields but __typename; its fragments count
        fields = parent.fields if isinstance(parent, GraphQLObjectType) else {}
        constant = 0
        terms: list[tuple[int | _Variable, _Cost]] = []
        spreads: list[str] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                field = fields.get(selection.name.value)
                if field is None:
                    constant += 1
                    continue
                below = self._compile(selection.selection_set, get_named_type(field.type))
                multiplier = self._multiplier(field, selection, parent)
                constant += _filter_cost(selection) + _summary_cost(selection, field) + _risk_cost(selection)
                if isinstance(multiplier, int) and below.known:
                    constant += multiplier * (1 + below.constant)
                else:
                    terms.append((multiplier, below))
                continue
            if isinstance(selection, InlineFragmentNode):
                target = (
                    self.schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
                )
                inner = self._compile(selection.selection_set, target)
                constant += inner.constant
                terms.extend(inner.terms)
                spreads.extend(inner.spreads)
                continue
            name = cast(FragmentSpreadNode, selection).name.value  # the third kind of selection
            if name in self._known:
                constant += self._known[name]
            elif name in self._pending:
                spreads.append(name)
        return _Cost(constant, tuple(terms), tuple(spreads))

    def _multiplier(self, field: Any, node: FieldNode, parent: GraphQLObjectType) -> int | _Variable:
        given = {argument.name.value: argument.value for argument in node.arguments or ()}
        for name in ("first", "last"):
            if name in field.args:
                default = field.args[name].default_value
                fallback = max(1, default) if isinstance(default, int) else DEFAULT_LIST_SIZE
                value = given.get(name)
                if isinstance(value, VariableNode):
                    self.variables.add(value.name.value)
                    return _Variable(value.name.value, length=False, fallback=fallback)
                return max(1, int(value.value)) if isinstance(value, IntValueNode) else fallback
        otherwise = DEFAULT_LIST_SIZE if _is_list(field.type) and not parent.name.endswith("Connection") else 1
        for name, argument in field.args.items():
            value = given.get(name)
            if not _is_list(argument.type):
                continue
            if isinstance(value, ListValueNode):
                return max(1, len(value.values))
            if isinstance(value, VariableNode):
                self.variables.add(value.name.value)
                return _Variable(value.name.value, length=True, fallback=otherwise)
        return otherwise


def _filter_cost(node: FieldNode) -> int:
    """1 per value written in the field's `filter` argument (see the module notes)."""
    return sum(
        _values_in(argument.value)
        for argument in node.arguments or ()
        if argument.name.value == "filter" and isinstance(argument.value, ObjectValueNode)
    )


def _risk_cost(node: FieldNode) -> int:
    """RISK_COST for a `risk` argument given, whatever its value: its cost is the candidates checked."""
    return RISK_COST if any(argument.name.value == "risk" for argument in node.arguments or ()) else 0


def _summary_cost(node: FieldNode, field: Any) -> int:
    """SUMMARY_COST for a connection that selects its `summary`: once, whatever its `first` (which
    multiplies what the connection selects, the summary's own fields included)."""
    if node.selection_set is None or not get_named_type(field.type).name.endswith("Connection"):
        return 0
    asked = any(isinstance(s, FieldNode) and s.name.value == "summary" for s in node.selection_set.selections)
    return SUMMARY_COST if asked else 0


def _values_in(value: Any) -> int:
    if isinstance(value, ObjectValueNode):
        return sum(_values_in(field.value) for field in value.fields)
    if isinstance(value, ListValueNode):
        return sum(_values_in(item) for item in value.values)
    return 1


def _is_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)
