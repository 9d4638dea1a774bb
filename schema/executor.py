"""Running a GraphQL document: cached parse and validation, execution, error codes.

This is the one place that turns exceptions into the errors a client reads.
Every error carries a stable `extensions.code` (the README lists them); a
failed backend call is reported once, however many fields it cost; nothing
unexpected leaks its internals (the log gets the details, the client the
request id).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from cachetools import LRUCache
from graphql import (
    DocumentNode,
    ExecutableDefinitionNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    create_source_event_stream,
    parse,
    validate,
)
from graphql.execution.executor import Executor as GraphQLExecutor

from resolvers.context import Context
from schema import demand, scalars
from schema.plan import OperationPlan, PlanCache, compile_plan, condition_variables
from schema.plan_run import PlanRun
from schema.reference import GuardedExecutor, is_awaitable
from sources import SourceError, deadline
from sources.errors import BackendBusy, IsthmusError

log = logging.getLogger("isthmus.executor")

MAX_AFFECTED_PATHS = 20


@dataclass(frozen=True)
class Prepared:
    """A parsed, validated document, kept across requests."""

    document: DocumentNode | None
    errors: tuple[dict[str, Any], ...]

    def operation(self, name: str | None) -> OperationDefinitionNode | None:
        if self.document is None:
            return None
        operations = [d for d in self.document.definitions if isinstance(d, OperationDefinitionNode)]
        if name is None:
            return operations[0] if len(operations) == 1 else None
        return next((o for o in operations if o.name and o.name.value == name), None)

    def is_query(self, name: str | None) -> bool:
        operation = self.operation(name)
        return operation is None or operation.operation is OperationType.QUERY

    def is_subscription(self, name: str | None) -> bool:
        operation = self.operation(name)
        return operation is not None and operation.operation is OperationType.SUBSCRIPTION


class Executor:
    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        document_cache_size: int = 1000,
        plans: bool = True,
        plan_cache_size: int = 500,
        max_tokens: int | None = None,
        limits: demand.Limits | None = None,
    ) -> None:
        self.schema = schema
        self.max_tokens = max_tokens
        self.limits = limits
        # None: every operation runs on graphql-core (the reference the differential test compares to)
        self.plans: PlanCache | None = PlanCache(plan_cache_size) if plans else None
        self._documents: LRUCache[str, Prepared] = LRUCache(maxsize=document_cache_size)

    def prepare(self, query: str) -> Prepared:
        prepared = self._documents.get(query)
        if prepared is None:
            prepared = self._documents[query] = self._parse_and_validate(query)
        return prepared

    def _parse_and_validate(self, query: str) -> Prepared:
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError as error:
            return Prepared(None, (_client_error(error, "GRAPHQL_PARSE_FAILED"),))
        if self.limits is not None:
            # Before validation, which is quadratic in repeated fields: a flood is refused cheaply.
            fields = _count_fields(document)
            if fields > self.limits.fields:
                message = f"The document has {fields} field selections; at most {self.limits.fields} are allowed."
                return Prepared(None, ({"message": message, "extensions": {"code": "TOO_MANY_FIELDS"}},))
            # And each operation's shape with fragments expanded, in time linear in the text
            # (a fragment bomb costs validation tens of milliseconds before it could be refused after it).
            refusal = demand.screen(document, self.limits)
            if refusal is not None:
                return Prepared(None, (refusal.as_error(),))
        errors = validate(self.schema, document)
        if errors:
            return Prepared(
                None,
                tuple(
                    scalars.client_error(error, document) or _client_error(error, "GRAPHQL_VALIDATION_FAILED")
                    for error in errors
                ),
            )
        return Prepared(document, ())

    async def run(
        self,
        prepared: Prepared,
        *,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Context,
    ) -> dict[str, Any]:
        """Execute on the operation's plan when it has one, else on graphql-core; the same answer either way."""
        if prepared.document is None:  # the pipeline answers a document's errors before running it
            raise ValueError("a document that did not validate cannot run")
        started = time.perf_counter()
        base = GuardedExecutor.build(
            self.schema,
            prepared.document,
            context_value=context,
            raw_variable_values=variables,
            operation_name=operation_name,
            is_awaitable=is_awaitable,
        )
        if isinstance(base, list):  # variables that do not coerce, an unknown operation
            return {"errors": format_errors(base, context, None)}
        try:
            plan = self._plan(prepared.document, base, operation_name, context)
            if plan is None:
                outcome = base.execute_operation()
                result = outcome if isinstance(outcome, ExecutionResult) else await cast(Awaitable[Any], outcome)
                assert isinstance(result, ExecutionResult)  # no @defer or @stream in this schema
                data, errors = result.data, list(result.errors or ())
            else:
                planned = time.perf_counter()
                context.spent("plan", planned - started)
                data, errors = await PlanRun(plan, base, context).run()
                context.spent("completing", time.perf_counter() - planned - context.phases.get("waiting", 0.0))
        finally:
            # graphql-core's executor refers to itself (its `async_helpers` hold its bound methods), and
            # through the context to every record the request loaded: a cycle only a full collection
            # frees, which the tuned collector runs rarely. Under load those requests' records piled up
            # (hundreds of MB). Cut the cycle, so the request's memory goes when the request does.
            base.async_helpers = None  # type: ignore[assignment]
            base.context_value = None
        response: dict[str, Any] = {}
        formatted = format_errors(errors, context, data)
        if formatted:
            response["errors"] = formatted
        # `data` is null, not absent, once execution started: a non-null field's error nulled it
        # (errors with a path). An operation-level error (no path) comes without data.
        if data is not None or not errors or any(error.path for error in errors):
            response["data"] = data
        return response

    async def subscribe(
        self,
        prepared: Prepared,
        *,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Context,
        context_for_event: Callable[[], Context],
        timeout: float,
    ) -> dict[str, Any] | AsyncGenerator[dict[str, Any], None]:
        """A subscription: its errors when it cannot start, else one response per event of its stream.

        The root field's resolver opens the stream in `context` (the subscribing request's). Each
        event then runs the operation on graphql-core with the field guard, as the reference path
        runs a query, with the event as the root value and a context of its own (`context_for_event`:
        fresh loaders, the caller's decisions), so a denied field is null and FORBIDDEN in every payload;
        each within `timeout` seconds, as a request.
        """
        if prepared.document is None:
            raise ValueError("a document that did not validate cannot run")
        base = self._build(prepared.document, variables, operation_name, context, None)
        if isinstance(base, list):
            return {"errors": format_errors(base, context, None)}
        try:
            opened = create_source_event_stream(base)
            stream = await opened if is_awaitable(opened) else opened
        finally:
            base.async_helpers = None  # type: ignore[assignment]
            base.context_value = None
        if isinstance(stream, ExecutionResult):
            return {"errors": format_errors(list(stream.errors or ()), context, None)}
        return self._responses(
            prepared.document, variables, operation_name, cast(AsyncIterator[Any], stream), context_for_event, timeout
        )

    async def _responses(
        self,
        document: DocumentNode,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        stream: AsyncIterator[Any],
        context_for_event: Callable[[], Context],
        timeout: float,
    ) -> AsyncGenerator[dict[str, Any], None]:
        try:
            async for event in stream:
                context = context_for_event()
                executor = self._build(document, variables, operation_name, context, event)
                if isinstance(executor, list):  # the same variables coerced when it started
                    raise RuntimeError("a subscription's variables stopped coercing")
                try:
                    with deadline.bound(timeout):
                        outcome = executor.execute_operation()
                        result = (
                            outcome if isinstance(outcome, ExecutionResult) else await cast(Awaitable[Any], outcome)
                        )
                finally:
                    executor.async_helpers = None  # type: ignore[assignment]
                    executor.context_value = None
                response: dict[str, Any] = {}
                formatted = format_errors(list(result.errors or ()), context, result.data)
                if formatted:
                    response["errors"] = formatted
                response["data"] = result.data
                yield response
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()

    def _build(
        self,
        document: DocumentNode,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Context,
        root: Any,
    ) -> GraphQLExecutor | list[GraphQLError]:
        return GuardedExecutor.build(
            self.schema,
            document,
            root_value=root,
            context_value=context,
            raw_variable_values=variables,
            operation_name=operation_name,
            is_awaitable=is_awaitable,
        )

    def _plan(
        self, document: DocumentNode, base: GraphQLExecutor, operation_name: str | None, context: Context
    ) -> OperationPlan | None:
        """The operation's plan for this caller's decisions, compiled on first use; None: graphql-core runs it."""
        if self.plans is None or context.decisions is None:
            return None
        conditions = condition_variables(base.operation, base.fragments)
        key = (
            id(document),
            operation_name,
            context.decisions,
            tuple(bool(base.variable_values.coerced.get(name)) for name in conditions),
        )
        return self.plans.get_or_compile(
            key,
            context.decisions[0],
            document,
            lambda: compile_plan(
                self.schema, base.fragments, base.variable_values, base.operation, context.can_read, context.restricted
            ),
        )


def _count_fields(document: DocumentNode) -> int:
    count = 0
    stack = [
        definition.selection_set
        for definition in document.definitions
        if isinstance(definition, ExecutableDefinitionNode) and definition.selection_set
    ]
    while stack:
        for selection in stack.pop().selections:
            count += isinstance(selection, FieldNode)
            child = getattr(selection, "selection_set", None)
            if child is not None:
                stack.append(child)
    return count


def _client_error(error: GraphQLError, code: str) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    formatted["extensions"] = {**(formatted.get("extensions") or {}), "code": code}
    return formatted


def format_errors(errors: list[GraphQLError], context: Context, data: Any) -> list[dict[str, Any]]:
    """Client-readable errors: codes for all, one per failed backend call, no internals.

    In the order of their paths in the response (the document's order), whichever
    executor ran and whenever each backend answered: the same request gets the same errors.
    """
    out: list[dict[str, Any]] = []
    by_failure: dict[int, dict[str, Any]] = {}

    def add_source_failure(failure: SourceError, path: list[Any] | None) -> None:
        seen = by_failure.get(id(failure))
        if seen is not None:
            affected = seen["extensions"].setdefault("affectedPaths", [seen["path"]] if "path" in seen else [])
            if path is not None and len(affected) < MAX_AFFECTED_PATHS:
                affected.append(path)
            return
        entry: dict[str, Any] = {
            "message": failure.public_message,
            "extensions": {"code": failure.code, "source": failure.source, "method": failure.method},
        }
        if isinstance(failure, BackendBusy):
            entry["extensions"]["retryAfter"] = failure.retry_after
        if path is not None:
            entry["path"] = path
        by_failure[id(failure)] = entry
        out.append(entry)

    reports: list[tuple[list[Any] | None, GraphQLError | SourceError]] = [(error.path, error) for error in errors]
    reports += [
        (path.as_list() if hasattr(path, "as_list") else path, failure) for path, failure in context.partial_failures
    ]
    if len(reports) > 1:
        reports.sort(key=lambda report: _document_position(report, data))
    for path, report in reports:
        if isinstance(report, SourceError):
            add_source_failure(report, path)
            continue
        error = report
        original = error.original_error
        if isinstance(original, SourceError):
            add_source_failure(original, error.path)
        elif isinstance(original, IsthmusError):  # the gateway's own errors, written for the client
            out.append(_with_code(error, str(original), original.code))
        elif original is None or isinstance(original, GraphQLError):
            # Request errors from graphql-core itself: variable coercion, unknown operation.
            out.append(_with_code(error, error.message, "BAD_USER_INPUT"))
        else:
            log.error("unexpected error at %s (request %s)", error.path, context.request_id, exc_info=original)
            out.append(
                _with_code(
                    error,
                    f"Internal error. Quote request id {context.request_id} when reporting it.",
                    "INTERNAL",
                )
            )
    return out


def _document_position(
    report: tuple[list[Any] | None, GraphQLError | SourceError], data: Any
) -> tuple[tuple[int, int, int], ...]:
    """Where an error points in the response, as positions in document order.

    Along its path while the response has it; past that (a nulled position), by where
    its field is written in the document.
    """
    path, error = report
    if not path:
        return ()
    locations = getattr(error, "locations", None) or ()
    written = (locations[0].line, locations[0].column) if locations else (0, 0)
    position: list[tuple[int, int, int]] = []
    node = data
    for part in path:
        if isinstance(node, dict) and part in node:
            position.append((list(node).index(part), 0, 0))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            position.append((part, 0, 0))
            node = node[part]
        else:
            position.append((1 << 30, *written))
            position.extend((part, 0, 0) if isinstance(part, int) else (0, 0, 0) for part in path[len(position) :])
            break
    return tuple(position)


def _with_code(error: GraphQLError, message: str, code: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"message": message}
    if error.locations:
        entry["locations"] = [location.formatted for location in error.locations]
    if error.path is not None:
        entry["path"] = error.path
    entry["extensions"] = {"code": code}
    return entry
