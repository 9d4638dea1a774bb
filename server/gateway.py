"""The gateway's request pipeline, independent of HTTP: document, limits, context, execution.

`Gateway` runs one GraphQL request of an authenticated caller: it resolves the
document (`server/documents.py`), refuses what is over a demand limit, builds the
request's context and loaders, applies the deadline and freshness budget, and
executes, its backend calls queueing in the request's priority class (server/priorities.py);
a request for data straight from the systems of record takes one of the caller's fresh reads
(server/fresh_reads.py). What it runs on is built in `server/wiring.py`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from contextlib import nullcontext
from typing import Any

import orjson

from resolvers.context import Context, Principal
from resolvers.loaders import Loaders
from schema.executor import Prepared
from server.documents import DocumentCache
from server.errors import (
    BadRequest,
    FreshReadsSpent,
    IntrospectionDisabled,
    MethodNotAllowed,
    QueryTooComplex,
    RateLimited,
    Refused,
)
from server.fresh_reads import FreshReads, asks_fresh
from server.priorities import class_of
from server.wiring import Services
from sources import admission, deadline, freshness, trace

DEADLINE_MARGIN = 0.25
TRACE_HEADER = "x-isthmus-trace"
TIMEOUT_HEADER = "x-request-timeout"


def error_body(message: str, code: str) -> bytes:
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})


def bi_error_body(message: str, code: str, errors: list[dict[str, Any]] | None = None) -> bytes:
    """An error of `/bi/`: the GraphQL `errors`, and beside them `error` as web-API readers of
    tables (shillelagh, Superset) show it: `{"error": {"message", "code"}}`."""
    listed = errors if errors is not None else [{"message": message, "extensions": {"code": code}}]
    return orjson.dumps({"errors": listed, "error": {"message": message, "code": code}})


class Gateway:
    """The request pipeline: one GraphQL request from its payload to its answer, over the `Services`."""

    def __init__(self, services: Services) -> None:
        self.settings = services.settings
        self.backends = services.backends
        self.schema = services.schema
        self.executor = services.executor
        self.budget = services.budget
        self.authorizer = services.authorizer
        self.approval_rules = services.approval_rules
        self.idempotency = services.idempotency
        self.live = services.live
        self.documents = DocumentCache(services.executor, services.settings.document_cache_size)
        budgets = services.settings.budgets
        self.fresh_reads = (
            FreshReads(budgets.fresh_reads, budgets.fresh_reads_window, services.redis) if budgets.fresh_reads else None
        )

    def context_for(self, principal: Principal, request_id: str) -> Context:
        """The request's context: its loaders, and the policy's decisions for this caller."""
        loaders = Loaders(self.backends, batching=self.settings.batching)
        if not self.settings.auth.enabled:
            return Context(
                principal=principal,
                loaders=loaders,
                request_id=request_id,
                decisions=("everyone",),
                credit_basis=self.settings.credit_basis,
                approval_rules=self.approval_rules,
                idempotency=self.idempotency,
                live=self.live,
            )
        authorizer = self.authorizer
        authorizer.reload_if_changed()
        roles = principal.roles
        return Context(
            principal=principal,
            loaders=loaders,
            request_id=request_id,
            approval_rules=self.approval_rules,
            can_read=lambda field: authorizer.can_read(roles, field),
            restricted=authorizer.restricted,
            decisions=(authorizer.policy.version, roles),
            scope=authorizer.scope(roles),
            credit_basis=self.settings.credit_basis,
            can_write=lambda mutation: authorizer.can_write(roles, mutation),
            holds_role=lambda role: authorizer.holds_role(roles, role),
            idempotency=self.idempotency,
            live=self.live,
        )

    def may_trace(self, principal: Principal) -> bool:
        """`X-Isthmus-Trace` is honoured for roles the policy grants `debug:trace` (everyone with auth off)."""
        return not self.settings.auth.enabled or self.authorizer.may_trace(principal.roles)

    async def check_demand(
        self, prepared: Prepared, operation_name: str | None, variables: dict[str, Any] | None, principal: Principal
    ) -> None:
        """Refuse what is too expensive, and charge the caller's budget with its estimate: all before any backend call.

        The shape limits were checked when the document was prepared (`Executor`, before validation).
        """
        limits = self.settings.limits
        shape, plan = self.documents.demand(prepared, operation_name)
        if (
            shape.introspection
            and limits.introspection_roles is not None
            and not set(principal.roles) & set(limits.introspection_roles)
        ):
            raise IntrospectionDisabled("Introspection is not enabled for your role.")
        estimated = plan.estimate(variables)
        if estimated is None:
            return  # variables that do not coerce: execution answers BAD_USER_INPUT, nothing runs
        if estimated > limits.max_cost:
            raise QueryTooComplex(
                f"The operation's estimated cost is {estimated}, above the limit of {limits.max_cost}. "
                "Ask for fewer items (smaller `first`) or fewer nested lists."
            )
        wait = await self.budget.charge(principal.id, estimated)
        if wait is not None:
            raise RateLimited(
                f"Your cost budget of {limits.budget_per_window} per {limits.budget_window:g} s is spent; "
                f"retry in {wait} s.",
                headers={"Retry-After": str(wait)},
            )

    def operation_name(self, payload: Any) -> str | None:
        """The name of the operation a request runs (for metrics and logs), if it has one."""
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return None
        given = payload.get("operationName")
        prepared = self.documents.prepare(payload["query"])
        if prepared.document is None:
            return None
        operation = prepared.operation(given if isinstance(given, str) else None)
        return operation.name.value if operation is not None and operation.name else None

    async def handle(
        self,
        payload: Any,
        *,
        request_id: str,
        principal: Principal,
        method: str,
        want_trace: bool = False,
        max_age: float | None = None,
        insist_fresh: bool = False,
        timeout: float | None = None,
        phases: dict[str, float] | None = None,
        priority: str | None = None,
        document_id: str | None = None,
    ) -> tuple[dict[str, Any], set[str]]:
        """The response body, and the restricted fields the caller was denied (for the audit log).

        `priority` is the class its backend calls queue in; None: the `[budgets]` rules decide
        (by `document_id`, operation, roles). A request for fresh data (`max_age` 0, or
        `@fresh(maxAge: 0)`) past the caller's allowance runs from the caches, or, with
        `insist_fresh`, is refused (`FreshReadsSpent`).

        `phases` collects where the request's time went, in seconds: "parse_validate" and
        "execute" here, the executor's own phases inside "execute" (through `Context.spent`).
        The caller reports them to operators (`/metrics`), never in the response.
        """
        phases = {} if phases is None else phases
        started = time.perf_counter()
        try:
            query, variables, operation_name = parse_payload(payload)
            prepared: Prepared = self.documents.prepare(query)
            refusal = await self.screen(prepared, operation_name, variables, principal, method)
        finally:
            phases["parse_validate"] = phases.get("parse_validate", 0.0) + time.perf_counter() - started
        if refusal is not None:
            return refusal, set()
        operation = prepared.operation(operation_name)
        rationed: int | None = None
        if self.fresh_reads is not None and (
            max_age == 0 or asks_fresh(query, prepared.document, operation, variables)
        ):
            rationed = await self.fresh_reads.take(principal.id)
            if rationed is not None and insist_fresh:
                raise FreshReadsSpent(
                    f"Your fresh reads are spent ({self.settings.budgets.fresh_reads} per "
                    f"{self.settings.budgets.fresh_reads_window:g} s); retry in {rationed} s, or drop `only-if-fresh` "
                    "to be answered from the cache.",
                    headers={"Retry-After": str(rationed)},
                )
        if priority is None:
            priority = class_of(
                self.settings.budgets, operation=operation, document_id=document_id, roles=principal.roles
            )
        context = self.context_for(principal, request_id)
        context.phases = phases
        # A trace shows cache hits (what others looked at) and calls for refused records: policy-gated.
        recording = trace.recording() if want_trace and self.may_trace(principal) else nullcontext()
        seconds = (
            self.settings.request_timeout
            if timeout is None
            else min(timeout, self.settings.resilience.max_request_timeout)
        )
        with (
            deadline.bound(seconds),
            admission.classed(priority),
            freshness.requiring(None if rationed is not None and max_age == 0 else max_age),
            freshness.rationed() if rationed is not None else nullcontext(),
            freshness.reporting() as report,
            recording as recorded,
        ):
            executing = time.perf_counter()
            try:
                # Every backend wait already ends by the deadline; this is the net under them.
                async with asyncio.timeout(seconds + DEADLINE_MARGIN):
                    result = await self.executor.run(
                        prepared, variables=variables, operation_name=operation_name, context=context
                    )
            except TimeoutError:
                result = {
                    "errors": [
                        {
                            "message": f"The request did not finish within its deadline of {seconds:g} s.",
                            "extensions": {"code": "DEADLINE_EXCEEDED"},
                        }
                    ]
                }
            context.spent("execute", time.perf_counter() - executing)
        extensions = result.setdefault("extensions", {})
        extensions["freshness"] = report.as_json()
        if rationed is not None:
            extensions["freshReads"] = {"spent": True, "retryAfter": rationed}
        if recorded is not None:
            extensions["trace"] = recorded.as_json()
        return result, context.denied

    async def subscribe(
        self, payload: Any, *, request_id: str, principal: Principal
    ) -> dict[str, Any] | AsyncGenerator[dict[str, Any], None]:
        """A subscription over a streaming transport (server/subscriptions.py): the answer when it
        cannot start (errors), else its stream of responses, one per event."""
        query, variables, operation_name = parse_payload(payload)
        prepared: Prepared = self.documents.prepare(query)
        refusal = await self.screen(prepared, operation_name, variables, principal, "POST", streaming=True)
        if refusal is not None:
            return refusal
        if not prepared.is_subscription(operation_name):
            raise BadRequest("Only subscriptions are served here; send queries and mutations to POST /graphql.")
        context = self.context_for(principal, request_id)
        with deadline.bound(self.settings.request_timeout):
            return await self.executor.subscribe(
                prepared,
                variables=variables,
                operation_name=operation_name,
                context=context,
                context_for_event=lambda: self.context_for(principal, request_id),
                timeout=self.settings.request_timeout,
            )

    async def screen(
        self,
        prepared: Prepared,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        principal: Principal,
        method: str,
        *,
        streaming: bool = False,
    ) -> dict[str, Any] | None:
        """The answer to a request that must not run (invalid, or refused by demand control), or None.

        A request the client got wrong in HTTP terms (no such operation, a mutation over GET, a
        subscription without a streaming transport) raises `BadRequest`.
        """
        if prepared.errors:
            return {"errors": list(prepared.errors)}
        if prepared.operation(operation_name) is None:
            raise BadRequest(
                f"Operation {operation_name!r} is not in the document."
                if operation_name
                else "The document has several operations; name one in `operationName`."
            )
        if prepared.is_subscription(operation_name) and not streaming:
            raise BadRequest(
                "Subscriptions are served over a WebSocket (graphql-transport-ws, at /graphql) or as server-sent "
                "events (graphql-sse: POST /graphql with `Accept: text/event-stream`)."
            )
        if method == "GET" and not prepared.is_query(operation_name):
            raise MethodNotAllowed("Only queries may be sent with GET; use POST for mutations.")
        try:
            await self.check_demand(prepared, operation_name, variables, principal)
        except Refused as refused:
            return {"errors": [{"message": str(refused), "extensions": {"code": refused.code}}]}
        return None


def requested_max_age(cache_control: str | None) -> float | None:
    """`Cache-Control: no-cache` or `max-age=N` from the client: how old data may be, in seconds."""
    if not cache_control:
        return None
    wanted: float | None = None
    for directive in cache_control.lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name in ("no-cache", "no-store"):
            return 0.0
        if name == "max-age":
            try:
                wanted = max(0.0, float(value))
            except ValueError:
                raise BadRequest(f"Cache-Control max-age must be a number of seconds, got {value!r}.") from None
    return wanted


def requested_timeout(value: str | None) -> float | None:
    """`X-Request-Timeout: 2.5`: the client's deadline for this request, in seconds."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise BadRequest(f"X-Request-Timeout must be a number of seconds, got {value!r}.") from None
    if not 0 < seconds < float("inf"):
        raise BadRequest("X-Request-Timeout must be a positive number of seconds.")
    return seconds


def parse_payload(payload: Any) -> tuple[str, dict[str, Any] | None, str | None]:
    if isinstance(payload, list):
        raise BadRequest(
            "Batched requests (a JSON array of operations) are not accepted; send one operation per request."
        )
    if not isinstance(payload, dict):
        raise BadRequest("The request body must be a JSON object with a `query` string.")
    query = payload.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("The request has no `query` string.")
    variables = payload.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("`variables` must be a JSON object.")
    operation_name = payload.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest("`operationName` must be a string.")
    return query, variables, operation_name
