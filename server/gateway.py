"""The gateway's request path, independent of HTTP: document, limits, context, execution.

`Gateway` owns what outlives a request (settings, sources, cached documents) and
runs one GraphQL request: it resolves the document, builds the request's
context and loaders, applies the deadline and freshness budget, and executes.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import orjson
from cachetools import LRUCache

import schema
from policies import Authorizer
from policies.derivations import Derivation
from resolvers.approvals import RulesFile
from resolvers.context import Context, Principal
from resolvers.loaders import Loaders
from schema import demand
from schema.executor import Executor, Prepared
from server.auth import Authenticator
from server.budget import CostBudget
from server.errors import (
    BadRequest,
    IntrospectionDisabled,
    MethodNotAllowed,
    QueryTooComplex,
    QueryTooDeep,
    RateLimited,
    Refused,
    TooManyAliases,
    TooManyFields,
    TooManyRootFields,
)
from server.policy_sync import PolicySync
from server.settings import BackendSettings, Settings
from sources import BackendClient, Backends, ClmSource, CrmSource, DeskSource, ErpSource, deadline, freshness, trace
from sources.breaker import CircuitBreaker
from sources.cache import CachePolicy
from sources.redis_link import RedisLink
from sources.shared_cache import SharedCache


def build_redis(settings: Settings) -> RedisLink | None:
    conf = settings.redis
    if not conf.url:
        return None
    return RedisLink(conf.url.get_secret_value(), prefix=conf.prefix, timeout=conf.timeout, retry_after=conf.retry_after)


def build_backends(settings: Settings, redis: RedisLink | None = None) -> Backends:
    resilience = settings.resilience
    shared = SharedCache(redis) if redis is not None and settings.redis.source_cache else None
    policy = (
        CachePolicy(ttl=settings.cache.ttl, grace=settings.cache.grace, max_entries=settings.cache.max_entries, shared=shared)
        if settings.cache.enabled
        else None
    )

    def client(name: str, conf: BackendSettings) -> BackendClient:
        return BackendClient(
            name,
            conf.url,
            timeout=conf.timeout,
            connect_timeout=conf.connect_timeout,
            max_connections=conf.max_connections,
            transport=settings.http_transport,
            retries=resilience.retries,
            breaker=CircuitBreaker(
                name,
                threshold=resilience.breaker_threshold,
                window=resilience.breaker_window,
                cooldown=resilience.breaker_cooldown,
                enabled=resilience.breaker,
            ),
        )

    return Backends(
        crm=CrmSource(client("CRM", settings.crm), policy),
        erp=build_erp(settings, client, policy),
        clm=ClmSource(client("CLM", settings.clm), policy),
        desk=DeskSource(client("DESK", settings.desk), policy),
    )


def build_erp(settings: Settings, client: Any, policy: CachePolicy | None) -> ErpSource:
    """The ERP source `erp_kind` names: the demo REST ERP, or Tryton over JSON-RPC."""
    if settings.erp_kind != "tryton":
        return ErpSource(client("ERP", settings.erp), policy)
    from sources.tryton import TrytonSource

    conf = settings.tryton
    return TrytonSource(  # type: ignore[return-value]  # the same batch methods and records
        client("ERP", conf),
        policy,
        database=conf.database,
        user=conf.user,
        password=conf.password.get_secret_value() if conf.password else None,
        language=conf.language,
        party_ref=conf.party_ref,
        party_code_prefix=conf.party_code_prefix,
    )


log = logging.getLogger("isthmus.gateway")

DEADLINE_MARGIN = 0.25
TRACE_HEADER = "x-isthmus-trace"
TIMEOUT_HEADER = "x-request-timeout"


def error_body(message: str, code: str) -> bytes:
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})


def build_authorizer(policy_dir: Path | None = None) -> Authorizer:
    """The policy files (the shipped ones by default) with the schema's declared derivations."""
    derivations = {field: Derivation(*spec) for field, spec in schema.derivations().items()}
    if policy_dir is None:
        return Authorizer(derivations=derivations)
    return Authorizer(policy_dir / "model.conf", policy_dir / "policy.csv", derivations=derivations)


class Gateway:
    """Everything a request needs that outlives it: settings, sources, cached documents."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = build_redis(settings)
        self.backends = build_backends(settings, self.redis)
        self.schema = schema.subgraph if settings.federation.enabled else schema.public
        self.executor = Executor(
            self.schema, document_cache_size=settings.document_cache_size,
            max_tokens=settings.limits.max_tokens,
            max_fields=settings.limits.max_fields,
        )
        self.authenticator = Authenticator(settings.auth)
        self.budget = CostBudget(settings.limits.budget_per_window, settings.limits.budget_window, shared=self.redis)
        self._shapes: LRUCache[tuple[int, str | None], tuple[Prepared, demand.Shape]] = LRUCache(maxsize=settings.document_cache_size)
        self.authorizer = build_authorizer(Path(settings.policy_dir) if settings.policy_dir else None)
        self.approval_rules = RulesFile(settings.approval_rules)
        self.policy_sync = PolicySync(self.redis, self.authorizer, settings.redis.timeout) if self.redis else None
        self._listening: asyncio.Task[None] | None = None
        if not settings.auth.enabled:
            log.warning("authorisation is OFF (auth.enabled = false): every caller sees every field and customer")

    def context_for(self, principal: Principal, request_id: str) -> Context:
        """The request's context: its loaders, and the policy's decisions for this caller."""
        loaders = Loaders(self.backends, batching=self.settings.batching)
        if not self.settings.auth.enabled:
            return Context(principal=principal, loaders=loaders, request_id=request_id, approval_rules=self.approval_rules)
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
            scope=authorizer.scope(roles),
        )

    def may_trace(self, principal: Principal) -> bool:
        """`X-Isthmus-Trace` is honoured for roles the policy grants `debug:trace` (everyone with auth off)."""
        return not self.settings.auth.enabled or self.authorizer.may_trace(principal.roles)

    async def start(self) -> None:
        """Background work of a running gateway: listening for other replicas' policy reloads."""
        if self.policy_sync is not None:
            self._listening = asyncio.create_task(self.policy_sync.listen())

    async def aclose(self) -> None:
        if self._listening is not None:
            self._listening.cancel()
            await asyncio.gather(self._listening, return_exceptions=True)
        if self.policy_sync is not None:
            await self.policy_sync.aclose()
        await self.backends.aclose()
        if self.redis is not None:
            await self.redis.aclose()

    async def check_demand(
        self, prepared: Prepared, operation_name: str | None, variables: dict[str, Any] | None, principal: Principal
    ) -> None:
        """Refuse what is too deep, wide or expensive, and charge the caller's budget: all before any backend call."""
        limits = self.settings.limits
        operation = prepared.operation(operation_name)
        key = (id(prepared), operation_name)
        cached = self._shapes.get(key)
        if cached is None or cached[0] is not prepared:
            cached = self._shapes[key] = (prepared, demand.measure(prepared.document, operation))
        shape = cached[1]
        for measured, limit, error, what in (
            (shape.depth, limits.max_depth, QueryTooDeep, "nested"),
            (shape.aliases, limits.max_aliases, TooManyAliases, "aliases"),
            (shape.root_fields, limits.max_root_fields, TooManyRootFields, "root fields"),
            (shape.fields, limits.max_fields, TooManyFields, "fields (fragments expanded)"),
        ):
            if measured > limit:
                raise error(f"The operation has {measured} {what}; at most {limit} are allowed.")
        if shape.introspection and limits.introspection_roles is not None:
            if not set(principal.roles) & set(limits.introspection_roles):
                raise IntrospectionDisabled("Introspection is not enabled for your role.")
        estimated = demand.cost(self.schema, prepared.document, operation, variables)
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
        prepared = self.executor.prepare(payload["query"])
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
        timeout: float | None = None,
    ) -> tuple[dict[str, Any], set[str]]:
        """The response body, and the restricted fields the caller was denied (for the audit log)."""
        query, variables, operation_name = parse_payload(payload)
        prepared: Prepared = self.executor.prepare(query)
        if prepared.errors:
            return {"errors": list(prepared.errors)}, set()
        if prepared.operation(operation_name) is None:
            raise BadRequest(
                f"Operation {operation_name!r} is not in the document." if operation_name
                else "The document has several operations; name one in `operationName`."
            )
        if method == "GET" and not prepared.is_query(operation_name):
            raise MethodNotAllowed("Only queries may be sent with GET; use POST for mutations.")
        try:
            await self.check_demand(prepared, operation_name, variables, principal)
        except Refused as refused:
            return {"errors": [{"message": str(refused), "extensions": {"code": refused.code}}]}, set()
        context = self.context_for(principal, request_id)
        # A trace shows cache hits (what others looked at) and calls for refused records: policy-gated.
        recording = trace.recording() if want_trace and self.may_trace(principal) else nullcontext()
        seconds = self.settings.request_timeout if timeout is None else min(timeout, self.settings.resilience.max_request_timeout)
        with deadline.bound(seconds), freshness.requiring(max_age), freshness.reporting() as report, recording as recorded:
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
        extensions = result.setdefault("extensions", {})
        extensions["freshness"] = report.as_json()
        if recorded is not None:
            extensions["trace"] = recorded.as_json()
        return result, context.denied


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
        raise BadRequest("Batched requests (a JSON array of operations) are not accepted; send one operation per request.")
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
