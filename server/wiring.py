"""Wiring: what a running gateway is built from, in one place.

`Services` builds, from the settings, everything that outlives a request: Redis,
the sources, the schema and its executor, authentication, the cost budget, the
policy and the approval rules, the idempotency keys of writes, the policy's sync,
the cache invalidations between replicas, and the change events with the subscriptions
they feed; `start` and `aclose` run and end what works in the background. The request pipeline
(`server/gateway.py`) and the HTTP routes (`server/http.py`) use them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import schema
from policies import Authorizer
from policies.derivations import Derivation
from resolvers.approvals import RulesFile
from resolvers.live import Live
from schema import demand
from schema.executor import Executor
from server.auth import Authenticator
from server.budget import CostBudget
from server.changes import ChangeEvents, SeenEvents
from server.policy_sync import PolicySync
from server.settings import BackendSettings, Settings
from sources import BackendClient, Backends, ClmSource, CrmSource, DeskSource, ErpSource, MesSource, SrmSource
from sources.admission import DEFAULT_MAX_WAIT, DEFAULT_SHARES, AdaptiveLimit, Budget
from sources.breaker import CircuitBreaker
from sources.cache import CachePolicy
from sources.idempotency import IdempotencyStore
from sources.invalidation import Invalidation
from sources.kinds import ErpBackend
from sources.redis_link import RedisLink
from sources.shared_budget import SharedBudget, lease_seconds
from sources.shared_cache import SharedCache

log = logging.getLogger("isthmus.gateway")


def build_redis(settings: Settings) -> RedisLink | None:
    conf = settings.redis
    if not conf.url:
        return None
    return RedisLink(
        conf.url.get_secret_value(), prefix=conf.prefix, timeout=conf.timeout, retry_after=conf.retry_after
    )


def build_backends(settings: Settings, redis: RedisLink | None = None) -> Backends:
    resilience = settings.resilience
    shared = SharedCache(redis) if redis is not None and settings.redis.source_cache else None
    policy = (
        CachePolicy(
            ttl=settings.cache.ttl,
            grace=settings.cache.grace,
            max_entries=settings.cache.max_entries,
            max_bytes=settings.cache.max_bytes,
            shared=shared,
        )
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
            budget=build_budget(settings, name, conf, redis),
        )

    backends = Backends(
        crm=CrmSource(client("CRM", settings.crm), policy),
        erp=build_erp(settings, client, policy),
        clm=ClmSource(client("CLM", settings.clm), policy),
        desk=DeskSource(client("DESK", settings.desk), policy),
        srm=SrmSource(client("SRM", settings.srm), policy),
        mes=MesSource(client("MES", settings.mes), policy),
        invalidation=Invalidation(policy, redis, settings.redis.timeout),
    )
    for source in backends.all():
        source.invalidation = backends.invalidation
    return backends


def build_budget(settings: Settings, name: str, conf: BackendSettings, redis: RedisLink | None) -> Budget | None:
    """The backend's budget (sources/admission.py), one across replicas when Redis is configured
    (sources/shared_budget.py); each replica keeps to its share (1/`budgets.replicas`) while Redis is away."""
    budgets, own = settings.budgets, conf.budget
    if not budgets.enabled:
        return None
    adaptive = AdaptiveLimit(own.max_concurrent, minimum=own.min_concurrent) if own.adaptive else None
    return Budget(
        name,
        own.max_concurrent,
        own.max_rate,
        max_wait={**DEFAULT_MAX_WAIT, **{str(klass): wait for klass, wait in budgets.max_wait.items()}},
        shares={**DEFAULT_SHARES, **{str(klass): share for klass, share in budgets.shares.items()}},
        adaptive=adaptive,
        shared=SharedBudget(
            redis, name, rate=own.max_rate, lease=lease_seconds(conf.timeout), replicas=budgets.replicas
        )
        if redis is not None
        else None,
    )


def build_erp(
    settings: Settings, client: Callable[[str, BackendSettings], BackendClient], policy: CachePolicy | None
) -> ErpBackend:
    """The ERP source `erp_kind` names: the demo REST ERP, or Tryton over JSON-RPC."""
    if settings.erp_kind != "tryton":
        return ErpSource(client("ERP", settings.erp), policy)
    from sources.tryton import TrytonSource

    conf = settings.tryton
    return TrytonSource(
        client("ERP", conf),
        policy,
        database=conf.database,
        user=conf.user,
        password=conf.password.get_secret_value() if conf.password else None,
        language=conf.language,
        party_ref=conf.party_ref,
        party_code_prefix=conf.party_code_prefix,
    )


def build_authorizer(policy_dir: Path | None = None) -> Authorizer:
    """The policy files (the shipped ones by default) with the schema's declared derivations."""
    derivations = {field: Derivation(*spec) for field, spec in schema.derivations().items()}
    if policy_dir is None:
        return Authorizer(derivations=derivations)
    return Authorizer(policy_dir / "model.conf", policy_dir / "policy.csv", derivations=derivations)


class Services:
    """Everything a request needs that outlives it, built from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = build_redis(settings)
        self.backends = build_backends(settings, self.redis)
        self.schema = schema.subgraph if settings.federation.enabled else schema.public
        self.executor = Executor(
            self.schema,
            document_cache_size=settings.document_cache_size,
            plans=settings.plans,
            plan_cache_size=settings.plan_cache_size,
            max_tokens=settings.limits.max_tokens,
            limits=demand.Limits(
                depth=settings.limits.max_depth,
                aliases=settings.limits.max_aliases,
                root_fields=settings.limits.max_root_fields,
                fields=settings.limits.max_fields,
            ),
        )
        self.authenticator = Authenticator(settings.auth)
        self.budget = CostBudget(settings.limits.budget_per_window, settings.limits.budget_window, shared=self.redis)
        self.authorizer = build_authorizer(Path(settings.policy_dir) if settings.policy_dir else None)
        self.approval_rules = RulesFile(settings.approval_rules)
        self.policy_sync = PolicySync(self.redis, self.authorizer, settings.redis.timeout) if self.redis else None
        self.idempotency = IdempotencyStore(
            self.redis,
            keep=settings.idempotency.keep,
            lease=settings.idempotency.lease,
            max_local=settings.idempotency.max_keys,
        )
        subscriptions = settings.subscriptions
        self.live = Live(
            self.backends,
            queue_size=subscriptions.queue_size,
            max_per_principal=subscriptions.max_per_principal,
            coalesce=subscriptions.coalesce,
            memory=subscriptions.memory,
            timeout=settings.request_timeout,
        )
        self.seen_events = SeenEvents(self.redis, settings.events.keep, settings.events.max_ids)
        self.changes = ChangeEvents(self.backends.invalidation, self.live, self.redis, settings.redis.timeout)
        self._listening: list[asyncio.Task[None]] = []
        if not settings.auth.enabled:
            log.warning("authorisation is OFF (auth.enabled = false): every caller sees every field and customer")

    async def start(self) -> None:
        """Background work of a running gateway: listening for other replicas' policy reloads and writes."""
        if self.policy_sync is not None:
            self._listening.append(asyncio.create_task(self.policy_sync.listen()))
        self._listening.append(asyncio.create_task(self.backends.invalidation.listen()))
        self._listening.append(asyncio.create_task(self.changes.listen()))
        self._listening.append(asyncio.create_task(self.live.run()))

    async def aclose(self) -> None:
        for task in self._listening:
            task.cancel()
        await asyncio.gather(*self._listening, return_exceptions=True)
        if self.policy_sync is not None:
            await self.policy_sync.aclose()
        await self.backends.invalidation.aclose()
        await self.changes.aclose()
        await self.backends.aclose()
        if self.redis is not None:
            await self.redis.aclose()
