"""graphql-core's executor with the field guard and `@fresh`: the reference path.

The plan executor (`schema.plan_run`) runs what it supports; this runs the rest
(introspection, federation's `_entities`, mutations, anything `schema.plan.compile_plan`
leaves out) and is what the differential test holds the plan executor to. The guard lives
here as well as in the plan, so authorisation does not depend on which executor runs.
A mutation runs only when the policy lets the caller write it (`Mutation.<name>`, action
`write`); refused, it is null with one FORBIDDEN error and its resolver never runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from types import CoroutineType
from typing import Any, TypeGuard

from graphql import GraphQLObjectType, get_directive_values
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.executor import Executor
from graphql.pyutils import Path

from resolvers.access import Forbidden
from sources import freshness


def is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    """What our resolvers return when they are not done: coroutines and futures.

    graphql-core's generic check also probes `__await__` with `hasattr`, which on a
    pydantic record goes through its `__getattr__`: tens of thousands of slow misses
    on a 360 page, for values that are never awaitable.
    """
    return isinstance(value, _AWAITABLE)


_AWAITABLE = (CoroutineType, asyncio.Future)


class GuardedExecutor(Executor):
    """graphql-core's executor, denying what the caller may not read and scoping `@fresh`."""

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
        if parent_type is self.schema.mutation_type:
            name = f"Mutation.{node.name.value}"
            if not context.can_write(name):
                context.denied.add(name)
                self.handle_field_error(
                    Forbidden.to_write(name), parent_type.fields[node.name.value].type, field_details_list, path
                )
                return None
        if context.restricted:
            name = f"{parent_type.name}.{node.name.value}"
            if name in context.restricted and not context.can_read(name):
                # Null and one FORBIDDEN error at this path; the resolver never runs,
                # so the value is never computed, let alone sent.
                context.denied.add(name)
                self.handle_field_error(
                    Forbidden.to_read(name),
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
