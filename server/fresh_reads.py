"""Fresh reads are rationed: no caller can turn the cache off for everyone.

`Cache-Control: no-cache` (or `max-age=0`) and `@fresh(maxAge: 0)` send a request past every
cache to the systems of record. Each principal may do so `budgets.fresh_reads` times per
`budgets.fresh_reads_window` seconds (a bucket per principal, like the cost budget: in Redis,
one across replicas). Past it the request still runs, from the caches within their TTLs
(sources/freshness.py `rationed`): `extensions.freshness` states the ages it got, and
`extensions.freshReads` that the allowance is spent and in how many seconds a fresh read is
allowed again. A caller that would rather have no answer than a cached one adds
`only-if-fresh` (`Cache-Control: no-cache, only-if-fresh`): past its allowance that request
is refused, FRESH_READS_SPENT (HTTP 429, `Retry-After`), and nothing runs.

Other callers are untouched: the rationing is per principal, and a rationed request reads
the caches as any request without a freshness ask does.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from graphql import DirectiveNode, IntValueNode, OperationDefinitionNode, VariableNode, Visitor, visit

from server.budget import CostBudget
from sources.redis_link import RedisLink

INSIST = "only-if-fresh"


class FreshReads:
    def __init__(self, per_window: int, window: float, shared: RedisLink | None = None) -> None:
        self.allowance = CostBudget(per_window, window, shared=shared, name="fresh")

    async def take(self, principal: str) -> int | None:
        """One fresh read of the principal's allowance: None when allowed, else seconds until one is."""
        wait = await self.allowance.charge(principal, 1)
        return None if wait is None else max(1, int(wait))


def insists(cache_control: str | None) -> bool:
    """`only-if-fresh` among the request's Cache-Control directives."""
    return bool(cache_control) and any(
        directive.strip().lower() == INSIST for directive in (cache_control or "").split(",")
    )


def asks_fresh(
    query: str, document: Any, operation: OperationDefinitionNode | None, variables: dict[str, Any] | None
) -> bool:
    """Whether the document has `@fresh(maxAge: 0)` (a literal, or a variable that is 0; or less) on any field."""
    if "fresh" not in query or document is None:
        return False
    finder = _FreshZero(variables or {}, operation)
    visit(document, finder)
    return finder.found


class _FreshZero(Visitor):
    def __init__(self, variables: dict[str, Any], operation: OperationDefinitionNode | None) -> None:
        super().__init__()
        self.variables = variables
        self.defaults = {
            definition.variable.name.value: definition.default_value
            for definition in ((operation.variable_definitions or ()) if operation is not None else ())
        }
        self.found = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        if node.name.value != "fresh":
            return
        for argument in node.arguments or ():
            if argument.name.value != "maxAge":
                continue
            value: Any = argument.value
            if isinstance(value, VariableNode):
                value = self.variables.get(value.name.value, self.defaults.get(value.name.value))
            if isinstance(value, IntValueNode):
                value = value.value
            with suppress(TypeError, ValueError):  # not an integer: validation or coercion refuses it
                self.found = self.found or int(value) <= 0
