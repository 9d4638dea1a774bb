"""An executor that reads plain scalar fields straight off the record.

Most fields of a customer-360 page are plain scalars on records (a name, an
amount, a date). graphql-core spends about 50 Python calls on each: building
resolve info, calling the resolver, completing the value. For a field that has
no resolver of its own, no arguments and a scalar or enum type, all of that
comes down to `getattr` and the scalar's `serialize`; this executor does just
that and sends every other field down graphql-core's normal path.

A value the fast path cannot handle as the normal path would (a null on a
non-null field, a value the scalar refuses) falls back to the normal path for
that field, so errors come out exactly as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import CoroutineType
from typing import Any, NamedTuple, TypeGuard

from graphql import GraphQLNonNull, GraphQLObjectType, get_directive_values, is_leaf_type
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.executor import Executor
from graphql.pyutils import Path, Undefined, gather_with_cancel

from resolvers.access import Forbidden
from sources import freshness

DEFINITION = "strawberry-definition"


class Plain(NamedTuple):
    attribute: str
    serialize: Callable[[Any], Any]


_UNSET = object()


_plans: dict[tuple[str, frozenset[str]], dict[str, Plain]] = {}


def plain_fields(parent_type: GraphQLObjectType, restricted: frozenset[str]) -> dict[str, Plain]:
    """The fields of a type that the fast path may read directly (once per type and policy).

    Restricted fields never take the fast path: they go through `execute_field`, where
    the field guard decides.
    """
    key = (parent_type.name, restricted)
    plans = _plans.get(key)
    if plans is not None:
        return plans
    plans = {}
    for name, field in parent_type.fields.items():
        if f"{parent_type.name}.{name}" in restricted:
            continue
        definition = (field.extensions or {}).get(DEFINITION)
        resolver_is_default = getattr(field.resolve, "_is_default", False)
        field_type = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        if definition is not None and resolver_is_default and not field.args and is_leaf_type(field_type):
            plans[name] = Plain(definition.python_name, field_type.serialize)
    _plans[key] = plans
    return plans


def is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    """What our resolvers return when they are not done: coroutines and futures.

    graphql-core's generic check also probes `__await__` with `hasattr`, which on a
    pydantic record goes through its `__getattr__`: tens of thousands of slow misses
    on a 360 page, for values that are never awaitable.
    """
    return isinstance(value, _AWAITABLE)


_AWAITABLE = (CoroutineType, asyncio.Future)


class GuardedExecutor(Executor):
    """graphql-core's executor with the field guard and `@fresh`: the reference path.

    The guard lives here, where every execution passes, so authorisation does not depend on
    which executor runs: `FastExecutor` adds its fast path on top, and an executor built
    without it (`Executor(fast_path=False)`) still denies what the policy denies.
    """

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """Guard restricted fields; scope a `@fresh(maxAge:)` requirement to the field's subtree."""
        node = field_details_list[0].node
        context = self.context_value
        if context.restricted:
            name = f"{parent_type.name}.{node.name.value}"
            if name in context.restricted and not context.can_read(name):
                # Null and one FORBIDDEN error at this path; the resolver never runs,
                # so the value is never computed, let alone sent.
                context.denied.add(name)
                self.handle_field_error(
                    Forbidden(f"Not authorised to read {name}."),
                    parent_type.fields[node.name.value].type,
                    field_details_list,
                    path,
                )
                return None
        fresh = self.schema.get_directive("fresh") if node.directives else None
        if fresh is not None:
            values = get_directive_values(fresh, node, self.variable_values)
            if values is not None:
                return self._execute_fresh(
                    float(values["maxAge"]), parent_type, source, field_details_list, path, position_context
                )
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _execute_fresh(
        self,
        max_age: float,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        with freshness.subtree(max_age):
            result = super().execute_field(parent_type, source, field_details_list, path, position_context)
        if not self.is_awaitable(result):
            return result

        async def within_requirement() -> Any:
            # The resolver's body runs here, when awaited: keep the requirement around it.
            with freshness.subtree(max_age):
                return await result

        return within_requirement()


class FastExecutor(GuardedExecutor):
    """The guarded executor with a fast path for plain fields (read straight off the record)."""

    def _selection_plan(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> list[tuple]:
        """Per selection (once per request, then for every object of the list):
        (response name, attribute or None, serialize, nullable, field details)."""
        plans = self.__dict__.setdefault("_isthmus_plans", {})
        cached = plans.get(id(grouped_field_set))
        if cached is not None and cached[0] is grouped_field_set:
            return cached[1]
        plain = plain_fields(parent_type, self.context_value.restricted)
        plan: list[tuple[str, str | None, Callable[[Any], Any] | None, bool, Any]] = []
        for response_name, field_details_list in grouped_field_set.items():
            name = field_details_list[0].node.name.value
            entry = plain.get(name)
            if entry is None:
                plan.append((response_name, None, None, False, field_details_list))
            else:
                nullable = not isinstance(parent_type.fields[name].type, GraphQLNonNull)
                plan.append((response_name, entry.attribute, entry.serialize, nullable, field_details_list))
        plans[id(grouped_field_set)] = (grouped_field_set, plan)
        return plan

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, attribute, serialize, nullable, field_details_list in self._selection_plan(
                parent_type, grouped_field_set
            ):
                if attribute is not None:
                    value = getattr(source_value, attribute, _UNSET)
                    if value is None:
                        if nullable:
                            results[response_name] = None
                            continue
                    elif value is not _UNSET:
                        try:
                            serialized = serialize(value)
                        except Exception:  # noqa: BLE001 - the normal path reports it
                            serialized = Undefined
                        if serialized is not Undefined and serialized is not None:
                            results[response_name] = serialized
                            continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise

        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()


def install_direct_resolvers(graphql_schema: Any) -> int:
    """Call simple resolvers directly from graphql-core, without strawberry's per-call wrapper.

    Strawberry wraps every resolver to build its own Info, convert arguments and run
    field extensions: about 15 µs a call, paid thousands of times on a 360 page. Our
    resolvers use none of that: they read `info.context` and `info.path`, which
    graphql-core's own info has too, and scalar arguments that graphql-core has already
    parsed. So for a resolver whose arguments are all scalars (no enums or inputs,
    which strawberry converts) and which has no field extensions, graphql-core calls
    the function itself. Returns how many fields were switched.
    """
    from inspect import signature

    from graphql import GraphQLList, GraphQLNonNull, GraphQLScalarType

    def unwrap(type_: Any) -> Any:
        while isinstance(type_, (GraphQLNonNull, GraphQLList)):
            if isinstance(type_, GraphQLList):
                return None  # list arguments: strawberry converts their items
            type_ = type_.of_type
        return type_

    switched = 0
    for type_ in graphql_schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for field in type_.fields.values():
            definition = (field.extensions or {}).get(DEFINITION)
            if definition is None or definition.base_resolver is None or definition.extensions:
                continue
            if not all(isinstance(unwrap(arg.type), GraphQLScalarType) for arg in field.args.values()):
                continue
            function = definition.base_resolver.wrapped_func
            parameters = list(signature(function).parameters)
            if not parameters or parameters[0] != "self":
                continue
            renames = {
                graphql_name: argument.python_name
                for argument in definition.arguments
                for graphql_name in [argument.graphql_name or _camel(argument.python_name)]
            }
            field.resolve = _direct(function, wants_info="info" in parameters, renames=renames)
            switched += 1
    return switched


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _direct(function: Callable[..., Any], *, wants_info: bool, renames: dict[str, str]) -> Callable[..., Any]:
    identity = all(graphql == python for graphql, python in renames.items())
    if wants_info and identity:
        return lambda source, info, **args: function(source, info, **args)
    if identity:
        return lambda source, info, **args: function(source, **args)

    def call(source: Any, info: Any, **args: Any) -> Any:
        args = {renames.get(key, key): value for key, value in args.items()}
        return function(source, info, **args) if wants_info else function(source, **args)

    return call
