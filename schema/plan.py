"""An operation plan: everything about a query that does not depend on the data, decided once.

For an operation, a caller's policy decisions and the values of the variables that
`@skip`/`@include` read, the plan says for every selection: which fields the caller
may not read (decided here, once: the executor answers them with null and one
`FORBIDDEN` error per path and never runs their resolvers), how each field gets its
value (a resolver to call, or an attribute of the record), its arguments (coerced
once per request, not once per object), the `@fresh` requirement, and for plain
scalar fields a row builder: generated code that reads and serialises all of them
in one Python call per object, as graphql-jit compiles a query into straight-line
code. `schema.plan_run` executes it a layer at a time.

`compile_plan` returns None for an operation the plan executor does not handle (see
`unsupported`); graphql-core runs those.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.collect_fields import FieldDetailsList, FragmentDetails, collect_fields, collect_subfields
from graphql.execution.values import VariableValues, get_argument_values

from schema.batched import batch_of
from schema.direct import DEFINITION, argument_converter

UNSUPPORTED_ROOT_FIELDS = frozenset({"__schema", "__type", "_entities"})


class Unsupported(Exception):
    """The operation uses something the plan executor leaves to graphql-core."""


@dataclass(slots=True)
class FieldStep:
    """One field of a selection: where its value comes from and how it is completed."""

    response_name: str
    name: str
    parent: GraphQLObjectType
    definition: GraphQLField
    details: FieldDetailsList
    nodes: list[FieldNode]
    # the output type, as wrappers from the outside in: e.g. ("!", "[", "") for [T]!
    shape: tuple[str, ...]
    denied: bool = False
    resolve: Callable[..., Any] | None = None  # None: the record's attribute
    batch: Callable[..., Any] | None = None  # one call for all the layer's objects (`schema.batched`)
    convert: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # the batch's arguments, as Python takes them
    attribute: str = ""
    arguments: dict[str, Any] | None = None  # None: depend on variables, coerced per request
    fresh: FieldNode | None = None  # the node carrying `@fresh`, read per request
    serialize: Callable[[Any], Any] | None = None  # leaf types
    selection: Selection | None = None  # object types

    @property
    def nullable(self) -> bool:
        return self.shape[0] != "!"

    @property
    def coordinate(self) -> str:
        return f"{self.parent.name}.{self.name}"


@dataclass(slots=True)
class Selection:
    """The fields selected on one object type at one place in the operation."""

    type: GraphQLObjectType
    steps: list[FieldStep] = field(default_factory=list)
    template: dict[str, None] = field(default_factory=dict)  # the response keys, in document order
    # Plain scalar fields read in one call per object: (source, output dict) -> None;
    # raises on anything unusual, and the executor then completes that object field by field.
    row: Callable[[Any, dict[str, Any]], None] | None = None
    plain: list[FieldStep] = field(default_factory=list)  # the fields `row` fills
    others: list[FieldStep] = field(default_factory=list)  # the rest, in document order
    # A denied non-null field nulls the whole object: nothing else of it needs to run.
    nulled_by: FieldStep | None = None
    # Completes the whole object in one call when nothing in its subtree needs a resolver, a
    # denial or `@fresh` (plain fields, and records or lists of records read off the record);
    # raises on anything unusual, and the executor then completes the object field by field.
    at_once: Callable[[Any, dict[str, Any]], None] | None = None


@dataclass(slots=True)
class OperationPlan:
    operation: OperationDefinitionNode
    root: Selection
    denied: frozenset[str]  # the restricted coordinates this plan answers FORBIDDEN


class PlanCache:
    """Compiled plans, bounded; emptied whenever the policy they were decided under changes."""

    def __init__(self, maxsize: int = 500) -> None:
        self._plans: LRUCache[Hashable, tuple[DocumentNode, OperationPlan | None]] = LRUCache(maxsize=maxsize)
        self._policy: Any = None

    def __len__(self) -> int:
        return len(self._plans)

    @property
    def maxsize(self) -> int:
        return int(self._plans.maxsize)

    def get_or_compile(
        self,
        key: tuple[Any, ...],
        policy: Any,
        document: DocumentNode,
        compile_: Callable[[], OperationPlan | None],
    ) -> OperationPlan | None:
        if policy != self._policy:
            self._plans.clear()
            self._policy = policy
        found = self._plans.get(key)
        if found is not None and found[0] is document:
            return found[1]
        plan = compile_()
        self._plans[key] = (document, plan)
        return plan


def condition_variables(operation: OperationDefinitionNode, fragments: dict[str, FragmentDetails]) -> tuple[str, ...]:
    """The variables that `@skip`/`@include` read anywhere in the operation: they select the plan."""
    names: set[str] = set()
    stack: list[SelectionSetNode] = [operation.selection_set]
    stack += [details.definition.selection_set for details in fragments.values()]
    while stack:
        for selection in stack.pop().selections:
            for directive in selection.directives or ():
                if directive.name.value in ("skip", "include"):
                    for argument in directive.arguments or ():
                        variable = getattr(argument.value, "name", None)
                        if variable is not None and argument.value.kind == "variable":
                            names.add(variable.value)
            child = getattr(selection, "selection_set", None)
            if child is not None:
                stack.append(child)
    return tuple(sorted(names))


def compile_plan(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDetails],
    variables: VariableValues,
    operation: OperationDefinitionNode,
    can_read: Callable[[str], bool],
    restricted: frozenset[str],
) -> OperationPlan | None:
    """The plan for one operation under one caller's decisions, or None to leave it to graphql-core."""
    if operation.operation is not OperationType.QUERY:
        return None
    root_type = schema.query_type
    if root_type is None:
        return None
    compiler = _Compiler(schema, fragments, variables, operation, can_read, restricted)
    try:
        grouped = collect_fields(schema, fragments, variables, root_type, operation).grouped_field_set
        if UNSUPPORTED_ROOT_FIELDS & {details[0].node.name.value for details in grouped.values()}:
            return None
        root = compiler.selection(root_type, grouped)
    except (Unsupported, RecursionError):
        return None
    return OperationPlan(operation, root, frozenset(compiler.denied))


@dataclass
class _Compiler:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDetails]
    variables: VariableValues
    operation: OperationDefinitionNode
    can_read: Callable[[str], bool]
    restricted: frozenset[str]
    denied: set[str] = field(default_factory=set)

    def selection(self, type_: GraphQLObjectType, grouped: dict[str, FieldDetailsList]) -> Selection:
        selection = Selection(type_)
        for response_name, details in grouped.items():
            if any(d.defer_usage is not None or d.fragment_variable_values is not None for d in details):
                raise Unsupported("@defer or fragment variables")
            step = self.step(type_, response_name, details)
            selection.steps.append(step)
            if step.denied and not step.nullable and selection.nulled_by is None:
                selection.nulled_by = step
        selection.template = dict.fromkeys(step.response_name for step in selection.steps)
        for step in selection.steps:
            plain = not step.denied and step.resolve is None and step.serialize is not None and step.fresh is None
            (selection.plain if plain else selection.others).append(step)
        selection.row = _row_builder(selection.plain) if selection.plain else None
        selection.at_once = _at_once(selection)
        return selection

    def step(self, parent: GraphQLObjectType, response_name: str, details: FieldDetailsList) -> FieldStep:
        node = details[0].node
        name = node.name.value
        if name == "__typename":
            definition = GraphQLField(GraphQLNonNull(GraphQLString))
            step = FieldStep(response_name, name, parent, definition, details, [d.node for d in details], ("!",))
            typename = parent.name
            step.resolve = lambda _source, _info: typename
            step.serialize = _identity
            step.arguments = {}
            return step
        definition = parent.fields.get(name)
        if definition is None:
            raise Unsupported(f"{parent.name}.{name}")
        shape, named = _shape(definition.type)
        step = FieldStep(response_name, name, parent, definition, details, [d.node for d in details], shape)
        coordinate = step.coordinate
        if coordinate in self.restricted and not self.can_read(coordinate):
            step.denied = True
            self.denied.add(coordinate)
            return step
        strawberry_field = (definition.extensions or {}).get(DEFINITION)
        if strawberry_field is None:
            raise Unsupported(f"{coordinate} is not a strawberry field")
        if strawberry_field.base_resolver is None and not definition.args:
            step.attribute = strawberry_field.python_name
        else:
            step.resolve = definition.resolve
            step.batch = batch_of(strawberry_field)
            if step.batch is not None:
                step.convert = argument_converter(definition)
                if step.convert is None:  # a field strawberry calls with extensions: its own resolver, per object
                    step.batch = None
        step.arguments = self.static_arguments(definition, node)
        if any(directive.name.value == "fresh" for directive in node.directives or ()):
            step.fresh = node
        if isinstance(named, GraphQLObjectType):
            sub = collect_subfields(self.schema, self.fragments, self.variables, self.operation, named, details)
            step.selection = self.selection(named, sub.grouped_field_set)
        elif isinstance(named, GraphQLEnumType | type(GraphQLString)):
            step.serialize = _serializer(named)
        else:
            raise Unsupported(f"{coordinate}: abstract type")
        return step

    def static_arguments(self, definition: GraphQLField, node: FieldNode) -> dict[str, Any] | None:
        """The field's arguments when no variable feeds them (the same for every request), else None."""
        if not definition.args and not node.arguments:
            return {}
        if any(_uses_variable(argument.value) for argument in node.arguments or ()):
            return None
        return get_argument_values(definition, node, self.variables)


def _uses_variable(value: Any) -> bool:
    if value.kind == "variable":
        return True
    if value.kind == "list_value":
        return any(_uses_variable(item) for item in value.values)
    if value.kind == "object_value":
        return any(_uses_variable(item.value) for item in value.fields)
    return False


def _shape(type_: GraphQLOutputType) -> tuple[tuple[str, ...], Any]:
    wrappers: list[str] = []
    while True:
        if isinstance(type_, GraphQLNonNull):
            wrappers.append("!")
        elif isinstance(type_, GraphQLList):
            wrappers.append("[")
        else:
            break
        type_ = type_.of_type
    # one marker per list level: "!" before it when non-null, "" when nullable
    shape: list[str] = []
    pending_non_null = False
    for wrapper in wrappers:
        if wrapper == "!":
            pending_non_null = True
            continue
        shape.append("!" if pending_non_null else "")
        shape.append("[")
        pending_non_null = False
    shape.append("!" if pending_non_null else "")
    return tuple(shape), get_named_type(type_)


def _identity(value: Any) -> Any:
    return value


_EXACT: dict[Any, tuple[type, ...]] = {
    GraphQLString: (str,),
    GraphQLID: (str,),
    GraphQLInt: (int,),
    GraphQLFloat: (float,),
    GraphQLBoolean: (bool,),
}


def _serializer(type_: Any) -> Callable[[Any], Any]:
    """The leaf type's output coercion, with a shortcut for scalars already in their output form
    (row builders inline it, and map enum members by identity: `_inline`).

    Anything the shortcut does not cover goes through the type's own coercion, which
    raises or returns None for what it refuses: the executor then reports that field
    exactly as graphql-core would.
    """
    coerce = type_.coerce_output_value
    exact = _EXACT.get(type_)
    if exact is not None:
        (kind,) = exact

        def scalar(value: Any) -> Any:
            return value if value.__class__ is kind else coerce(value)

        return scalar
    return coerce


def _at_once(selection: Selection) -> Callable[[Any, dict[str, Any]], None] | None:
    """A plain subtree's builder: its row, then each nested record (or list of records) read off
    the record and built by its own `at_once`. None when any part needs the executor."""
    if selection.nulled_by is not None:
        return None
    nested: list[tuple[str, str, bool, bool | None, dict[str, None], Callable[[Any, dict[str, Any]], None]]] = []
    for step in selection.others:
        child = step.selection
        if step.denied or step.resolve is not None or step.fresh is not None or child is None or len(step.shape) > 3:
            return None
        if child.at_once is None:
            return None
        item_nullable = None if len(step.shape) == 1 else step.shape[2] != "!"
        nested.append((step.attribute, step.response_name, step.nullable, item_nullable, child.template, child.at_once))
    row = selection.row
    if not nested:
        return row

    def build(source: Any, out: dict[str, Any]) -> None:
        if row is not None:
            row(source, out)
        for attribute, key, nullable, item_nullable, template, child in nested:
            value = getattr(source, attribute)
            if value is None:
                if not nullable:
                    raise SlowPath
                out[key] = None
            elif item_nullable is None:
                child(value, target := template.copy())
                out[key] = target
            else:
                if value.__class__ is not list:
                    raise SlowPath
                built: list[Any] = []
                for element in value:
                    if element is None:
                        if not item_nullable:
                            raise SlowPath
                        built.append(None)
                    else:
                        child(element, target := template.copy())
                        built.append(target)
                out[key] = built

    return build


class SlowPath(Exception):
    """A row builder met a value it does not complete itself (a null, a refusal): go field by field."""


def _inline(step: FieldStep, index: int, namespace: dict[str, Any]) -> str:
    """The expression that serialises `v` for this field, without a call where the value is
    already in its output form (a str for String, a known member for an enum)."""
    serialize = namespace[f"s{index}"] = step.serialize
    named = get_named_type(step.definition.type)
    exact = _EXACT.get(named)
    if exact is not None:
        namespace[f"k{index}"] = exact[0]
        return f"(v if v.__class__ is k{index} else s{index}(v))"
    definition = (named.extensions or {}).get(DEFINITION) if isinstance(named, GraphQLEnumType) else None
    members = getattr(definition, "wrapped_cls", None)
    if members is not None and serialize is not None:
        # by identity: members live as long as their class, and an enum's own hash is Python code
        namespace[f"e{index}"] = names = {}
        for member in members:
            try:
                names[id(member)] = serialize(member)
            except Exception:  # noqa: BLE001, S112 - a member GraphQL refuses goes through `s`, which reports it
                continue
        return f"(e{index}.get(id(v)) or s{index}(v))"
    return f"s{index}(v)"


def _row_builder(steps: list[FieldStep]) -> Callable[[Any, dict[str, Any]], None]:
    """Generated code that reads and serialises a selection's plain fields: one call per object.

    `row(source, out)` fills `out` in document order positions (the executor inserts the
    other fields' keys first, so the response keeps the document's order) and raises
    `SlowPath` for a null on a non-null field or a value its serialiser refuses.
    """
    lines = ["def row(source, out):"]
    namespace: dict[str, Any] = {"SlowPath": SlowPath}
    for index, step in enumerate(steps):
        serialize = _inline(step, index, namespace)
        key = repr(step.response_name)
        lines.append(f"    v = source.{step.attribute}")
        if step.nullable:
            lines.append("    if v is None:")
            lines.append(f"        out[{key}] = None")
            lines.append("    else:")
            lines.append(f"        v = {serialize}")
            lines.append("        if v is None: raise SlowPath")
            lines.append(f"        out[{key}] = v")
        else:
            lines.append(f"    v = {serialize} if v is not None else None")
            lines.append("    if v is None: raise SlowPath")
            lines.append(f"    out[{key}] = v")
    exec(compile("\n".join(lines), "<row builder>", "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace["row"]
